"""Render a :class:`harness.analysis.table.Comparison` as Markdown, LaTeX, CSV or an HTML table."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import pandas as pd

from harness.analysis.table import Comparison

FORMATS = ("md", "latex", "csv")
#: File extension per format.
EXTENSIONS = {"md": "md", "latex": "tex", "csv": "csv"}


def format_number(x: float, scale: float | None = None) -> str:
    """``x`` with decimals chosen by the magnitude ``scale`` (default ``|x|``): 0 >= 100 > 1 >= 10 > 2."""
    if x is None or not math.isfinite(x):
        return "n/a"
    s = abs(x) if scale is None else abs(scale)
    decimals = 0 if s >= 100 else 1 if s >= 10 else 2
    text = f"{x:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _cell_parts(row: pd.Series, max_runs: int) -> tuple[str, str, str]:
    """(point, "[lo, hi]", runs note) of one cell, formatted on the point's scale."""
    scale = max(abs(row["point"]), abs(row["lo"]), abs(row["hi"])) if math.isfinite(row["point"]) else None
    point = format_number(row["point"], scale)
    ci = f"[{format_number(row['lo'], scale)}, {format_number(row['hi'], scale)}]"
    if not math.isfinite(row["point"]):
        return "n/a", "", ""
    note = f" (n={int(row['n_runs'])})" if row["n_runs"] < max_runs else ""
    return point, ci, note


def _grid(cmp: Comparison) -> dict[tuple[str, str], pd.Series]:
    return {(r["method"], r["column"]): r for _, r in cmp.cells.iterrows()}


def _rows(
    cmp: Comparison, cell: Callable[[str, str, str, bool], str], missing: str
) -> list[tuple[str, list[str]]]:
    """``(method, cells)`` per method in table order; ``cell(point, ci, note, best)`` formats one cell and
    ``missing`` stands where a method has no score for a column."""
    grid, max_runs = _grid(cmp), int(cmp.cells["n_runs"].max() or 0)
    rows = []
    for m in cmp.methods:
        cells = []
        for c in cmp.columns:
            row = grid.get((m, c))
            cells.append(missing if row is None else cell(*_cell_parts(row, max_runs), bool(row["best"])))
        rows.append((m, cells))
    return rows


def to_markdown(cmp: Comparison) -> str:
    """GitHub Markdown table with the best cell of each column in bold, caption and notes below."""
    def cell(point: str, ci: str, note: str, best: bool) -> str:
        return f"{f'**{point}**' if best else point} {ci}{note}".strip()

    lines = ["| method | " + " | ".join(cmp.columns) + " |", "|---|" + "---|" * len(cmp.columns)]
    lines += [f"| {m} | " + " | ".join(cells) + " |" for m, cells in _rows(cmp, cell, "n/a")]
    lines += ["", cmp.caption(), *[f"Note: {n}" for n in cmp.notes]]
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def to_latex(cmp: Comparison) -> str:
    """A ``table`` with ``booktabs`` rules (``\\usepackage{booktabs}``), best cells in ``\\textbf``."""
    def cell(point: str, ci: str, note: str, best: bool) -> str:
        text = rf"\textbf{{{point}}}" if best else point
        ci_tex = rf" {{\scriptsize {ci}}}" if ci else ""
        return f"{text}{ci_tex}{latex_escape(note)}"

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + "c" * len(cmp.columns) + "}",
        r"\toprule",
        "Method & " + " & ".join(latex_escape(c) for c in cmp.columns) + r" \\",
        r"\midrule",
    ]
    lines += [latex_escape(m) + " & " + " & ".join(cells) + r" \\" for m, cells in _rows(cmp, cell, "n/a")]
    caption = cmp.caption() + "".join(f" {n}." for n in cmp.notes)
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(caption)}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_csv(cmp: Comparison) -> str:
    """The tidy cells (``method, column, point, lo, hi, n_runs, best, metric``) plus the settings."""
    df = cmp.cells.assign(
        statistic=cmp.statistic,
        score=cmp.score,
        k=str(cmp.k),
        normalized=cmp.normalized,
        confidence=cmp.confidence,
    )
    return str(df.to_csv(index=False, float_format="%.6g"))


def to_html(cmp: Comparison) -> str:
    """An HTML ``<table class="cmp">`` (best cells in ``<b>``) with caption."""
    def cell(point: str, ci: str, note: str, best: bool) -> str:
        text = f"<b>{point}</b>" if best else point
        return f"<td>{text} <span class='ci'>{html.escape(ci)}{html.escape(note)}</span></td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cmp.columns)
    rows = _rows(cmp, cell, "<td>n/a</td>")
    body = [f"<tr><th>{html.escape(m)}</th>{''.join(tds)}</tr>" for m, tds in rows]
    notes = "".join(f"<br>Note: {html.escape(n)}" for n in cmp.notes)
    return (
        f"<table class='cmp'><caption>{html.escape(cmp.caption())}{notes}</caption>"
        f"<thead><tr><th>method</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def render(cmp: Comparison, fmt: str) -> str:
    """Render in one of :data:`FORMATS`."""
    renderers = {"md": to_markdown, "latex": to_latex, "csv": to_csv}
    if fmt not in renderers:
        raise ValueError(f"unknown table format {fmt!r}; available: {list(FORMATS)}")
    return renderers[fmt](cmp)
