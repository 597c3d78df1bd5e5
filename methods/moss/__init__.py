"""MoSS: context-based meta-RL with a Gaussian-mixture recurrent VAE task encoder (self-supervised, with
InfoNCE), online belief updates and a Bayes-adaptive SAC policy (Wang, Bing et al., AAAI 2023).

Registers ``moss`` and the ablations ``moss-no-gmm``, ``moss-no-contrastive``, ``moss-traj`` and
``moss-ps`` (same class, different switch defaults in the config).
"""

from methods.moss.config import (
    MossConfig,
    MossNoContrastiveConfig,
    MossNoGmmConfig,
    MossPsConfig,
    MossTrajConfig,
)
from methods.moss.method import Moss, MossNoContrastive, MossNoGmm, MossPs, MossTraj

__all__ = [
    "Moss",
    "MossConfig",
    "MossNoContrastive",
    "MossNoContrastiveConfig",
    "MossNoGmm",
    "MossNoGmmConfig",
    "MossPs",
    "MossPsConfig",
    "MossTraj",
    "MossTrajConfig",
]
