"""Reference baselines: ``random`` (uniform actions), ``sac-mt`` (multi-task SAC without task information,
the floor) and ``sac-oracle`` (SAC that sees the true task, the ceiling). Importing registers all three."""

from methods.baselines.random_policy import RandomConfig, RandomMethod
from methods.baselines.sac_mt import SacMtConfig, SacMultiTask, SacOracle, SacOracleConfig, with_current_task

__all__ = [
    "RandomConfig", "RandomMethod", "SacMtConfig", "SacMultiTask", "SacOracle", "SacOracleConfig",
    "with_current_task",
]
