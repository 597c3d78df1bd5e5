"""A results tree with hostile names (suite, method, errors, stray folders) renders as text in report.html:
headless Chromium runs no injected script or handler, and every plot still draws."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from harness import store
from harness.report.html import safe_id
from tests.report.test_compare import FIXTURE, run_cli
from tests.report.test_report import chromium, needs_chromium

#: Each payload, if it ever became markup, would set ``data-pwned`` on <body> (or add a link).
SUITE = "pg\"'><img src=x onerror=document.body.dataset.pwned=1>"
METHOD = "m\"<svg onload=document.body.dataset.pwned=2><a href=javascript:void(0)>x"
ERROR = "</pre><img src=x onerror=document.body.dataset.pwned=3>"


def hostile_tree(root: Path) -> Path:
    methods = {"random": "random", "moss": METHOD}
    for method, name in methods.items():
        for seed in (0, 1, 2):
            dst = root / SUITE / name / f"seed={seed}"
            shutil.copytree(FIXTURE / "point-goal" / method / f"seed={seed}", dst)
            config = store.read_yaml_file(dst / store.CONFIG_FILE) or {}
            store.write_yaml(dst / store.CONFIG_FILE, {**config, "suite": SUITE, "method": name})
    failed = root / SUITE / METHOD / "seed=2"
    meta = store.read_json(failed / store.META_FILE) or {}
    store.write_json(failed / store.META_FILE,
                     {**meta, "status": "failed", "error": ERROR, "traceback": ERROR})
    (root / SUITE / METHOD / "seed=<img src=x onerror=document.body.dataset.pwned=4>").mkdir()
    return root


def test_safe_id_keeps_only_plain_characters() -> None:
    assert safe_id("fig-0-curves-point_goal") == "fig-0-curves-point_goal"
    for name in (SUITE, METHOD, ERROR):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", safe_id(name))


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the hostile tree, built once through the CLI."""
    tmp = tmp_path_factory.mktemp("hostile")
    root = hostile_tree(tmp / "exp")
    out = tmp / "report.html"
    code, _, err = run_cli("report", str(root), "-o", str(out), "--reps", "100")
    assert code == 0, err
    return out


def test_hostile_names_never_become_markup(hostile_report: Path) -> None:
    page = hostile_report.read_text(encoding="utf-8")
    body = page.split("</head>", 1)[1]  # plotly.js itself is in <head>
    assert not re.search(r"<img|<svg|<a href=javascript", body, re.IGNORECASE)
    assert "&lt;img src=x onerror=document.body.dataset.pwned=1&gt;" in body  # shown as text
    assert "Stray folders" in body and "seed=&lt;img" in body  # the stray folder is listed, as text
    for div_id in re.findall(r'<div id="([^"]*)" class="plotly-graph-div"', body):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", div_id), div_id


@needs_chromium
def test_hostile_report_runs_no_injected_code_in_chromium(hostile_report: Path, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", hostile_report.as_uri(), tmp=tmp_path).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[-2000:]
    attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group(1)))  # set by the page's render check
    assert "data-pwned" not in attrs, attrs
    assert attrs.get("data-errors") == "[]" and attrs.get("data-report-status") == "ok", attrs
    assert int(attrs["data-plots"]) > 0 and attrs["data-plots"] == attrs["data-rendered"]
    injected = r"<img|<svg[^>]*onload|<a[^>]*href=\"?javascript"
    assert not re.search(injected, dom.split("<body", 1)[1], re.IGNORECASE)
