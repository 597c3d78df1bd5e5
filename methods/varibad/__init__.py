"""VariBAD (Zintgraf et al. 2020): recurrent VAE task belief + belief-conditioned PPO policy over
k-episode trials, with the shared PPO (:mod:`methods.common.ppo`). Importing registers ``varibad``."""

from methods.varibad.config import VaribadConfig
from methods.varibad.method import Varibad

__all__ = ["Varibad", "VaribadConfig"]
