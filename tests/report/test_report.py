"""``harness report`` on the committed fixture: self-contained HTML, run health, partial results, static
figures, and the page rendered in headless Chromium (every plot drawn, no script error, a screenshot)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from harness.report.html import render_html
from harness.report.sections import Section
from harness.report.static import export_static
from tests.report.test_compare import FIXTURE, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (CI installs Debian's chromium)"
)


def build_report(tmp: Path, *extra: str) -> tuple[Path, str]:
    """The fixture's report, built through the CLI."""
    path = tmp / "report.html"
    code, out, _ = run_cli("report", str(FIXTURE), "-o", str(path), "--reps", "200", *extra)
    assert code == 0, out
    return path, path.read_text(encoding="utf-8")


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=30000",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180, check=False)


def test_report_is_self_contained_lists_run_health_and_writes_static_figures(tmp_path: Path) -> None:
    path, html = build_report(tmp_path, "--static", str(tmp_path / "static"), "--static-formats", "png")
    assert html.count(get_plotlyjs()[:60]) == 1  # plotly.js embedded exactly once
    assert html.count('class="plotly-graph-div"') == html.count("Plotly.newPlot(") == 18
    assert not re.search(r"<script[^>]+src=", html)  # nothing loaded from elsewhere: works offline
    assert len(get_plotlyjs()) < path.stat().st_size < len(get_plotlyjs()) + 1_500_000
    sections = (
        "overview",
        "aggregate",
        "improvement",
        "profiles",
        "curves",
        "steps",
        "adaptation",
        "nonstationary",
        "beliefs",
        "health",
        "provenance",
    )
    for key in sections:
        assert f"<section id='{key}'>" in html
    assert "Per test task" in html and "point-goal-nonstat (goal=[0.23, 0.764])" in html
    assert "NaN in critic loss at iteration 4" in html  # the failed run's error and traceback
    assert "eval.parquet corrupt" in html and "meta.json missing or unreadable" in html
    assert re.search(r"P\(moss (>|\\u003e) sac-mt\)", html)  # a probability-of-improvement pair
    names = sorted(p.name for p in (tmp_path / "static").glob("*.png"))
    for name in ("aggregate.png", "curves-point-goal.png", "switch-point-goal-nonstat.png"):
        assert name in names
    assert all((tmp_path / "static" / n).read_bytes()[:4] == b"\x89PNG" for n in names)


def test_matplotlib_fallback_writes_png_and_pdf(tmp_path: Path) -> None:
    fig = go.Figure(
        [
            go.Scatter(x=[0, 1, 1, 0], y=[0, 0, 1, 1], fill="toself", fillcolor="rgba(1,2,3,0.2)"),
            go.Scatter(x=[0, 1], y=[0.2, 0.8], mode="lines+markers", name="m"),
        ]
    )
    fig.update_layout(xaxis_title="env steps")
    paths, engine = export_static({"curve": fig}, tmp_path, engine="matplotlib")
    assert engine == "matplotlib"
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "curve.pdf").read_bytes()[:4] == b"%PDF"
    assert len(paths) == 2


def test_partial_results_render_and_say_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "partial"
    for rel in ("point-goal/moss/seed=0", "point-goal/moss/seed=1", "ml1-reach-v2/moss/seed=2"):
        shutil.copytree(FIXTURE / rel, root / rel)
    out = tmp_path / "r.html"
    code, stdout, _ = run_cli("report", str(root), "-o", str(out), "--reps", "100")
    assert code == 0 and "1 failed/unfinished/unreadable" in stdout
    html = out.read_text(encoding="utf-8")
    assert "No normalized table" in html and "Needs at least two methods" in html
    assert "combinations have no run directory" in html  # ml1-reach-v2/moss/seed=0 and 1, point-goal seed=2
    assert "NaN in critic loss" in html
    code, _, err = run_cli("report", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    path, _ = build_report(tmp_path)
    attrs = rendered_state(path, tmp_path)
    assert attrs.get("data-errors") == "[]", attrs
    assert attrs.get("data-report-status") == "ok", attrs
    assert attrs["data-plots"] == attrs["data-rendered"] == "18"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    chromium(f"--screenshot={shot}", "--window-size=1400,4000", path.as_uri(), tmp=tmp_path)
    assert shot.read_bytes()[:4] == b"\x89PNG"


@needs_chromium
def test_render_check_reports_script_errors(tmp_path: Path) -> None:
    sec = Section("broken", "Broken", "a figure and a failing script")
    sec.add_figure(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])), "ok")
    sec.add_html("<script>notDefinedAnywhere();</script>")
    path = tmp_path / "broken.html"
    path.write_text(render_html([sec], "broken"), encoding="utf-8")
    attrs = rendered_state(path, tmp_path)
    assert attrs["data-report-status"] == "error" and "notDefinedAnywhere" in attrs["data-errors"]


def rendered_state(path: Path, tmp: Path) -> dict[str, str]:
    """The ``data-*`` attributes the report's render check set on ``<body>`` (headless Chromium)."""
    dom = chromium("--dump-dom", path.as_uri(), tmp=tmp)
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    return dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group(1)))


def test_switch_figure_shows_what_the_agent_achieves(tmp_path: Path) -> None:
    """Traces with ``achieved`` (a suite defining ``Suite.achieved``) add the old-to-new-task panel to the
    switch figure; here every run's agent achieves the task in force, so the curve is 1 after the switch."""
    root = tmp_path / "results"
    shutil.copytree(FIXTURE / "point-goal-nonstat", root / "point-goal-nonstat")
    for path in (root / "point-goal-nonstat").glob("*/seed=*/traces.parquet"):
        frame = pd.read_parquet(path)
        frame["achieved"] = frame["true_task"]
        frame.to_parquet(path)
        meta = path.parent / "meta.json"  # the manifest's checksum follows the edited file
        record = json.loads(meta.read_text())
        if "traces.parquet" in record.get("files", {}):
            record["files"]["traces.parquet"] = {"bytes": path.stat().st_size,
                                                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            meta.write_text(json.dumps(record))
    out = tmp_path / "report.html"
    code, text, _ = run_cli("report", str(root), "-o", str(out), "--reps", "100")
    assert code == 0, text
    html = out.read_text(encoding="utf-8")
    assert "achieved, from the old task (0) to the new one (1)" in html
    assert "true task (solid) and achieved (dotted)" in html  # the example trial overlays it
    # the agent follows switches of both directions: progress 1.00 and no error after either
    assert "progress towards the new task by direction of the switch" in html
    table = html[html.index("by direction of the switch"):]
    table = table[:table.index("</table>")]
    cells = re.findall(r"<td>([^<]*)</td>", table)
    assert "increase" in cells and "decrease" in cells
    assert cells.count("1.00") == cells.count("+0.00") == cells.count("increase") + cells.count("decrease")

