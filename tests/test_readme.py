"""The README's commands work as written: its code blocks, extracted and run in order.

Every fenced ``bash`` / ``python`` block runs unless an HTML comment just above it says how
to treat it (invisible on the rendered page):

- ``<!-- readme-test: skip (why) -->``: not run here. The demo block is skipped because it
  installs packages and trains for minutes (tests/local covers the trainer and the demo's
  parts); the test-suite block because it is this suite.
- ``<!-- readme-test: install -->``: not run (no network in tests); every extra it names must
  exist in pyproject.toml, so the line works when pasted.
- ``<!-- readme-test: background -->``: the command a user starts in a second terminal (the
  emulator); started here as a process, and the next blocks run once its port answers.

The blocks run against the emulator on loopback only, each in a bounded time. The port the
README uses (8765) is swapped for a free one so parallel runs cannot collide.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_PORT = "8765"
_FENCE = re.compile(
    r"(?:<!-- readme-test: (?P<mark>[a-z]+)[^>]*-->\n)?```(?P<lang>bash|python)\n(?P<body>.*?)```",
    re.S,
)
_EXTRAS = re.compile(r"\[([a-z0-9_,-]+)\]")


def blocks() -> list[tuple[str, str, str]]:
    """(mark, language, body) of every bash/python block, in order."""
    text = README.read_text(encoding="utf-8")
    return [(m["mark"] or "run", m["lang"], m["body"]) for m in _FENCE.finditer(text)]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _wait_for_port(port: str, proc: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the background command ended: {proc.communicate()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", int(port))) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port} within {seconds} s")


def test_the_readme_has_the_blocks_this_test_expects() -> None:
    marks = [mark for mark, _, _ in blocks()]
    # If the README changes shape, this test must be read again, not pass vacuously.
    assert marks.count("skip") == 2
    assert marks.count("install") >= 1
    assert marks.count("background") == 1
    assert sum(1 for mark, lang, _ in blocks() if mark == "run" and lang == "python") >= 1


def test_install_lines_name_extras_that_exist() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    named = [name for mark, _, body in blocks() if mark in ("install", "skip")
             for group in _EXTRAS.findall(body) if "pip install" in body
             for name in group.split(",")]
    assert named, "the README's install lines name no extra"
    assert set(named) <= extras, f"unknown extras: {set(named) - extras}"
    install = [body for mark, _, body in blocks() if mark == "install"]
    # The step after the demo needs the provider SDKs and the emulator.
    assert any({"hosted", "emulator"} <= set(_EXTRAS.findall(b)[0].split(",")) for b in install)


def test_every_install_line_in_the_docs_names_real_extras() -> None:
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    pattern = re.compile(r"(?:tuneport|\.)\[([a-z0-9_,-]+)\]")
    found: dict[str, str] = {}
    for page in pages:
        for line in page.read_text(encoding="utf-8").splitlines():
            if "pip install" in line:
                for group in pattern.findall(line):
                    found.update(dict.fromkeys(group.split(","), page.name))
    assert {"hosted", "local", "emulator"} <= set(found)  # the check reads the lines at all
    unknown = {name: page for name, page in found.items() if name not in extras}
    assert unknown == {}, f"install lines name extras pyproject.toml lacks: {unknown}"


@pytest.mark.slow
def test_the_readme_runs_against_the_emulator(tmp_path: Path) -> None:
    port = _free_port()
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
           "TMPDIR": str(tmp_path), "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    background: list[subprocess.Popen[str]] = []
    ran = 0
    try:
        for mark, lang, body in blocks():
            body = body.replace(README_PORT, port)
            if mark in ("skip", "install"):
                continue
            if mark == "background":
                proc = subprocess.Popen(shlex.split(body.strip()), cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
                background.append(proc)
                _wait_for_port(port, proc, seconds=60)
                continue
            if lang == "bash":
                env_file = tmp_path / "env"
                script = f"set -euo pipefail\n{body}\nenv -0 > {shlex.quote(str(env_file))}\n"
                result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env,
                                        capture_output=True, text=True, timeout=300)
                assert result.returncode == 0, (body, result.stdout[-3000:],
                                                result.stderr[-3000:])
                # What the block exported holds for the next blocks, as in one terminal.
                env = dict(item.split("=", 1) for item in
                           env_file.read_text().split("\0") if "=" in item)
            else:
                result = subprocess.run([sys.executable, "-c", body], cwd=ROOT, env=env,
                                        capture_output=True, text=True, timeout=300)
                assert result.returncode == 0, (body, result.stdout[-3000:],
                                                result.stderr[-3000:])
                assert "Traceback" not in result.stderr
            ran += 1
        assert ran >= 2
        # The tour ended with undeploy: nothing is left billing by the hour.
        listed = subprocess.run([bindir + "/tuneport", "endpoints", "--json"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        live = [e for e in json.loads(listed.stdout)["endpoints"]
                if e.get("state") != "not_deployed"]
        assert live == [], live
    finally:
        for proc in background:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
            if proc.stdout:
                proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()
