"""Meta-World ML1 suites (metaworld 3.x v3 envs, v1 and v2 rewards); importing registers them."""

from suites.metaworld.ml1 import ML1_SUITES, MetaWorldEnv, MetaWorldTask, ML1Suite, ml1_tasks

__all__ = ["ML1_SUITES", "ML1Suite", "MetaWorldEnv", "MetaWorldTask", "ml1_tasks"]
