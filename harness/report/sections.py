"""The report's content: sections of HTML blocks and Plotly figures, computed from a results directory.

Each section says what it shows and, when data is missing (no reference methods, one episode per trial,
no traces), what is missing instead of failing. The same figures feed the static export.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from harness.analysis import curves as acurves
from harness.analysis import nonstationary as ns
from harness.analysis import scores as ascores
from harness.analysis import stats
from harness.analysis.results import Results
from harness.analysis.table import compare
from harness.analysis.tasks import DEFAULT_MAX_TASKS, split_by_task
from harness.report import figures
from harness.report.tables import format_number, to_html

#: Fraction of the best final score used by the "steps to reach" view.
STEPS_FRACTION = 0.8


@dataclass
class Block:
    """A piece of a section: raw HTML or a figure (``name`` identifies it for the static export)."""

    html: str = ""
    figure: go.Figure | None = None
    name: str = ""
    static: bool = False


@dataclass
class Section:
    """A titled part of the report."""

    key: str
    title: str
    intro: str
    blocks: list[Block] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Add a highlighted remark (typically: what is missing)."""
        self.blocks.append(Block(html=f"<p class='note'>{html.escape(text)}</p>"))

    def add_html(self, text: str) -> None:
        self.blocks.append(Block(html=text))

    def add_figure(self, fig: go.Figure, name: str, static: bool = False) -> None:
        self.blocks.append(Block(figure=fig, name=name, static=static))


@dataclass
class Context:
    """Shared inputs of the section builders."""

    results: Results
    rng: np.random.Generator
    reps: int
    colours: dict[str, str]
    scores: pd.DataFrame
    normalized: pd.DataFrame
    references: dict[str, tuple[float, float]]


def _frame_html(df: pd.DataFrame, classes: str = "data") -> str:
    return str(
        df.to_html(index=False, classes=classes, border=0, escape=True, na_rep="", float_format="%.4g")
    )


def _estimate_rows(values: dict[str, dict[str, stats.Estimate]]) -> pd.DataFrame:
    rows = []
    for m, ests in values.items():
        for metric, e in ests.items():
            rows.append(
                {
                    "method": m,
                    "metric": metric,
                    "estimate": e.point,
                    "CI low": e.lo,
                    "CI high": e.hi,
                    "runs": e.n_runs,
                }
            )
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------- sections


def overview(ctx: Context) -> Section:
    r = ctx.results
    sec = Section(
        "overview",
        "Overview",
        "IQM over seeds of each run's final score (mean over test tasks of the last episode of the final "
        "evaluation trial), with 95% stratified bootstrap CIs. Runs are seeds; test tasks and episodes "
        "are averaged inside a run.",
    )
    usable, total = len(r.usable), len(r.runs)
    sec.add_html(
        f"<p><b>{total}</b> run directories: <b>{usable}</b> usable, "
        f"<b>{total - usable}</b> failed, unfinished "
        f"or unreadable (see <a href='#health'>run health</a>). Suites: {html.escape(', '.join(r.suites))}. "
        f"Methods: {html.escape(', '.join(r.methods))}. Seeds: {', '.join(map(str, r.seeds))}.</p>"
    )
    if r.strays:
        sec.note(f"{len(r.strays)} stray folder(s) that are not runs written by the harness were not read "
                 "(listed under run health).")
    missing = r.missing()
    if missing:
        sec.note(
            f"{len(missing)} suite x method x seed combinations have no run directory: "
            + ", ".join(f"{s}/{m}/seed={k}" for s, m, k in missing[:20])
            + (" ..." if len(missing) > 20 else "")
        )
    if r.evals.empty:
        sec.note("No usable run yet: nothing to aggregate.")
        return sec
    oracles = r.task_seeing_methods
    sec.add_html(to_html(compare(r.evals, ctx.rng, reps=ctx.reps, exclude_from_best=oracles)))
    if ctx.references:
        sec.add_html(to_html(compare(r.evals, ctx.rng, normalized=True, reps=ctx.reps,
                                     exclude_from_best=oracles)))
    else:
        problems = ascores.reference_problems(ctx.scores)
        sec.note(
            "No normalized table (random = 0, oracle = 1): "
            + "; ".join(f"{suite}: {why}" for suite, why in problems.items())
        )
    per_task = _per_task_evals(r.evals)
    if not per_task.empty:
        sec.add_html(
            f"<h3>Per test task</h3><p>Suites with 2 to {DEFAULT_MAX_TASKS} test tasks, one column per task "
            "(the table above averages them: a policy that runs one way only can score like one that runs "
            "both ways slowly). Same statistic as above; <code>harness compare --per-task</code>.</p>"
            + to_html(compare(per_task, ctx.rng, reps=ctx.reps, exclude_from_best=oracles))
        )
    success = ascores.success_rates(ctx.scores, ctx.rng, ctx.reps)
    if not success.empty:
        sec.add_html(
            "<h3>Success rates</h3><p>Mean over seeds of the fraction of test tasks solved (success at "
            "any step of the episode), 95% CI.</p>" + _frame_html(success)
        )
    return sec


def _per_task_evals(evals: pd.DataFrame) -> pd.DataFrame:
    """Rows of the suites with 2 to :data:`DEFAULT_MAX_TASKS` test tasks, one suite name per task."""
    split, _ = split_by_task(evals, min_tasks=2)
    return split[~split["suite"].isin(set(evals["suite"].astype(str)))]  # split suites were renamed


def aggregates(ctx: Context) -> Section:
    sec = Section(
        "aggregate",
        "Aggregate performance",
        "Normalized scores (per suite: random = 0, oracle = 1) aggregated over suites and seeds "
        "(rliable IQM, median, mean, optimality gap with stratified bootstrap 95% CIs).",
    )
    if ctx.normalized.empty:
        sec.note(
            f"Needs a suite with runs of both {ascores.LOWER_REFERENCE} and {ascores.UPPER_REFERENCE}, "
            "the oracle scoring above random; none found."
        )
        return sec
    suites = sorted(ctx.normalized["suite"].unique())
    sd = ascores.score_dict(ctx.normalized, suites)
    est = stats.aggregate_estimates(sd, ctx.rng, reps=ctx.reps)
    sec.add_figure(
        figures.aggregate_figure(est, f"Aggregate normalized scores over {len(suites)} suite(s)"),
        "aggregate",
        static=True,
    )
    sec.add_html("<details><summary>numbers</summary>" + _frame_html(_estimate_rows(est)) + "</details>")
    return sec


def improvement(ctx: Context) -> Section:
    sec = Section(
        "improvement",
        "Probability of improvement",
        "P(X > Y): the probability that a run of X scores higher than a run of Y on a suite (Mann-Whitney "
        "U over seeds), averaged over suites, with 95% bootstrap CIs. 0.5 = no difference.",
    )
    methods = sorted(ctx.scores["method"].unique()) if not ctx.scores.empty else []
    refs = {ascores.LOWER_REFERENCE, ascores.UPPER_REFERENCE}
    contenders = [m for m in methods if m not in refs]
    if len(contenders) < 2 or len(methods) <= 5:
        contenders = methods  # every pair while that stays readable (<= 10 pairs)
    if len(contenders) < 2:
        sec.note("Needs at least two methods with usable runs.")
        return sec
    suites = sorted(ctx.scores["suite"].unique())
    sd = ascores.score_dict(ctx.scores, suites)
    # Order by mean rank over suites (best first), so that most pairs read "better > worse".
    means = ctx.scores[ctx.scores["method"].isin(contenders)].groupby(["suite", "method"])["score"].mean()
    rank = means.groupby(level="suite").rank(ascending=False).groupby(level="method").mean()
    order = sorted(contenders, key=lambda m: (rank.get(m, np.inf), m))
    pairs = list(itertools.combinations(order, 2))
    est = stats.pairwise_improvement(sd, pairs, ctx.rng, reps=ctx.reps)
    sec.add_figure(
        figures.improvement_figure(est, "Probability of improvement over suites"), "improvement", static=True
    )
    return sec


def profiles(ctx: Context) -> Section:
    sec = Section(
        "profiles",
        "Performance profiles",
        "Fraction of (run, suite) normalized scores above a threshold τ, with 95% bootstrap bands "
        "(rliable score distributions). A curve above another everywhere dominates it.",
    )
    if ctx.normalized.empty:
        sec.note("Needs normalized scores (random and oracle runs on a suite).")
        return sec
    sd = ascores.score_dict(ctx.normalized)
    values = ctx.normalized["score"].to_numpy(dtype=float)
    lo, hi = min(0.0, float(np.nanmin(values))), max(1.0, float(np.nanmax(values)))
    taus = np.linspace(lo, hi, 81)
    prof = stats.performance_profiles(sd, taus, ctx.rng, reps=ctx.reps)
    sec.add_figure(
        figures.profile_figure(prof, "Performance profiles (normalized scores)", "normalized score τ"),
        "profiles",
        static=True,
    )
    return sec


def learning_curves(ctx: Context) -> tuple[Section, Section]:
    r = ctx.results
    sec = Section(
        "curves",
        "Learning curves (sample efficiency)",
        "Score at each evaluation against training env steps: IQM over seeds with 95% bootstrap bands "
        "(last episode of the evaluation trial; success rate on success suites).",
    )
    steps_sec = Section(
        "steps",
        "Env steps to reach a score",
        f"Env steps each method needs for its IQM curve to reach {STEPS_FRACTION:.0%} of the way from "
        "the random policy (or the lowest initial score) to the best final score of a method that "
        "does not see the task (linear interpolation between evaluations). Labels: speed-up against "
        "the slowest method; '≥' where that method never reached the score (its last evaluated "
        "env steps are used, so the ratio is a lower bound).",
    )
    if r.evals.empty:
        sec.note("No usable runs.")
        steps_sec.note("No usable runs.")
        return sec, steps_sec
    agg = acurves.sample_efficiency_curves(ascores.run_curves(r.evals), ctx.rng, reps=ctx.reps)
    for suite, g in agg.groupby("suite", sort=True):
        ylabel = "success rate" if r.metrics.get(str(suite)) == "success" else "return"
        sec.add_figure(
            figures.curves_figure(g, f"{suite}: learning curves", "env steps", ylabel, colours=ctx.colours),
            f"curves-{suite}",
            static=True,
        )
        if g.groupby("method")["x"].nunique().max() < 2:
            sec.note(f"{suite}: one evaluation per run, no curve to draw (set a smaller --eval-every).")
    steps = acurves.steps_to_threshold(agg, STEPS_FRACTION)
    if steps.empty:
        steps_sec.note("No suite with a method to compare.")
    else:
        steps_sec.add_figure(figures.steps_figure(steps, STEPS_FRACTION, ctx.colours), "steps", static=True)
        table = steps.assign(
            steps=steps["steps"].round(0),
            threshold=steps["threshold"].map(format_number),
            speedup=[
                ("never" if not np.isfinite(s) else f">= {s:.2f}x" if b else f"{s:.2f}x")
                for s, b in zip(steps["speedup"], steps["speedup_is_bound"], strict=True)
            ],
        )
        table = table.drop(columns="speedup_is_bound")
        steps_sec.add_html(_frame_html(table))
    return sec, steps_sec


def adaptation(ctx: Context) -> Section:
    r = ctx.results
    sec = Section(
        "adaptation",
        "Adaptation within a trial (k-shot)",
        "Score per episode of the final evaluation trial (the belief is carried across episodes of the "
        "same task; episode 0 is zero-shot): IQM over seeds with 95% bootstrap bands.",
    )
    if r.evals.empty:
        sec.note("No usable runs.")
        return sec
    agg = acurves.adaptation_curves(r.evals, ctx.rng, reps=ctx.reps)
    for suite, g in agg.groupby("suite", sort=True):
        if g["x"].nunique() < 2:
            sec.note(f"{suite}: one episode per evaluation trial, no adaptation curve (--eval-episodes > 1).")
            continue
        ylabel = "success rate" if r.metrics.get(str(suite)) == "success" else "return"
        fig = figures.curves_figure(
            g,
            f"{suite}: score per episode of the trial",
            "episode of the trial (0 = zero-shot)",
            ylabel,
            x="x",
            colours=ctx.colours,
        )
        fig.update_xaxes(dtick=1)
        sec.add_figure(fig, f"adaptation-{suite}", static=True)
    return sec


def nonstationary(ctx: Context) -> Section:
    traces = ctx.results.traces
    sec = Section(
        "nonstationary",
        "Non-stationary tracking",
        "Final-evaluation traces of suites whose task switches inside an episode: reward around a switch "
        "(mean over switches per seed, then over seeds with 95% CI), where the suite defines it what the "
        "agent achieves (e.g. its velocity) as the fraction of the way from the old task to the new one, "
        "how well a linear read-out of the "
        "belief recovers the true task, and one example trial.",
    )
    if traces.empty:
        sec.note(
            "No traces.parquet in any usable run (written for non-stationary suites and belief methods)."
        )
        return sec
    switches = ns.switch_times(traces)
    if switches.empty:
        sec.note("No task switch found in the traces (no non-stationary suite was run).")
        return sec
    keys = ns.belief_keys(traces)
    key = "mean" if "mean" in keys else (keys[0] if keys else None)
    for suite in sorted(switches["suite"].unique()):
        tr = traces[traces["suite"] == suite]
        reward = ns.aggregate_over_seeds(ns.aligned_to_switches(tr, "reward"), ctx.rng, reps=ctx.reps)
        moved = ns.aligned_switch_progress(tr)
        progress = ns.aggregate_over_seeds(moved, ctx.rng, reps=ctx.reps) if not moved.empty else None
        probe = None
        if key is not None:
            with_probe = ns.belief_probe_error(tr, key)
            if not with_probe.empty:
                probe = ns.aggregate_over_seeds(
                    ns.aligned_to_switches(with_probe, "probe_error"), ctx.rng, reps=ctx.reps
                )
        sec.add_figure(
            figures.switch_figure(reward, probe, suite, ctx.colours, progress), f"switch-{suite}", static=True
        )
        by_direction = _progress_by_direction(tr)
        if not by_direction.empty:
            sec.add_html(
                f"<h3>{html.escape(suite)}: progress towards the new task by direction of the switch</h3>"
                "<p>Means over seeds (each seed: mean over its switches and over steps 30 to 99 after them) "
                "of the fraction of the way from the old task to the new one (1 = follows) and of what the "
                "agent achieves minus the target (first task component, its units). An agent that cannot "
                "tell a lower target from a higher one follows one direction only.</p>"
                + _frame_html(by_direction)
            )
        for method in sorted(tr["method"].unique()):
            run = tr[tr["method"] == method]
            with_achieved = [sd for sd, g in run.groupby("seed") if ns.has_achieved(g)]
            seed = int(min(with_achieved)) if with_achieved else int(run["seed"].min())
            run = run[run["seed"] == seed]
            task = int(
                switches[(switches["suite"] == suite) & (switches["method"] == method)]["task_id"].min()
                if ((switches["suite"] == suite) & (switches["method"] == method)).any()
                else run["task_id"].min()
            )
            one = run[run["task_id"] == task]
            has_belief = key is not None and f"belief_{key}" in one and one[f"belief_{key}"].notna().all()
            shown = key if has_belief else None
            sec.add_figure(
                figures.trace_figure(
                    ns.trace_view(one, shown), shown, f"{suite} / {method} (seed {seed}, test task {task})"
                ),
                f"trace-{suite}-{method}",
            )
    return sec


def _progress_by_direction(traces: pd.DataFrame, lo: int = 30, hi: int = 100) -> pd.DataFrame:
    """Per method and direction of the switch (raising or lowering the task's first component), means
    over seeds of two per-seed figures over steps ``[lo, hi)`` after the switches: the progress from the old
    task to the new one (:func:`ns.aligned_switch_progress`) and the signed error of what the agent
    achieves (first component, achieved - target). Columns ``method, switch, progress, achieved - target,
    seeds``."""
    progress: dict[tuple[str, str], list[float]] = {}
    for direction in ns.DIRECTIONS:
        moved = ns.aligned_switch_progress(traces, after=hi, direction=direction)
        if moved.empty:
            continue
        late = moved[(moved["offset"] >= lo) & (moved["offset"] < hi)]
        for (method, _), value in late.groupby(["method", "seed"])["value"].mean().items():
            progress.setdefault((str(method), direction), []).append(float(value))
    errors: dict[tuple[str, str], list[float]] = {}
    recorded = traces[traces["achieved"].notna()] if "achieved" in traces else traces.iloc[:0]
    for (method, _), run in recorded.groupby(["method", "seed"]):
        eps = [ep.sort_values("t") for _, ep in run.groupby(["task_id", "episode"])]
        if len({len(ep) for ep in eps}) != 1:
            continue  # episodes of unequal length (terminations): no [N, T] arrays
        target = np.stack([ns.stack_column(ep["true_task"])[:, 0] for ep in eps])
        achieved = np.stack([ns.stack_column(ep["achieved"])[:, 0] for ep in eps])
        since, sign = ns.switch_phases(target)
        for code, direction in ((1, "increase"), (-1, "decrease")):
            m = (sign == code) & (since >= lo) & (since < hi)
            if m.any():
                errors.setdefault((str(method), direction), []).append(float((achieved - target)[m].mean()))
    rows = []
    for key in sorted(set(progress) | set(errors)):
        p, e = progress.get(key, []), errors.get(key, [])
        rows.append({"method": key[0], "switch": key[1],
                     "progress": f"{np.mean(p):.2f}" if p else "",
                     "achieved - target": f"{np.mean(e):+.2f}" if e else "",
                     "seeds": max(len(p), len(e))})
    return pd.DataFrame(rows, columns=["method", "switch", "progress", "achieved - target", "seeds"])


def beliefs(ctx: Context) -> Section:
    traces = ctx.results.traces
    sec = Section(
        "beliefs",
        "Belief geometry",
        "Beliefs recorded at every step of the final evaluation, projected on their first two principal "
        "components (one seed per method: latent spaces of different seeds are not aligned), coloured by "
        "the true task. Clusters ordered by colour mean the belief identifies the task.",
    )
    keys = ns.belief_keys(traces) if not traces.empty else []
    if not keys:
        sec.note("No method in the usable runs exposes a belief (Agent.belief() returning None).")
        return sec
    key = "mean" if "mean" in keys else keys[0]
    projections = ns.belief_projections(traces, key)
    for suite in sorted({p.suite for p in projections}):
        sec.add_figure(
            figures.belief_figure([p for p in projections if p.suite == suite], suite), f"beliefs-{suite}"
        )
    return sec


def build_sections(results: Results, seed: int = 0, reps: int = stats.DEFAULT_REPS) -> list[Section]:
    """Every section of the report, in order (bootstrap draws from ``default_rng(seed)``)."""
    scores = (
        ascores.run_scores(results.evals)
        if not results.evals.empty
        else pd.DataFrame(columns=[*ascores.RUN_KEYS, "env_steps", "score", "metric"])
    )
    refs = ascores.reference_scores(scores) if not scores.empty else {}
    ctx = Context(
        results,
        np.random.default_rng(seed),
        reps,
        figures.method_colours(results.methods),
        scores,
        ascores.normalize(scores, refs) if refs else scores.iloc[0:0],
        refs,
    )
    from harness.report.health_section import health, provenance
    from harness.report.ledger_section import ledger

    curves_sec, steps_sec = learning_curves(ctx)
    return [
        overview(ctx),
        aggregates(ctx),
        improvement(ctx),
        profiles(ctx),
        curves_sec,
        steps_sec,
        adaptation(ctx),
        nonstationary(ctx),
        beliefs(ctx),
        ledger(ctx),
        health(ctx),
        provenance(ctx),
    ]


def static_figures(sections: Sequence[Section]) -> dict[str, go.Figure]:
    """The figures meant for papers, by name (``aggregate``, ``curves-<suite>``, ...)."""
    return {b.name: b.figure for s in sections for b in s.blocks if b.static and b.figure is not None}
