"""Render the evidence: Markdown for an issue, stable JSON, and a self-contained HTML trust page."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.evidence import ICONS, Exception_, PromiseResult, Status, Week, overall
from bot.core.markdown import escape, link, table

JSON_VERSION = 1
MAX_LISTED = 200  # exceptions listed per promise in Markdown and HTML; JSON lists all


@dataclass(frozen=True)
class EvidenceReport:
    """What one evidence run shows: the org, the period, the scope and each promise judged."""

    org: str
    since: str
    until: str
    computed_at: str
    results: tuple[PromiseResult, ...]
    in_scope: tuple[str, ...]
    excluded: tuple[tuple[str, str], ...] = ()
    unsupported: tuple[tuple[str, str], ...] = ()
    weeks: tuple[Week, ...] = ()

    @property
    def status(self) -> Status:
        """Return the worst status of any promise."""
        return overall(self.results)


# ---- JSON ------------------------------------------------------------------------------------


def as_json(report: EvidenceReport) -> dict[str, Any]:
    """Return the evidence in its stable JSON shape (documented in docs/evidence-json.md)."""
    return {
        "version": JSON_VERSION,
        "org": report.org,
        "period": {"since": report.since, "until": report.until},
        "computed_at": report.computed_at,
        "status": report.status.value,
        "summary": [
            {"id": r.id.value, "status": r.status.value, "summary": r.summary}
            for r in report.results
        ],
        "promises": [_promise_json(r) for r in report.results],
        "repositories": {
            "in_scope": list(report.in_scope),
            "excluded": [{"repository": n, "reason": why} for n, why in report.excluded],
            "unsupported": [{"repository": n, "reason": why} for n, why in report.unsupported],
        },
        "weekly": [
            {"week": w.start, "changes": w.changes, "exceptions": w.exceptions}
            for w in report.weeks
        ],
    }


def _promise_json(result: PromiseResult) -> dict[str, Any]:
    return {
        "id": result.id.value,
        "title": result.title,
        "status": result.status.value,
        "summary": result.summary,
        "figures": dict(result.figures),
        "exceptions": [_exception_json(e) for e in result.exceptions],
        "unknown": [{"scope": scope, "reason": why} for scope, why in result.unknown],
    }


def _exception_json(e: Exception_) -> dict[str, Any]:
    return {
        "repository": e.repo,
        "kind": e.kind,
        "detail": e.detail,
        "url": e.url,
        "sha": e.sha,
        "author": e.author,
        "date": e.date,
    }


def render_json(report: EvidenceReport) -> str:
    """Return the JSON text."""
    return json.dumps(as_json(report), indent=2, ensure_ascii=False) + "\n"


# ---- Markdown --------------------------------------------------------------------------------


def _link(text: str, url: str) -> str:
    try:
        return link(text, url)
    except ValueError:
        return escape(text)


def render_markdown(report: EvidenceReport) -> str:
    """Return the evidence as Markdown that fits an issue or a pull request."""
    lines = [
        f"# SDLC evidence for {escape(report.org)}",
        "",
        f"Period {report.since} to {report.until}; computed {report.computed_at}. "
        f"Overall: {ICONS[report.status]} `{report.status.value}`.",
        "",
        table(
            ["promise", "status", "in short"],
            [
                [f"`{r.id.value}`", f"{ICONS[r.status]} `{r.status.value}`", escape(r.summary)]
                for r in report.results
            ],
        ),
    ]
    for result in report.results:
        lines += ["", *_markdown_section(result)]
    lines += ["", *_markdown_scope(report)]
    return "\n".join(lines) + "\n"


def _markdown_section(result: PromiseResult) -> list[str]:
    lines = [
        f"## {ICONS[result.status]} {escape(result.title)} (`{result.id.value}`)",
        "",
        f"Status `{result.status.value}`: {escape(result.summary)}.",
        "",
    ]
    lines += [f"- {escape(k)}: {escape(_figure(v))}" for k, v in result.figures.items()]
    if result.exceptions:
        lines += ["", f"Exceptions ({len(result.exceptions)}):", ""]
        lines += [
            f"- {escape(e.repo)}: {_link(e.detail, e.url)} ({escape(e.kind)}"
            + (f", by {escape(e.author)}" if e.author else "")
            + (f", {escape(e.date)}" if e.date else "")
            + ")"
            for e in result.exceptions[:MAX_LISTED]
        ]
        if len(result.exceptions) > MAX_LISTED:
            lines.append(f"- … and {len(result.exceptions) - MAX_LISTED} more (see the JSON)")
    if result.unknown:
        lines += ["", "Could not be read:", ""]
        lines += [f"- {escape(scope)}: {escape(why)}" for scope, why in result.unknown[:MAX_LISTED]]
    return lines


def _markdown_scope(report: EvidenceReport) -> list[str]:
    lines = ["## Repositories", "", f"{len(report.in_scope)} in scope."]
    for title, items in (("Excluded", report.excluded), ("Unsupported", report.unsupported)):
        if items:
            lines += ["", f"{title}:", ""]
            lines += [f"- {escape(name)}: {escape(why)}" for name, why in items]
    return lines


def _figure(value: int | str | list[str]) -> str:
    if isinstance(value, list):
        return ", ".join(value) if value else "none"
    return str(value)


# ---- HTML ------------------------------------------------------------------------------------

CSS = """
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1f2328;background:#f6f8fa}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}
.meta{color:#59636e;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:14px}
.card{background:#fff;border:1px solid #d1d9e0;border-left:6px solid #8c959f;
border-radius:8px;padding:14px;break-inside:avoid}
.card.met{border-left-color:#1a7f37}.card.not_met{border-left-color:#d1242f}
.card.partial{border-left-color:#bf8700}.card.unknown{border-left-color:#8c959f}
.card h2{font-size:16px;margin:0 0 6px}
.badge{display:inline-block;font-weight:600;font-size:12px;padding:1px 8px;
border-radius:10px;background:#eef1f4}
.met .badge{background:#dafbe1;color:#1a7f37}.not_met .badge{background:#ffebe9;color:#d1242f}
.partial .badge{background:#fff8c5;color:#7d4e00}
dl{display:grid;grid-template-columns:minmax(0,1fr) auto;gap:2px 10px;margin:8px 0 0;font-size:13px}
dt{color:#59636e}dd{margin:0;font-weight:600;text-align:right;overflow-wrap:anywhere}
details{margin-top:8px;font-size:13px}ul{padding-left:18px;margin:4px 0}
a{color:#0969da}
section.chart,section.scope{background:#fff;border:1px solid #d1d9e0;border-radius:8px;
padding:14px;margin:14px 0}
.overall{font-size:18px;margin:8px 0 16px}
@media print{body{background:#fff}main{padding:0}details{display:block}
details>*{display:block}.card,section{box-shadow:none}a{color:#1f2328;text-decoration:none}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _href(url: str) -> str:
    return _e(url) if url.startswith("https://") else "#"


def render_html(report: EvidenceReport) -> str:
    """Return a self-contained trust page: inline CSS and SVG, no scripts, no external assets."""
    cards = "\n".join(_card(r) for r in report.results)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SDLC evidence for {_e(report.org)}</title>
<style>{CSS}</style></head>
<body><main>
<h1>SDLC evidence for {_e(report.org)}</h1>
<p class="meta">Period <time id="since">{_e(report.since)}</time>
to <time id="until">{_e(report.until)}</time>;
computed <time id="computed-at">{_e(report.computed_at)}</time>, from GitHub's own record.</p>
<p class="overall {report.status.value}" id="overall" data-status="{report.status.value}">Overall:
<span class="badge">{_e(report.status.value)}</span></p>
<div class="cards">
{cards}
</div>
{_chart(report.weeks)}
{_scope(report)}
</main></body></html>
"""


def _card(result: PromiseResult) -> str:
    figures = "".join(
        f'<dt>{_e(k)}</dt><dd data-figure="{_e(k)}">{_e(_figure(v))}</dd>'
        for k, v in result.figures.items()
    )
    return (
        f'<section class="card {result.status.value}" id="promise-{result.id.value}" '
        f'data-status="{result.status.value}">'
        f"<h2>{_e(result.title)}</h2>"
        f'<span class="badge">{_e(result.status.value)}</span> <code>{_e(result.id.value)}</code>'
        f"<p>{_e(result.summary)}</p><dl>{figures}</dl>"
        f"{_exceptions(result)}{_unknown(result)}</section>"
    )


def _exceptions(result: PromiseResult) -> str:
    if not result.exceptions:
        return ""
    items = "".join(
        f'<li class="exception" data-kind="{_e(e.kind)}">{_e(e.repo)}: '
        f'<a href="{_href(e.url)}">{_e(e.detail)}</a>'
        + (f" by {_e(e.author)}" if e.author else "")
        + (f", {_e(e.date)}" if e.date else "")
        + "</li>"
        for e in result.exceptions[:MAX_LISTED]
    )
    more = len(result.exceptions) - MAX_LISTED
    tail = f"<li>… and {more} more (see the JSON)</li>" if more > 0 else ""
    count = len(result.exceptions)
    return (
        f'<details open><summary><span data-exceptions="{count}">{count}</span> exceptions'
        f"</summary><ul>{items}{tail}</ul></details>"
    )


def _unknown(result: PromiseResult) -> str:
    if not result.unknown:
        return ""
    items = "".join(f"<li>{_e(s)}: {_e(why)}</li>" for s, why in result.unknown[:MAX_LISTED])
    return f"<details open><summary>Could not be read</summary><ul>{items}</ul></details>"


def _chart(weeks: Sequence[Week]) -> str:
    """Return an inline SVG bar chart of changes per week, exceptions in red on top."""
    if not weeks:
        return ""
    width, height, pad = 900, 180, 24
    top = max(max(w.changes for w in weeks), 1)
    step = (width - 2 * pad) / len(weeks)
    bars = []
    for i, week in enumerate(weeks):
        x = pad + i * step
        h = (height - 2 * pad) * week.changes / top
        bad = (height - 2 * pad) * min(week.exceptions, week.changes or week.exceptions) / top
        bars.append(
            f'<g data-week="{_e(week.start)}" data-changes="{week.changes}" '
            f'data-exceptions="{week.exceptions}"><title>week of {_e(week.start)}: '
            f"{week.changes} changes, {week.exceptions} exceptions</title>"
            f'<rect x="{x + 2:.1f}" y="{height - pad - h:.1f}" width="{step - 4:.1f}" '
            f'height="{h:.1f}" fill="#54aeff"/>'
            f'<rect x="{x + 2:.1f}" y="{height - pad - bad:.1f}" width="{step - 4:.1f}" '
            f'height="{bad:.1f}" fill="#d1242f"/></g>'
        )
    labels = (
        f'<text x="{pad}" y="{height - 6}" font-size="11">{_e(weeks[0].start)}</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">'
        f"{_e(weeks[-1].start)}</text>"
        f'<text x="{pad}" y="14" font-size="11">{top} changes</text>'
    )
    return (
        '<section class="chart"><h2>Changes to protected branches per week</h2>'
        f'<svg id="weekly" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="changes per week, exceptions in red">'
        f"{''.join(bars)}{labels}</svg>"
        "<p>Blue: commits reaching a protected branch; red: exceptions among them.</p></section>"
    )


def _scope(report: EvidenceReport) -> str:
    parts = [f'<p><span id="in-scope">{len(report.in_scope)}</span> repositories in scope.</p>']
    for title, items in (("Excluded", report.excluded), ("Unsupported", report.unsupported)):
        if items:
            lis = "".join(f"<li>{_e(n)}: {_e(why)}</li>" for n, why in items)
            parts.append(f"<h3>{title}</h3><ul>{lis}</ul>")
    return f'<section class="scope"><h2>Repositories</h2>{"".join(parts)}</section>'
