"""Learning blocks shared by several methods (never copied between method packages).

* :mod:`methods.common.nets`: ``mlp``, ``EnsembleLinear``/``ensemble_mlp``, weight-init helpers.
* :mod:`methods.common.replay`: ``ReplayBuffer``, ``MultiTaskReplay``, ``TransitionBatch``,
  ``SequenceBatch`` (transition storage with episode/trial boundaries for context windows).
* :mod:`methods.common.sac`: ``SACConfig``, ``TanhGaussianActor``, ``TwinQ``, ``SAC`` (modern twin-Q SAC
  with learned temperature, exposed as composable loss pieces and a fused standard ``update``).

Other shared modules here (PPO, trial batches, recurrent cores, running statistics) document themselves.
"""
