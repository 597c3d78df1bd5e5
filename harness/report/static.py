"""Static figures (PNG and PDF) for papers, written offline.

The primary engine is kaleido (Plotly's exporter; kaleido 1.x drives a local Chrome/Chromium, found on the
``PATH``, e.g. Debian's ``chromium`` package). Where kaleido cannot run (no browser), a matplotlib fallback
redraws the same figures from their traces (lines, markers, CI bands, error bars, bars), so the export never
needs a network. The engine used is returned and printed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

log = logging.getLogger(__name__)

FORMATS = ("png", "pdf")
#: Size of exported figures in CSS pixels (kaleido) and the PNG scale factor.
WIDTH, HEIGHT, SCALE = 900, 500, 2


def export_kaleido(figs: Mapping[str, go.Figure], out: Path, formats: Sequence[str]) -> list[Path]:
    """Write every figure in every format with kaleido (one browser session for all)."""
    import plotly.io as pio

    paths = [out / f"{name}.{fmt}" for name in figs for fmt in formats]
    pio.write_images(
        [fig for fig in figs.values() for _ in formats],
        paths,
        width=WIDTH,
        height=None,
        scale=SCALE,
    )
    return paths


def export_matplotlib(figs: Mapping[str, go.Figure], out: Path, formats: Sequence[str]) -> list[Path]:
    """Redraw each figure with matplotlib (Agg) and save it in every format."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, fig in figs.items():
        axes_keys = sorted(
            {(t.xaxis or "x", t.yaxis or "y") for t in fig.data}, key=lambda k: (len(k[0]), k[0])
        )
        n = max(1, len(axes_keys))
        mfig, axes = plt.subplots(1, n, figsize=(4.5 * n if n > 1 else 9, 4.5), squeeze=False)
        where = {k: axes[0, i] for i, k in enumerate(axes_keys)}
        for trace in fig.data:
            _draw_trace(where.get((trace.xaxis or "x", trace.yaxis or "y"), axes[0, 0]), trace)
        for (xa, ya), ax in where.items():
            ax.set_xlabel(_axis_title(fig, "xaxis" + xa[1:]))
            ax.set_ylabel(_axis_title(fig, "yaxis" + ya[1:]))
        title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else name
        mfig.suptitle(title, fontsize=11)
        for ax in axes[0]:
            if ax.get_legend_handles_labels()[1]:
                ax.legend(fontsize=8)
        mfig.tight_layout()
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            mfig.savefig(path, dpi=150)
            paths.append(path)
        plt.close(mfig)
    return paths


def _axis_title(fig: go.Figure, axis: str) -> str:
    """Title text of layout axis ``xaxis``, ``yaxis2``, ... ('' when none)."""
    try:
        title = fig.layout[axis].title
    except (KeyError, ValueError):
        return ""
    return str(title.text) if title is not None and title.text else ""


def _draw_trace(ax: Any, trace: Any) -> None:
    """Draw one Plotly trace on a matplotlib axes (the subset of trace types the report uses)."""
    import numpy as np

    t = trace
    x = np.asarray(t.x if t.x is not None else [], dtype=object)
    y = np.asarray(t.y if t.y is not None else [], dtype=object)
    name = t.name if getattr(t, "showlegend", None) is not False else None
    if isinstance(t, go.Bar):
        ax.bar(np.arange(len(x)), y.astype(float), label=name)
        ax.set_xticks(np.arange(len(x)), [str(v) for v in x], rotation=20)
        return
    if not isinstance(t, go.Scatter) or not len(x):
        return
    colour = (t.line.color if t.line and t.line.color else None) or (
        t.marker.color if t.marker and isinstance(t.marker.color, str) else None
    )
    if t.fill == "toself":
        ax.fill(
            x.astype(float),
            y.astype(float),
            alpha=0.18,
            color=t.fillcolor and _mpl_colour(t.fillcolor),
            linewidth=0,
        )
        return
    numeric_x = all(isinstance(v, (int, float, np.number)) for v in x)
    xs = x.astype(float) if numeric_x else x.astype(str)
    ys = y.astype(float) if all(isinstance(v, (int, float, np.number)) for v in y) else y.astype(str)
    err = t.error_x if t.error_x and t.error_x.array is not None else None
    if err is not None:
        ax.errorbar(
            xs,
            ys,
            xerr=[np.asarray(err.arrayminus, float), np.asarray(err.array, float)],
            fmt="o",
            color=colour,
            label=name,
            capsize=0,
            elinewidth=4,
        )
        return
    style = (
        "-o"
        if t.mode and "markers" in t.mode and "lines" in t.mode
        else ("o" if t.mode == "markers" else "-")
    )
    ax.plot(xs, ys, style, color=colour, label=name, markersize=3)


def _mpl_colour(colour: str) -> tuple[float, ...] | str:
    """Plotly ``rgba(r,g,b,a)`` -> matplotlib RGB tuple (alpha applied separately)."""
    if colour.startswith("rgba("):
        r, g, b, _ = (float(v) for v in colour[5:-1].split(","))
        return (r / 255, g / 255, b / 255)
    return colour


def check_formats(formats: Sequence[str]) -> None:
    """Raise ``ValueError`` naming unknown static formats (before anything is written)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown static format(s) {list(unknown)}; available: {list(FORMATS)}")


def export_static(
    figs: Mapping[str, go.Figure], out: Path | str, formats: Sequence[str] = FORMATS, engine: str = "auto"
) -> tuple[list[Path], str]:
    """Write ``figs`` to ``out/<name>.<fmt>``.

    Args:
        engine: ``kaleido``, ``matplotlib`` or ``auto`` (kaleido, falling back to matplotlib when it fails).

    Returns:
        (written paths, engine used).
    """
    out = Path(out)
    check_formats(formats)
    if engine not in ("auto", "kaleido", "matplotlib"):
        raise ValueError(f"unknown engine {engine!r}; use auto, kaleido or matplotlib")
    # names carry suite names read from a results tree: keep them plain file names inside ``out``
    figs = {re.sub(r"[^A-Za-z0-9_-]", "_", name): fig for name, fig in figs.items()}
    out.mkdir(parents=True, exist_ok=True)
    if engine in ("auto", "kaleido"):
        try:
            return export_kaleido(figs, out, formats), "kaleido"
        except Exception as err:  # kaleido raises many types when no browser is usable
            if engine == "kaleido":
                raise
            log.warning(
                "kaleido could not export (%s: %s); falling back to matplotlib", type(err).__name__, err
            )
    return export_matplotlib(figs, out, formats), "matplotlib"
