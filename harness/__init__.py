"""metarl-harness: a benchmark and evaluation harness for meta-reinforcement learning."""

__version__ = "0.1.0"
