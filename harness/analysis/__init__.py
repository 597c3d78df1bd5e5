"""Pure statistics over results: per-run scores, rliable aggregates with stratified bootstrap CIs,
probability of improvement, performance profiles, normalization, sample-efficiency and adaptation curves,
non-stationary tracking and belief projections.

Conventions: score matrices are ``{method: array[runs, tasks]}`` with runs = seeds and tasks = suites; a
run's score on a suite is the mean over its test tasks (evaluation episodes are never runs). Every function
drawing random numbers takes a ``numpy.random.Generator``.
"""

from harness.analysis.curves import (
    adaptation_curves,
    first_crossing,
    sample_efficiency_curves,
    steps_to_threshold,
)
from harness.analysis.nonstationary import (
    aggregate_over_seeds,
    aligned_to_switches,
    belief_keys,
    belief_probe_error,
    belief_projections,
    pca_2d,
    switch_times,
)
from harness.analysis.results import Results, load_results
from harness.analysis.scores import (
    area_under_curve,
    auc_scores,
    episode_scores,
    final_scores,
    normalize,
    reference_scores,
    run_curves,
    run_scores,
    score_dict,
    select_episode,
    success_rates,
)
from harness.analysis.stats import (
    AGGREGATES,
    DEFAULT_REPS,
    Estimate,
    Profile,
    aggregate_estimates,
    bootstrap_resamples,
    interval_estimate,
    iqm,
    mean,
    median,
    optimality_gap,
    pairwise_improvement,
    performance_profiles,
    probability_of_improvement,
    probability_of_improvement_ci,
    score_distribution,
)

__all__ = [
    "AGGREGATES",
    "DEFAULT_REPS",
    "Estimate",
    "Profile",
    "Results",
    "adaptation_curves",
    "aggregate_estimates",
    "aggregate_over_seeds",
    "aligned_to_switches",
    "area_under_curve",
    "auc_scores",
    "belief_keys",
    "belief_probe_error",
    "belief_projections",
    "bootstrap_resamples",
    "episode_scores",
    "final_scores",
    "first_crossing",
    "interval_estimate",
    "iqm",
    "load_results",
    "mean",
    "median",
    "normalize",
    "optimality_gap",
    "pairwise_improvement",
    "pca_2d",
    "performance_profiles",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "reference_scores",
    "run_curves",
    "run_scores",
    "sample_efficiency_curves",
    "score_dict",
    "score_distribution",
    "select_episode",
    "steps_to_threshold",
    "success_rates",
    "switch_times",
]
