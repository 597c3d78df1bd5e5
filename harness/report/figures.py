"""Plotly figures of analysis outputs (rendering only: every number, projection and switch point comes from
:mod:`harness.analysis`).

Every figure uses the same colour per method (:func:`method_colours`) and draws confidence intervals as
error bars or translucent bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from harness.analysis.nonstationary import BeliefProjection, TraceView
from harness.analysis.stats import Estimate, Profile

#: Shared layout defaults.
LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60, "b": 50}, "font": {"size": 13}}


def method_colours(methods: Sequence[str]) -> dict[str, str]:
    """A stable colour per method (sorted names, Plotly's qualitative palette, cycled)."""
    palette = qualitative.Plotly
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(methods))}


def _rgba(colour: str, alpha: float) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour: str, group: str) -> go.Scatter:
    """A translucent CI band (a closed polygon)."""
    x = np.asarray(x, dtype=float)
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([np.asarray(hi, float), np.asarray(lo, float)[::-1]]),
        fill="toself",
        fillcolor=_rgba(colour, 0.18),
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
        mode="lines",
    )


def aggregate_figure(estimates: Mapping[str, Mapping[str, Estimate]], title: str) -> go.Figure:
    """IQM / median / mean / optimality gap per method, points with CI bars (one panel per metric)."""
    methods = list(estimates)
    metrics = list(next(iter(estimates.values()))) if estimates else []
    colours = method_colours(methods)
    fig = make_subplots(
        rows=1, cols=max(1, len(metrics)), subplot_titles=metrics, shared_yaxes=True, horizontal_spacing=0.04
    )
    for j, metric in enumerate(metrics, start=1):
        for m in methods:
            e = estimates[m][metric]
            fig.add_trace(
                go.Scatter(
                    x=[e.point],
                    y=[m],
                    mode="markers",
                    marker={"color": colours[m], "size": 10},
                    error_x={
                        "type": "data",
                        "symmetric": False,
                        "array": [e.hi - e.point],
                        "arrayminus": [e.point - e.lo],
                        "thickness": 6,
                        "width": 0,
                        "color": colours[m],
                    },
                    name=m,
                    legendgroup=m,
                    showlegend=False,
                    hovertemplate=f"{m}<br>{metric}: %{{x:.3f}}<br>CI [{e.lo:.3f}, {e.hi:.3f}], n={e.n_runs}"
                    "<extra></extra>",
                ),
                row=1,
                col=j,
            )
    fig.update_layout(title=title, height=120 + 45 * len(methods), **LAYOUT)
    fig.update_yaxes(autorange="reversed")
    return fig


def improvement_figure(pairs: Mapping[tuple[str, str], Estimate], title: str) -> go.Figure:
    """P(X > Y) per method pair with CI bars; the 0.5 line marks no difference."""
    labels = [f"P({x} > {y})" for x, y in pairs]
    fig = go.Figure()
    for label, e in zip(labels, pairs.values(), strict=True):
        fig.add_trace(
            go.Scatter(
                x=[e.point],
                y=[label],
                mode="markers",
                marker={"size": 10, "color": "#636EFA"},
                showlegend=False,
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [e.hi - e.point],
                    "arrayminus": [e.point - e.lo],
                    "thickness": 6,
                    "width": 0,
                },
                hovertemplate=f"{label} = %{{x:.3f}}<br>CI [{e.lo:.3f}, {e.hi:.3f}]<extra></extra>",
            )
        )
    fig.add_vline(x=0.5, line_dash="dash", line_color="grey")
    fig.update_layout(
        title=title, height=140 + 40 * len(labels), xaxis={"range": [0, 1], "title": "probability"}, **LAYOUT
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def profile_figure(profiles: Mapping[str, Profile], title: str, xlabel: str) -> go.Figure:
    """Performance profiles: fraction of runs with score > tau, with CI bands."""
    colours = method_colours(list(profiles))
    fig = go.Figure()
    for m, p in profiles.items():
        fig.add_trace(_band(p.taus, p.lo, p.hi, colours[m], m))
        fig.add_trace(
            go.Scatter(
                x=p.taus,
                y=p.fraction,
                mode="lines",
                name=m,
                legendgroup=m,
                line={"color": colours[m], "width": 2.5},
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=xlabel,
        yaxis_title="fraction of runs with score > τ",
        yaxis={"range": [-0.02, 1.02]},
        height=420,
        **LAYOUT,
    )
    return fig


def curves_figure(
    curves: pd.DataFrame,
    title: str,
    xlabel: str,
    ylabel: str,
    x: str = "env_steps",
    colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per method with its CI band (columns ``method, <x>, point, lo, hi, n_runs``)."""
    colours = colours or method_colours(list(curves["method"].unique()))
    fig = go.Figure()
    for m, g in curves.groupby("method", sort=True):
        g = g.sort_values(x)
        fig.add_trace(_band(g[x].to_numpy(), g["lo"].to_numpy(), g["hi"].to_numpy(), colours[m], str(m)))
        fig.add_trace(
            go.Scatter(
                x=g[x],
                y=g["point"],
                mode="lines+markers",
                name=str(m),
                legendgroup=str(m),
                line={"color": colours[m], "width": 2.5},
                customdata=np.stack([g["lo"], g["hi"], g["n_runs"]], 1),
                hovertemplate=f"{m}<br>{xlabel}: %{{x}}<br>{ylabel}: %{{y:.3f}}"
                "<br>CI [%{customdata[0]:.3f}, %{customdata[1]:.3f}], n=%{customdata[2]}<extra></extra>",
            )
        )
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, height=420, **LAYOUT)
    return fig


def steps_figure(steps: pd.DataFrame, fraction: float, colours: Mapping[str, str]) -> go.Figure:
    """Env steps each method needs to reach the threshold, grouped by suite, with "N x" speed-up labels."""
    fig = go.Figure()
    for m, g in steps.groupby("method", sort=True):
        text = [
            ("never" if not np.isfinite(s) else f"≥{s:.1f}×" if bound else f"{s:.1f}×")
            for s, bound in zip(g["speedup"], g["speedup_is_bound"], strict=True)
        ]
        fig.add_trace(
            go.Bar(
                x=g["suite"],
                y=g["steps"].fillna(0),
                name=str(m),
                marker_color=colours.get(str(m)),
                text=text,
                textposition="outside",
                hovertemplate=f"{m}<br>%{{x}}: %{{y:.0f}} env steps (%{{text}} vs slowest)<extra></extra>",
            )
        )
    fig.update_layout(
        title=f"Env steps to reach {fraction:.0%} of the best final score (labels: speed-up vs the slowest)",
        barmode="group",
        yaxis_title="env steps",
        height=420,
        **LAYOUT,
    )
    return fig


def switch_figure(
    reward: pd.DataFrame,
    probe: pd.DataFrame | None,
    suite: str,
    colours: Mapping[str, str],
    progress: pd.DataFrame | None = None,
) -> go.Figure:
    """Reward, what the agent achieves (where the suite defines it) and the belief probe error against steps
    since a task switch, mean over seeds with CI (frames of :func:`harness.analysis.aggregate_over_seeds`)."""
    panels = [("reward around a switch", reward)]
    if progress is not None and not progress.empty:
        panels.append(("achieved, from the old task (0) to the new one (1)", progress))
    if probe is not None and not probe.empty:
        panels.append(("belief read-out error (linear probe; 1 = chance)", probe))
    rows = len(panels)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=[p[0] for p in panels],
                        vertical_spacing=0.12 if rows < 3 else 0.08)
    for r, (_, df) in enumerate(panels, start=1):
        for m, g in df.groupby("method", sort=True):
            g = g.sort_values("offset")
            fig.add_trace(
                _band(
                    g["offset"].to_numpy(), g["lo"].to_numpy(), g["hi"].to_numpy(), colours[str(m)], str(m)
                ),
                row=r,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=g["offset"],
                    y=g["point"],
                    mode="lines",
                    name=str(m),
                    legendgroup=str(m),
                    showlegend=r == 1,
                    line={"color": colours[str(m)], "width": 2.5},
                ),
                row=r,
                col=1,
            )
        fig.add_vline(x=0, line_dash="dash", line_color="grey", row=r, col=1)  # type: ignore[arg-type]
    fig.update_xaxes(title_text="steps since the task switch", row=rows, col=1)
    fig.update_layout(
        title=f"{suite}: tracking a switching task (mean over seeds, 95% CI)", height=330 * rows, **LAYOUT
    )
    return fig


def trace_figure(view: TraceView, belief_key: str | None, title: str) -> go.Figure:
    """One trial of one run over time: reward, the true task, and the belief's first principal component
    (``view`` from :func:`harness.analysis.nonstationary.trace_view`)."""
    rows = 3 if belief_key and view.belief_pc1 is not None else 2
    task_title = "true task (solid) and achieved (dotted)" if view.achieved is not None else "true task"
    titles = ["reward", task_title] + ([f"belief '{belief_key}' (PC1)"] if rows == 3 else [])
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.07)
    fig.add_trace(
        go.Scatter(x=view.time, y=view.reward, mode="lines", name="reward", line={"color": "#636EFA"}),
        row=1,
        col=1,
    )
    for d in range(view.true_task.shape[1]):
        fig.add_trace(go.Scatter(x=view.time, y=view.true_task[:, d], mode="lines", name=f"task[{d}]"),
                      row=2, col=1)
        if view.achieved is not None:
            fig.add_trace(go.Scatter(x=view.time, y=view.achieved[:, d], mode="lines", name=f"achieved[{d}]",
                                     line={"dash": "dot", "width": 1}), row=2, col=1)
    if rows == 3:
        fig.add_trace(
            go.Scatter(
                x=view.time,
                y=view.belief_pc1,
                mode="lines",
                name=f"belief PC1 ({view.belief_explained:.0%})",
                line={"color": "#EF553B"},
            ),
            row=3,
            col=1,
        )
    # Vertical lines across all panels, added at once (add_vline per line and panel is slow).
    lines = [(ts, {"color": "grey", "dash": "dot", "width": 1}) for ts in view.switches]
    lines += [(x, {"color": "black", "width": 1}) for x in view.episode_starts]
    fig.update_layout(
        shapes=[
            {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": style}
            for x, style in lines
        ]
    )
    fig.update_xaxes(
        title_text="step of the trial (black: episode boundary, dotted: task switch)", row=rows, col=1
    )
    fig.update_layout(title=title, height=200 + 170 * rows, **LAYOUT)
    return fig


def belief_figure(projections: Sequence[BeliefProjection], suite: str) -> go.Figure:
    """2-D PCA of beliefs, one panel per method, coloured by the true task."""
    n = max(1, len(projections))
    titles = [
        f"{p.method} (seed {p.seed}; PC1 {p.explained[0]:.0%}, PC2 {p.explained[1]:.0%})" for p in projections
    ]
    fig = make_subplots(rows=1, cols=n, subplot_titles=titles)
    for j, p in enumerate(projections, start=1):
        hover = [", ".join(f"{v:.2f}" for v in row) for row in p.true_task]
        fig.add_trace(
            go.Scatter(
                x=p.coords[:, 0],
                y=p.coords[:, 1],
                mode="markers",
                showlegend=False,
                text=hover,
                marker={
                    "color": p.colour,
                    "colorscale": "Viridis",
                    "size": 5,
                    "opacity": 0.75,
                    "colorbar": {"title": {"text": p.colour_label}} if j == n else None,
                    "showscale": j == n,
                },
                hovertemplate="PC1 %{x:.2f}, PC2 %{y:.2f}<br>true task: %{text}<extra></extra>",
            ),
            row=1,
            col=j,
        )
        fig.update_xaxes(title_text="PC1", row=1, col=j)
        fig.update_yaxes(title_text="PC2", row=1, col=j)
    fig.update_layout(
        title=f"{suite}: beliefs ('{projections[0].key}') projected on 2 principal components, "
        "coloured by the true task"
        if projections
        else suite,
        height=440,
        **LAYOUT,
    )
    return fig
