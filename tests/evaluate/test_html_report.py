"""The HTML report in a real browser (Debian's chromium, headless): the tables' numbers
are the JSON's, the charts are laid out with the right sizes, nothing logs a console error,
and nothing is fetched from anywhere."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conftest import RuleServer, chat_records
from tuneport.client.client import Client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package")

# Measures what the browser laid out and leaves it in the DOM for --dump-dom to return.
PROBE = """<script>
const box = (e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
document.body.dataset.probe = JSON.stringify({
  dots: [...document.querySelectorAll('circle.mean-dot')].map(e => ({
    metric: e.closest('svg').dataset.metric, model: e.dataset.model, box: box(e),
    svg: box(e.closest('svg'))})),
  bars: [...document.querySelectorAll('rect.wtl')].map(e => ({
    metric: e.dataset.metric, kind: e.classList[1], count: +e.dataset.count, box: box(e)})),
  rows: document.querySelectorAll('#examples tbody tr').length,
});
</script>"""


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--window-size=1280,2400", *args, page.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)


def console_errors(stderr: str) -> list[str]:
    return re.findall(r"CONSOLE[^\]]*\] (.*)", stderr)


class Cells(HTMLParser):
    """Collects the text of every element carrying ``data-field`` inside ``tr[data-metric]``."""

    def __init__(self) -> None:
        super().__init__()
        self.metric: str | None = None
        self.field: str | None = None
        self.values: dict[tuple[str, str], str] = {}
        self.probe: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body" and a.get("data-probe"):
            self.probe = a["data-probe"]
        if tag == "tr" and a.get("data-metric"):
            self.metric = a["data-metric"]
        if self.metric and a.get("data-field"):
            self.field = a["data-field"]
            self.values[(self.metric, self.field)] = ""

    def handle_data(self, data: str) -> None:
        if self.metric and self.field:
            self.values[(self.metric, self.field)] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("span", "td"):
            self.field = None
        if tag == "tr":
            self.metric = None


@pytest.fixture
def report(rule_server: RuleServer) -> Any:
    records = chat_records(12)
    for r in records:
        rule_server.answers[r["messages"][-2]["content"]] = r["messages"][-1]["content"]
    url = rule_server.url
    # "half" against "good": ties on the even prompts, losses on the odd ones.
    return Client().evaluate((url, "half"), records, baseline=(url, "good"),
                             metrics=["token_f1", "rouge_l", "exact_match"])


def test_the_page_shows_the_jsons_numbers_and_draws_the_charts(report: Any,
                                                               tmp_path: Path) -> None:
    page = report.to_html(tmp_path / "report.html")
    html = page.read_text()
    # Self-contained: no script, no link or source to fetch, no CSS import.
    assert not re.search(r"<script|<link|\ssrc=|\shref=|@import|url\(", html)
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"))
    run = chromium(probed, tmp_path / "profile", "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    cells = Cells()
    cells.feed(run.stdout)
    data = report.to_json()
    for name, pair in data["pairwise"].items():
        for side in ("tuned", "baseline"):
            for key in ("mean", "ci_low", "ci_high"):
                expected = data["models"][side]["metrics"][name][key]
                assert cells.values[(name, f"{side}.{key}")] == f"{expected:.3f}"
        for key in ("wins", "ties", "losses"):
            assert int(cells.values[(name, key)]) == pair[key]
    assert data["pairwise"]["exact_match"]["losses"] == 6  # the fixture's mixed outcome

    assert cells.probe is not None
    probe = json.loads(cells.probe)
    assert probe["rows"] == data["examples"]
    # One dot per model and metric, inside its chart, placed at its mean on the 0-1 axis.
    assert len(probe["dots"]) == 2 * len(data["pairwise"])
    for dot in probe["dots"]:
        x, _y, w, h = dot["box"]
        sx, _sy, sw, _sh = dot["svg"]
        assert w > 5
        assert h > 5
        assert sx <= x
        assert x + w <= sx + sw
    by = {(d["metric"], d["model"]): d["box"][0] for d in probe["dots"]}
    for name in data["pairwise"]:
        tuned = data["models"]["tuned"]["metrics"][name]["mean"]
        base = data["models"]["baseline"]["metrics"][name]["mean"]
        assert (by[(name, "tuned")] < by[(name, "baseline")]) == (tuned < base)
    # Win/tie/loss bars: widths proportional to the counts.
    for name, pair in data["pairwise"].items():
        bars = {b["kind"]: b for b in probe["bars"] if b["metric"] == name}
        total = sum(b["box"][2] for b in bars.values())
        for kind in ("wins", "ties", "losses"):
            assert bars[kind]["count"] == pair[kind]
            share = pair[kind] / (pair["wins"] + pair["ties"] + pair["losses"])
            assert bars[kind]["box"][2] == pytest.approx(share * total, abs=1.5)


def test_regressions_come_first_and_the_screenshot_has_both_colors(report: Any,
                                                                   tmp_path: Path) -> None:
    page = report.to_html(tmp_path / "report.html")
    html = page.read_text()
    first_row = re.search(r'<tr class="(\w+)" data-index="(\d+)"', html)
    assert first_row is not None
    assert first_row.group(1) == "regression"
    assert int(first_row.group(2)) == report.regressions[0].index
    shot = tmp_path / "shot.png"
    run = chromium(page, tmp_path / "profile", f"--screenshot={shot}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    assert shot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_the_console_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>notDefined();</script></body></html>")
    run = chromium(broken, tmp_path / "profile", "--dump-dom")
    assert any("notDefined" in line for line in console_errors(run.stderr))


def test_model_text_is_escaped(rule_server: RuleServer, tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": "<script>alert(1)</script>"},
                          {"role": "assistant", "content": "<b>x</b>"}]}]
    url = rule_server.url
    report = Client().evaluate((url, "bad"), rows, baseline=(url, "bad"), metrics=["contains"])
    html = report.to_html(tmp_path / "r.html").read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
