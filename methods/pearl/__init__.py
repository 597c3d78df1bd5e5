"""PEARL: probabilistic embeddings for actor-critic meta-RL (Rakelly et al., ICML 2019), after oyster.

Registers ``pearl``. See ``README.md`` in this package for the method, its settings and its deviations.
"""

from methods.pearl.config import PearlConfig
from methods.pearl.method import Pearl

__all__ = ["Pearl", "PearlConfig"]
