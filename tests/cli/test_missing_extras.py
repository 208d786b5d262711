"""A missing optional package is one line naming the extra to install, exit 2, no traceback.

Each case runs the real ``tuneport`` entry point in a subprocess where the package is made
unimportable the way Python itself supports (``sys.modules[name] = None`` makes ``import name``
raise ``ModuleNotFoundError``), so nothing in tuneport is patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneport.local.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "support_chat.jsonl"


def _run(hidden: list[str], args: list[str], home: Path,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"for name in {hidden!r}:\n"
        "    sys.modules[name] = None\n"
        "from tuneport.cli import main\n"
        f"sys.argv = ['tuneport', *{args!r}]\n"
        "main()\n"
    )
    full_env = {**os.environ, "TUNEPORT_HOME": str(home), **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=ROOT)


def _assert_one_line(result: subprocess.CompletedProcess[str], extra: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"pip install 'tuneport[{extra}]'" in lines[0]
    return lines[0]


@pytest.mark.parametrize(("provider", "sdk", "package", "key_var"), [
    ("together", "together", "together", "TOGETHER_API_KEY"),
    ("openai", "openai", "openai", "OPENAI_API_KEY"),
    ("fireworks", "fireworks", "fireworks-ai", "FIREWORKS_API_KEY"),  # imported as fireworks
])
def test_submit_without_the_sdk_names_the_hosted_extra(tmp_path: Path, provider: str, sdk: str,
                                                        package: str, key_var: str) -> None:
    env = {key_var: "sk-test-not-a-real-key", "FIREWORKS_ACCOUNT_ID": "acct"}
    result = _run([sdk], ["submit", str(DATA), "-p", provider, "-m", "llama-3.1-8b-instruct"],
                  tmp_path, env)
    line = _assert_one_line(result, "hosted")
    assert repr(package) in line
    assert "sk-test-not-a-real-key" not in result.stderr + result.stdout


def test_submit_json_error_has_the_documented_shape(tmp_path: Path) -> None:
    result = _run(["together"], ["submit", str(DATA), "-p", "together", "-m",
                                 "llama-3.1-8b-instruct", "--json"],
                  tmp_path, {"TOGETHER_API_KEY": "k"})
    assert result.returncode == 2, result.stderr
    payload = json.loads(result.stdout)
    assert payload["type"] == "MissingDependencyError"
    assert "tuneport[hosted]" in payload["error"]


def test_emulate_refuses_to_start_without_multipart(tmp_path: Path) -> None:
    # Without python-multipart Starlette would answer 500 to every upload; refuse instead.
    result = _run(["python_multipart", "multipart"], ["emulate", "--port", "0"], tmp_path)
    line = _assert_one_line(result, "emulator")
    assert "emulate" in line
    assert "tuneport emulator on" not in result.stdout


def test_serve_without_transformers_names_the_local_extra(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "runs" / "local-ok")
    rd.path.mkdir(parents=True)
    rd.config_path.write_text(json.dumps({"model": "m", "method": "lora"}))
    rd.update_status(status="succeeded")
    result = _run(["transformers"], ["serve", "local:local-ok"], tmp_path)
    _assert_one_line(result, "local")
    assert "Serving" not in result.stderr


def test_serve_checks_the_job_before_announcing(tmp_path: Path) -> None:
    result = _run([], ["serve", "local:no-such-job"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Serving" not in result.stderr
    assert "No local job 'no-such-job'" in result.stderr
    rd = RunDir(tmp_path / "runs" / "local-running")
    rd.path.mkdir(parents=True)
    rd.config_path.write_text(json.dumps({"model": "m", "method": "lora"}))
    rd.update_status(status="running")
    result = _run([], ["serve", "local-running"], tmp_path)
    assert result.returncode == 2
    assert "is running" in result.stderr
    assert "Serving" not in result.stderr


def test_compare_plot_without_matplotlib_names_the_plot_extra(tmp_path: Path) -> None:
    result = _run(["matplotlib"], ["compare", str(DATA), "-m", "llama-3.1-8b-instruct",
                                   "--providers", "together", "--plot",
                                   str(tmp_path / "c.png")], tmp_path)
    _assert_one_line(result, "plot")
