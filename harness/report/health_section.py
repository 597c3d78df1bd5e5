"""The report's closing sections: run health (what was left out and why) and provenance (configs, versions).

Split from :mod:`harness.report.sections` (which assembles them with the others in ``build_sections``).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd
import yaml

if TYPE_CHECKING:
    from harness.report.sections import Context, Section


def health(ctx: Context) -> Section:
    """Runs left out of every number (with their errors), usable seeds and wall-clock per cell, strays."""
    from harness.report.sections import Section, _frame_html

    r = ctx.results
    sec = Section(
        "health",
        "Run health",
        "Every run directory that is not a finished, readable run (left out of every number above), and "
        "the seeds per suite and method that are.",
    )
    h = r.health()
    bad = h[~h["ok"]] if not h.empty else h
    if bad.empty:
        sec.add_html("<p>All runs finished and read back.</p>")
    else:
        cols = ["suite", "method", "seed", "status", "env_steps", "problems", "error"]
        steps = pd.to_numeric(bad["env_steps"], errors="coerce")
        shown = bad[cols].assign(env_steps=[f"{int(s)}" if pd.notna(s) else "" for s in steps])
        sec.add_html(_frame_html(shown, "data health"))
        for _, row in bad[bad["traceback"] != ""].iterrows():
            sec.add_html(
                f"<details><summary>traceback: {html.escape(row['suite'])}/{html.escape(row['method'])}/"
                f"seed={row['seed']}</summary><pre>{html.escape(row['traceback'])}</pre></details>"
            )
    if not h.empty:
        counts = h[h["ok"]].pivot_table(
            index="method", columns="suite", values="seed", aggfunc="count", fill_value=0
        )
        counts = counts.reindex(index=r.methods, columns=r.suites, fill_value=0)
        sec.add_html(
            "<h3>Usable seeds per method and suite</h3>" + str(counts.to_html(classes="data", border=0))
        )
        ok = h[h["ok"]]
        minutes = ok.pivot_table(index="method", columns="suite", values="wall_seconds", aggfunc="mean")
        if not minutes.empty:
            minutes = (minutes / 60).reindex(index=r.methods, columns=r.suites)
            sec.add_html(
                "<h3>Wall-clock minutes per run (mean over usable seeds)</h3>"
                + str(minutes.to_html(classes="data", border=0, na_rep="", float_format="%.2f"))
            )
    if r.strays:
        strays = pd.DataFrame([(str(x.path.relative_to(r.root)), x.reason) for x in r.strays],
                              columns=["folder", "why it is not read"])
        sec.add_html("<h3>Stray folders (not runs written by the harness; never read)</h3>"
                     + _frame_html(strays))
    missing = r.missing()
    if missing:
        sec.add_html(
            "<h3>Not found</h3>" + _frame_html(pd.DataFrame(missing, columns=["suite", "method", "seed"]))
        )
    return sec


def provenance(ctx: Context) -> Section:
    """The resolved config of each suite x method and the versions, commits and hosts of the runs."""
    from harness.report.sections import Section, _frame_html

    r = ctx.results
    sec = Section(
        "provenance",
        "Configs and versions",
        "The resolved configuration of each suite x method (config.yaml of its lowest seed) and the "
        "library versions, git commits and hosts the runs used.",
    )
    versions = r.versions()
    if not versions.empty:
        sec.add_html(_frame_html(versions))
    for (suite, method), cfg in sorted(r.configs().items()):
        text = yaml.safe_dump(cfg, sort_keys=False)
        sec.add_html(
            f"<details><summary>{html.escape(suite)} / {html.escape(method)}</summary>"
            f"<pre>{html.escape(text)}</pre></details>"
        )
    return sec
