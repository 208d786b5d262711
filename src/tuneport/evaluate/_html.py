"""The evaluation report as one self-contained HTML page.

Everything is inline: CSS in a ``<style>``, charts as SVG drawn here, no script, no font,
image or stylesheet from anywhere else, so the file opens offline and can be mailed or
attached to a pull request as it is. Every text that came from a model or the data is
escaped. Numbers carry ``data-`` attributes so a test (and a curious reader) can check them
against the JSON.
"""

from __future__ import annotations

import math
from html import escape
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuneport.evaluate._report import EvalReport, ExampleResult, MetricSummary

__all__ = ["render_html"]

TUNED, BASE = "#2563eb", "#f59e0b"
WIN, TIE, LOSS = "#16a34a", "#cbd5e1", "#dc2626"

_CSS = Template("""
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --card:#ffffff; --bg:#f1f5f9;
  --tuned:$tuned; --base:$base; --win:$win; --tie:$tie; --loss:$loss; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 24px 60px; }
h1 { font-size:26px; margin:0 0 4px; letter-spacing:-.01em; }
h2 { font-size:18px; margin:0 0 12px; }
.sub { color:var(--muted); margin:0 0 20px; }
.pill { display:inline-block; padding:1px 9px; border-radius:999px; font-size:13px;
  font-weight:600; }
.pill.tuned { background:#dbeafe; color:#1e40af; } .pill.base { background:#fef3c7; color:#92400e; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(170px,1fr)); gap:12px;
  margin-bottom:18px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:14px 16px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.05em; }
.card .v { font-size:24px; font-weight:700; margin-top:2px; }
.card .v.bad { color:var(--loss); } .card .v.good { color:var(--win); }
section { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:18px 20px; margin-bottom:18px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:8px 10px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.ci { color:var(--muted); font-size:13px; }
.up { color:var(--win); font-weight:600; } .down { color:var(--loss); font-weight:600; }
.charts { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
@media (max-width:860px) { .charts { grid-template-columns:1fr; } }
.legend { display:flex; gap:16px; color:var(--muted); font-size:13px; margin-bottom:8px; }
.sw { display:inline-block; width:10px; height:10px; border-radius:3px; margin-right:6px; }
svg text { font-family:inherit; }
.examples td { font-size:14px; }
.examples .ans { white-space:pre-wrap; max-height:9em; overflow:auto; min-width:180px; }
.examples tr.regression { background:#fef2f2; }
.examples tr.failed { background:#f8fafc; color:var(--muted); }
.tag { font-size:11px; font-weight:700; padding:1px 7px; border-radius:999px; }
.tag.reg { background:#fee2e2; color:#991b1b; } .tag.fail { background:#e2e8f0; color:#334155; }
.scores { font-size:12px; white-space:nowrap; font-variant-numeric:tabular-nums; }
.filter { color:var(--muted); font-size:14px; }
#only-reg:checked ~ table tr.plain { display:none; }
.verdict { font-weight:600; }
.verdict.bad { color:var(--loss); } .verdict.good { color:var(--win); }
footer { color:var(--muted); font-size:13px; text-align:center; }
.headline { font-size:17px; margin:0 0 16px; }
""").substitute(tuned=TUNED, base=BASE, win=WIN, tie=TIE, loss=LOSS)


def _f(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else "&lt;0.001"


def _scale(value: float, left: float, width: float) -> float:
    return left + max(0.0, min(1.0, value)) * width


def _metric_chart(name: str, tuned: MetricSummary, base: MetricSummary) -> str:
    """Both models' means as dots with their interval as whiskers, on a 0–1 axis."""
    w, h, left, right = 520, 118, 92, 24
    span = w - left - right
    parts = [f'<svg class="metric-chart" data-metric="{escape(name)}" viewBox="0 0 {w} {h}" '
             f'width="100%" role="img" aria-label="{escape(name)}: mean and 95% interval">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = _scale(tick, left, span)
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{h - 22}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{x:.1f}" y="{h - 6}" font-size="11" fill="#64748b" '
                     f'text-anchor="middle">{tick:g}</text>')
    for row, (label, summary, color) in enumerate((("tuned", tuned, TUNED),
                                                   ("baseline", base, BASE))):
        y = 34 + row * 34
        parts.append(f'<text x="{left - 12}" y="{y + 4}" font-size="13" fill="#0f172a" '
                     f'text-anchor="end">{label}</text>')
        if math.isnan(summary.mean):
            parts.append(f'<text x="{left}" y="{y + 4}" font-size="12" fill="#64748b">'
                         "no scored examples</text>")
            continue
        x0, x1 = _scale(summary.ci_low, left, span), _scale(summary.ci_high, left, span)
        xm = _scale(summary.mean, left, span)
        parts.append(f'<rect class="ci-bar" data-model="{label}" x="{x0:.1f}" y="{y - 6}" '
                     f'width="{max(1.5, x1 - x0):.1f}" height="12" rx="6" fill="{color}" '
                     'fill-opacity="0.22"/>')
        parts.append(f'<line x1="{x0:.1f}" y1="{y}" x2="{x1:.1f}" y2="{y}" stroke="{color}" '
                     'stroke-width="2"/>')
        parts.append(f'<circle class="mean-dot" data-model="{label}" '
                     f'data-mean="{summary.mean:.6f}" cx="{xm:.1f}" cy="{y}" r="6.5" '
                     f'fill="{color}" stroke="#fff" stroke-width="2"/>')
        parts.append(f'<text x="{min(xm, w - right - 30):.1f}" y="{y - 11}" font-size="12" '
                     f'fill="{color}" text-anchor="middle" font-weight="700">'
                     f"{_f(summary.mean)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _wtl_chart(report: EvalReport) -> str:
    """One stacked bar per metric: wins, ties, losses of the tuned model."""
    names = report.metric_names
    w, left, right, row_h = 1080, 130, 20, 34
    h = 20 + row_h * len(names)
    span = w - left - right
    parts = [f'<svg class="wtl-chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
             'aria-label="wins, ties and losses per metric">']
    for k, name in enumerate(names):
        pair = report.pairwise[name]
        total = max(1, pair.wins + pair.ties + pair.losses)
        y = 10 + k * row_h
        parts.append(f'<text x="{left - 12}" y="{y + 17}" font-size="13" text-anchor="end" '
                     f'fill="#0f172a">{escape(name)}</text>')
        x = float(left)
        for kind, count, color in (("wins", pair.wins, WIN), ("ties", pair.ties, TIE),
                                   ("losses", pair.losses, LOSS)):
            width = span * count / total
            parts.append(f'<rect class="wtl {kind}" data-metric="{escape(name)}" '
                         f'data-count="{count}" x="{x:.1f}" y="{y}" width="{width:.1f}" '
                         f'height="24" fill="{color}"/>')
            if width >= 28:
                ink = "#0f172a" if kind == "ties" else "#ffffff"
                parts.append(f'<text x="{x + width / 2:.1f}" y="{y + 17}" font-size="12" '
                             f'font-weight="700" text-anchor="middle" fill="{ink}">'
                             f"{count}</text>")
            x += width
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(report: EvalReport) -> str:
    tuned, base = report.models["tuned"], report.models["baseline"]
    rows = []
    for name in report.metric_names:
        t, b, pair = tuned.metrics[name], base.metrics[name], report.pairwise[name]
        delta = t.mean - b.mean if not (math.isnan(t.mean) or math.isnan(b.mean)) else math.nan
        cls = "up" if delta > 1e-9 else "down" if delta < -1e-9 else ""
        sign = "+" if delta > 0 else ""
        rows.append(
            f'<tr data-metric="{escape(name)}"><td><b>{escape(name)}</b></td>'
            f'<td class="num"><span data-field="tuned.mean">{_f(t.mean)}</span> '
            f'<span class="ci">[<span data-field="tuned.ci_low">{_f(t.ci_low)}</span>, '
            f'<span data-field="tuned.ci_high">{_f(t.ci_high)}</span>]</span></td>'
            f'<td class="num"><span data-field="baseline.mean">{_f(b.mean)}</span> '
            f'<span class="ci">[<span data-field="baseline.ci_low">{_f(b.ci_low)}</span>, '
            f'<span data-field="baseline.ci_high">{_f(b.ci_high)}</span>]</span></td>'
            f'<td class="num {cls}">{sign}{_f(delta)}</td>'
            f'<td class="num"><span data-field="wins">{pair.wins}</span> / '
            f'<span data-field="ties">{pair.ties}</span> / '
            f'<span data-field="losses">{pair.losses}</span></td>'
            f'<td class="num" data-field="p_value" data-value="{pair.p_value:.6g}">'
            f"{_p(pair.p_value)}</td></tr>")
    return ('<table id="summary"><thead><tr><th>metric</th><th class="num">tuned '
            '(95% CI)</th><th class="num">baseline (95% CI)</th><th class="num">difference'
            '</th><th class="num">wins / ties / losses</th><th class="num">p-value</th>'
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _scores(scores: dict[str, float]) -> str:
    return "<br>".join(f"{escape(k)} {_f(v, 2)}" for k, v in scores.items())


def _example_row(r: ExampleResult, regressed: set[int]) -> str:
    cls = "failed" if r.error else "regression" if r.index in regressed else "plain"
    tag = ('<span class="tag fail">failed</span>' if r.error
           else '<span class="tag reg">regression</span>' if r.index in regressed else "")
    line = f"line {r.line}" if r.line else ""
    tuned = escape(r.tuned_answer) if r.tuned_answer is not None else "<i>no answer</i>"
    base = escape(r.baseline_answer) if r.baseline_answer is not None else "<i>no answer</i>"
    err = f'<div class="ci">{escape(r.error)}</div>' if r.error else ""
    return (f'<tr class="{cls}" data-index="{r.index}"><td class="num">#{r.index}<br>'
            f'<span class="ci">{line}</span><br>{tag}</td>'
            f'<td><div class="ans">{escape(r.prompt)}</div>{err}</td>'
            f'<td><div class="ans">{escape(r.reference)}</div></td>'
            f'<td><div class="ans">{tuned}</div><div class="scores">'
            f"{_scores(r.tuned_scores)}</div></td>"
            f'<td><div class="ans">{base}</div><div class="scores">'
            f"{_scores(r.baseline_scores)}</div></td></tr>")


def _forgetting(report: EvalReport) -> str:
    f = report.forgetting
    if f is None:
        return ""
    verdict = ('<span class="verdict bad">fell below the baseline beyond the interval</span>'
               if f.fell_below else
               '<span class="verdict good">no drop beyond the interval</span>')
    return (f'<section id="forgetting"><h2>General capability (forgetting check)</h2>'
            f"<p>{f.examples} general questions not from the task, scored with "
            f"<b>{escape(f.metric)}</b>: tuned <b data-field='forgetting.tuned'>{_f(f.tuned)}"
            f"</b> vs baseline <b data-field='forgetting.baseline'>{_f(f.baseline)}</b> "
            f"(paired difference 95% CI [{_f(f.diff_ci_low)}, {_f(f.diff_ci_high)}]): "
            f"{verdict}. A smoke test, not a benchmark.</p></section>")


def _headline(report: EvalReport) -> str:
    """One sentence a reader can stop at: better, worse or no clear difference."""
    if not report.metric_names:
        return ""
    name = report.metric_names[0]
    pair = report.pairwise[name]
    p_text = f"p = {pair.p_value:.3g}" if pair.p_value >= 0.001 else "p &lt; 0.001"
    counts = f"{pair.wins} wins, {pair.ties} ties, {pair.losses} losses; {p_text}"
    if pair.p_value < 0.05 and pair.wins > pair.losses:
        cls, text = "good", f"The fine-tune is better on {escape(name)}"
    elif pair.p_value < 0.05 and pair.losses > pair.wins:
        cls, text = "bad", f"The fine-tune is worse on {escape(name)}"
    else:
        cls, text = "", f"No clear difference on {escape(name)}"
    extra = []
    if report.regressions:
        extra.append(f"{len(report.regressions)} example(s) got worse: see them first below")
    if report.forgetting is not None and report.forgetting.fell_below:
        extra.append("it fell below the baseline on the general set")
    tail = f" &middot; {'; '.join(extra)}" if extra else ""
    return (f'<p class="headline"><span class="verdict {cls}">{text}</span> '
            f'<span class="ci">({counts})</span>{tail}</p>')


def render_html(report: EvalReport) -> str:
    """The whole page for ``report``."""
    tuned, base = report.models["tuned"], report.models["baseline"]
    regressed = {r.index for r in report.regressions}
    usd = "n/a" if report.usage.usd is None else f"${report.usage.usd:.4f}"
    main_metric = report.metric_names[0] if report.metric_names else ""
    pair = report.pairwise.get(main_metric)
    cards = [
        ("examples", str(report.examples), ""),
        (f"{main_metric} tuned", _f(tuned.metrics[main_metric].mean) if pair else "n/a", ""),
        (f"{main_metric} baseline", _f(base.metrics[main_metric].mean) if pair else "n/a", ""),
        ("regressions", str(len(report.regressions)), "bad" if report.regressions else "good"),
        ("failed", str(report.failed), "bad" if report.failed else ""),
        ("cost", usd, ""),
    ]
    card_html = "".join(f'<div class="card"><div class="k">{escape(k)}</div>'
                        f'<div class="v {c}" data-card="{escape(k)}">{escape(v)}</div></div>'
                        for k, v, c in cards)
    charts = "".join(f"<div><h2>{escape(n)}</h2>"
                     f"{_metric_chart(n, tuned.metrics[n], base.metrics[n])}</div>"
                     for n in report.metric_names)
    rows = "".join(_example_row(r, regressed) for r in report.per_example)
    u = report.usage
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evaluation: {escape(report.job)}</title>
<style>{_CSS}</style></head>
<body><main>
<h1>Did the fine-tune help?</h1>
<p class="sub"><span class="pill tuned">tuned</span> {escape(tuned.model)} &nbsp;vs&nbsp;
<span class="pill base">baseline</span> {escape(base.model)} &middot; {escape(report.job)}
&middot; {report.examples} held-out examples</p>
{_headline(report)}
<div class="cards">{card_html}</div>
<section><h2>Summary</h2>{_summary_table(report)}
<p class="ci">Means with 95% bootstrap intervals (seed {report.seed}). Wins, ties and losses
compare the two models on the same example; the p-value is the two-sided sign test (ties left
out): below 0.05, a split this uneven rarely happens by chance.</p></section>
<section><h2>Scores with their intervals</h2>
<div class="legend"><span><span class="sw" style="background:{TUNED}"></span>tuned</span>
<span><span class="sw" style="background:{BASE}"></span>baseline</span></div>
<div class="charts">{charts}</div></section>
<section><h2>Tuned vs baseline, example by example</h2>
<div class="legend"><span><span class="sw" style="background:{WIN}"></span>tuned better</span>
<span><span class="sw" style="background:{TIE}"></span>tie</span>
<span><span class="sw" style="background:{LOSS}"></span>tuned worse</span></div>
{_wtl_chart(report)}</section>
{_forgetting(report)}
<section class="examples"><h2>Examples ({len(report.regressions)} regressions first)</h2>
<input type="checkbox" id="only-reg"> <label class="filter" for="only-reg">show only
regressions and failures</label>
<table id="examples"><thead><tr><th class="num">#</th><th>prompt</th><th>reference</th>
<th>tuned</th><th>baseline</th></tr></thead><tbody>{rows}</tbody></table></section>
<footer>tuneport &middot; {u.requests} requests, {u.cached} cached, {u.tokens} tokens, {usd}
&middot; a regression is an example where the tuned model scored more than
{report.margin:g} below the baseline</footer>
</main></body></html>
"""
