"""``harness sweep``: Optuna hyperparameter search for one method over suites and seeds.

Each trial samples config overrides from the method's search space, trains one run per (suite, seed) under
the profile's budget, reports every evaluation to the pruner, and scores the IQM over seeds of the final
evaluation (normalized against a random policy when several suites are swept). Running the command again
adds ``--trials`` trials to the stored study. ``--export-best FILE`` writes the best trial's overrides as a
YAML that ``harness run --hparams FILE`` reads.

Examples::

    harness sweep --suite point-goal --method sac-mt --trials 20 --seeds 0,1 --profile quick
    harness sweep --suite point-goal --method sac-mt --export-best best.yaml
    harness sweep ... --storage postgresql+psycopg2://user:pw@db-host/optuna --workers 4
    optuna-dashboard results/sweeps/point-goal-sac-mt/study.journal
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli.errors import error_text
from harness.cli.paths import writable_dir, writable_file
from harness.cli.run_cmd import parse_budget, parse_seeds
from harness.config import ConfigError, method_config, sets_for_method
from harness.context import resolve_device
from harness.profiles import PROFILES
from harness.registry import get_method, get_suite, load_plugins, resolve_suites


def add_parser(sub: Any) -> None:
    """Register ``harness sweep`` on the subcommand parsers."""
    p = sub.add_parser(
        "sweep", help="Optuna hyperparameter sweep of one method (pruning, resumable studies)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--suite", required=True, help="suite or group names, comma-separated")
    p.add_argument("--method", required=True, help="the method to tune")
    p.add_argument("--trials", type=int, default=10, help="trials to add to the study (default 10)")
    p.add_argument("--seeds", default="0,1", help="seeds of every trial (default 0,1)")
    p.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                   help="budget profile (default quick)")
    p.add_argument("--budget", default=None, help="env steps per run (default: the profile's)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (sqlite:///f.db, postgresql+psycopg2://...); "
                        "default: a journal file in the sweep directory")
    p.add_argument("--study", default=None, help="study name (default <suites>-<method>)")
    p.add_argument("--out", default=None, help="sweep directory (default results/sweeps/<study>)")
    p.add_argument("--pruner", default="median", choices=("median", "hyperband", "none"))
    p.add_argument("--workers", type=int, default=1, help="trial processes sharing the study (default 1)")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local processes, or one Ray task per worker on the cluster at RAY_ADDRESS")
    p.add_argument("--set", dest="sets", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="fixed config overrides for every trial")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--sampler-seed", type=int, default=None, help="seed of the TPE sampler")
    p.add_argument("--eval-every", type=int, default=None, metavar="N",
                   help="env steps between evaluations, each reported to the pruner (default: the profile's)")
    p.add_argument("--export-best", default=None, metavar="FILE",
                   help="write the best trial's overrides to FILE (for harness run --hparams) and exit")
    p.add_argument("--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
                   help="import MODULE (or FILE.py) first; it may register suites and methods")
    p.set_defaults(func=sweep_command)


def build_spec(args: argparse.Namespace) -> Any:
    """Check the arguments and build the :class:`harness.sweeps.SweepSpec`."""
    from harness.sweeps import SweepSpec

    load_plugins(args.plugins)
    suites = tuple(s.name for s in resolve_suites(args.suite))
    method_cls = get_method(args.method)
    fixed = sets_for_method(args.sets, args.method)
    for suite in suites:  # unknown keys and out-of-range values fail here, before any trial
        method_config(method_cls, get_suite(suite), args.profile, sets=fixed)
    resolve_device(args.device)
    budget = parse_budget(args.budget)
    if isinstance(budget, str):
        raise ValueError("--budget published is not supported by sweeps; give a number of env steps")
    if not 0 <= args.trials <= 100_000 or not 1 <= args.workers <= 1024:
        raise ValueError(f"--trials must be in 0..100000 and --workers in 1..1024, got {args.trials}, "
                         f"{args.workers}")
    study = args.study or f"{'+'.join(suites) if len(suites) <= 3 else args.suite}-{args.method}"
    out = args.out or str(Path("results") / "sweeps" / study)
    if args.export_best is not None:
        writable_file(args.export_best, "--export-best")
    return SweepSpec(
        suites=suites, method=args.method, seeds=tuple(parse_seeds(args.seeds)), out=out, study=study,
        storage=args.storage, profile=args.profile, budget=budget, pruner=args.pruner, sets=tuple(args.sets),
        device=args.device, plugins=tuple(args.plugins), sampler_seed=args.sampler_seed,
        eval_every=args.eval_every,
    )


def sweep_command(args: argparse.Namespace) -> int:
    """``harness sweep``: run trials (or export the best) and print the trials table."""
    from harness import sweeps

    try:
        spec = build_spec(args)
        if args.export_best is None:
            get_method(spec.method).search_space(_ProbeTrial())
    except (ConfigError, KeyError, ValueError, NotImplementedError) as err:
        print(f"harness sweep: error: {error_text(err)}", file=sys.stderr)
        return 2
    if args.export_best is not None:
        try:
            study = sweeps.load_study(spec, create=False)
            overrides = sweeps.export_best(study, spec.method, args.export_best)
        except (KeyError, ValueError) as err:
            print(f"harness sweep: error: {error_text(err)}", file=sys.stderr)
            return 2
        print(f"best trial {study.best_trial.number} (objective {study.best_value:.6g}): {overrides}")
        print(f"written to {args.export_best}; use: harness run ... --hparams {args.export_best}")
        return 0
    if spec.storage:  # a bad or unreachable --storage fails before the sweep directory is created
        sweeps.load_study(spec)
    writable_dir(spec.out, "--out")
    print(f"harness sweep: study {spec.study!r} in {spec.storage or spec.out + '/study.journal'}")
    if args.executor == "ray":
        from harness.executors_ray import run_sweep_on_ray

        study = run_sweep_on_ray(spec, args.trials, args.workers)
    else:
        study = sweeps.run_sweep(spec, args.trials, args.workers)
    print(sweeps.trials_table(study))
    try:
        print(f"\nbest trial {study.best_trial.number}: {study.best_value:.6g} "
              f"{sweeps.best_overrides(study)}")
    except ValueError:
        print("\nno trial completed (all pruned or failed)")
    print(f"results: {spec.out}  (harness report {spec.out})")
    return 0


class _ProbeTrial:
    """A stand-in trial that returns each range's low end: checks a search space exists and runs."""

    number = -1

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        return low

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return next(iter(choices))
