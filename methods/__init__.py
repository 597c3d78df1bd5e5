"""Meta-RL methods and baselines; one package per method, shared learning blocks in :mod:`methods.common`.

Each method package registers itself with :func:`harness.registry.register_method` when imported; the
registry imports the built-in packages lazily (``harness.registry.BUILTIN_METHOD_MODULES``).
"""
