"""RL2 (Duan et al. 2016): recurrent policy over k-episode trials trained with the shared PPO
(:mod:`methods.common.ppo`). Importing registers ``rl2``."""

from methods.rl2.config import RL2Config
from methods.rl2.method import RL2

__all__ = ["RL2", "RL2Config"]
