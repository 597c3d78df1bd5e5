"""The report's "Reproduction ledger" section: published numbers beside ours (``harness.analysis.ledger``)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from harness.analysis.ledger import ledger_rows, load_ledger, run_budgets
from harness.analysis.table import compare

if TYPE_CHECKING:
    from harness.report.sections import Context, Section


def steps(budget: object) -> str:
    """An env-step budget as ``1,234,567``, or ``?`` when unknown (None or NaN)."""
    if budget is None or budget != budget:
        return "?"
    return f"{int(budget):,}"  # type: ignore[call-overload]


def ledger(ctx: Context) -> Section:
    """Each published number of the suites and methods in the results, with ours and a verdict."""
    from harness.report.sections import Section

    sec = Section(
        "ledger",
        "Reproduction ledger",
        "Published numbers (harness/analysis/published.yaml, each with its source) beside ours for the same "
        "suite and method: our IQM over seeds of the final score with its 95% CI (success rates in percent), "
        "both budgets, and a verdict: consistent (the published number is inside our CI), below / above "
        "(our CI is entirely below / above it), budgets not comparable (we trained on less than half the "
        "published budget), not run; \"(published budget unknown)\" where the source gives no budget.",
    )
    r = ctx.results
    entries = [e for e in load_ledger() if e.suite in r.suites]
    if not entries:
        sec.note("The ledger lists no published number for these suites.")
        return sec
    cells = compare(r.evals, ctx.rng, reps=ctx.reps).cells if not r.evals.empty else None
    rows = ledger_rows(entries, cells, run_budgets(r.configs()))
    sources = list(dict.fromkeys(rows["source"]))
    body = []
    for row in rows.itertuples():
        ours = "-" if row.ours != row.ours else f"{row.ours:.3g} [{row.lo:.3g}, {row.hi:.3g}]"
        pub = f"{'~' if row.approx else ''}{row.published:g}{'%' if row.metric == 'success' else ''}"
        source = str(sources.index(row.source) + 1)
        cells_html = [row.suite, row.method, pub, row.k_published, steps(row.budget_published), ours,
                      str(row.n_runs), steps(row.budget_ours), row.verdict, source]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells_html) + "</tr>")
    head = ["suite", "method", "published", "k", "budget (published)", "ours [95% CI]", "runs",
            "budget (ours)", "verdict", "source"]
    sec.add_html("<table class='data'><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
                 + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>")
    sec.add_html("<ol>" + "".join(f"<li>{html.escape(s)}</li>" for s in sources) + "</ol>")
    return sec
