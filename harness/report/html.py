"""Assemble report sections into ONE self-contained HTML file that works offline.

plotly.js is embedded once in ``<head>``; each figure is a ``<div>`` plus a small script with its data
(``fig.to_html(full_html=False, include_plotlyjs=False)``). A last inline script waits until every plot
has rendered and records the outcome on ``<body>``: ``data-plots`` (figures in the page),
``data-rendered`` (figures Plotly drew), ``data-errors`` (JavaScript errors, JSON list) and
``data-report-status`` (``ok`` or ``error``), and prefixes ``document.title`` with ``[rendered]``. Tests and
users can check a report in a headless browser with ``--dump-dom``.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio
from plotly.offline import get_plotlyjs

from harness import store
from harness.report.sections import Section

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #222; }
header { background: #24324a; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
nav { padding: 8px 32px; background: #eef1f6; position: sticky; top: 0; z-index: 10; font-size: 14px; }
nav a { margin-right: 14px; color: #24324a; text-decoration: none; }
main { padding: 0 32px 40px 32px; max-width: 1400px; }
section { margin-top: 28px; border-top: 1px solid #ddd; }
p.intro { color: #444; max-width: 1000px; }
p.note { background: #fff4d6; border-left: 4px solid #e0a800; padding: 6px 10px; max-width: 1000px; }
table { border-collapse: collapse; margin: 10px 0 16px 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
table.cmp td { font-variant-numeric: tabular-nums; }
table.cmp caption { caption-side: bottom; text-align: left; color: #555; font-size: 13px; padding-top: 4px; }
span.ci { color: #777; font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: 12px; }
details { margin: 6px 0; }
"""

#: Captures JavaScript errors from the start of the page (before plotly.js loads).
ERROR_HOOK = """
window.__reportErrors = [];
window.addEventListener('error', function (e) { window.__reportErrors.push(String(e.message || e)); });
window.addEventListener('unhandledrejection', function (e) { window.__reportErrors.push(String(e.reason)); });
"""

#: Waits for every plot, then records the outcome on <body> (see the module docstring).
RENDER_CHECK = """
(function () {
  var started = Date.now();
  function check() {
    var divs = document.querySelectorAll('div.plotly-graph-div');
    var drawn = 0;
    divs.forEach(function (d) { if (d._fullLayout && d.querySelector('.main-svg')) { drawn += 1; } });
    var errors = window.__reportErrors || [];
    var finished = drawn === divs.length || Date.now() - started > 30000;
    if (!finished && errors.length === 0) { setTimeout(check, 50); return; }
    var b = document.body;
    b.setAttribute('data-plots', String(divs.length));
    b.setAttribute('data-rendered', String(drawn));
    b.setAttribute('data-errors', JSON.stringify(errors));
    b.setAttribute('data-report-status', (errors.length === 0 && drawn === divs.length) ? 'ok' : 'error');
    document.title = '[rendered] ' + document.title;
  }
  if (document.readyState === 'complete') { check(); } else { window.addEventListener('load', check); }
})();
"""


#: Plotly's text markup the report's own labels use; any other ``<`` in figure text is shown literally.
_TEXT_TAG = re.compile(r"<(?!/?(?:br|b|i|em|sup|sub)\s*/?>)", re.IGNORECASE)


def safe_id(text: str) -> str:
    """An HTML id / anchor made only of ``[A-Za-z0-9_-]`` (any other character becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _plain_text(value: Any) -> Any:
    """Figure data and layout with every ``<`` outside Plotly's basic markup tags escaped (``&lt;``, which
    Plotly displays as ``<``): names read from a results tree cannot add links or elements."""
    if isinstance(value, str):
        return _TEXT_TAG.sub("&lt;", value)
    if isinstance(value, dict):
        return {k: _plain_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_text(v) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return np.array([_plain_text(v) for v in value.ravel().tolist()], dtype=object).reshape(value.shape)
    return value


def _figure_html(fig: Any, div_id: str) -> str:
    return str(
        pio.to_html(
            _plain_text(fig.to_dict()),
            full_html=False,
            include_plotlyjs=False,
            div_id=safe_id(div_id),
            config={"displaylogo": False, "responsive": True},
            validate=False,
        )
    )


def render_html(sections: Sequence[Section], title: str, subtitle: str = "") -> str:
    """The whole page as a string (plotly.js embedded once, ~4.8 MB)."""
    nav = "".join(f"<a href='#{safe_id(s.key)}'>{html.escape(s.title)}</a>" for s in sections)
    body: list[str] = []
    n_fig = 0
    for s in sections:
        parts = [
            f"<section id='{safe_id(s.key)}'><h2>{html.escape(s.title)}</h2>"
            f"<p class='intro'>{html.escape(s.intro)}</p>"
        ]
        for b in s.blocks:
            if b.figure is not None:
                parts.append(_figure_html(b.figure, f"fig-{n_fig}-{b.name}"))
                n_fig += 1
            else:
                parts.append(b.html)
        parts.append("</section>")
        body.append("\n".join(parts))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            "<html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}</style>",
            f"<script>{ERROR_HOOK}</script>",
            f"<script type='text/javascript'>{get_plotlyjs()}</script>",
            "</head><body>",
            f"<header><h1>{html.escape(title)}</h1><div>{html.escape(subtitle)}</div></header>",
            f"<nav>{nav}</nav><main>",
            *body,
            "</main>",
            f"<script>{RENDER_CHECK}</script>",
            "</body></html>",
        ]
    )


def write_report(sections: Sequence[Section], path: Path | str, results_dir: Path | str) -> Path:
    """Write the report for ``results_dir`` to ``path``; returns the path."""
    path = Path(path)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = render_html(
        sections,
        f"metarl-harness report: {Path(results_dir).resolve().name}",
        f"{Path(results_dir).resolve()} · generated {stamp}",
    )
    store.write_text(path, text)  # atomic, umask-respecting
    return path
