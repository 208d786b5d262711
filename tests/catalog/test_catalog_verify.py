"""``tuneport catalog verify``: the catalog beside what the provider's SDK lists (emulator).

The emulator answers with its own model lists, training lengths and serving prices (not
tuneport's catalog), so a difference the command reports is a real disagreement between two
independent copies; a catalog override that fixes a value makes that difference go away.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("starlette")
pytest.importorskip("together")

from tuneport.catalog import clear_catalog_cache
from tuneport.cli import app
from tuneport.emulator import Emulator, running

runner = CliRunner()


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture
def overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "catalog"
    folder.mkdir()
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(folder))
    monkeypatch.setenv("TUNEPORT_HOME", str(tmp_path / "home"))
    for var in ("TOGETHER_API_KEY", "FIREWORKS_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    clear_catalog_cache()
    yield folder
    clear_catalog_cache()


def _verify(provider: str, env: dict[str, str]) -> dict[str, Any]:
    result = runner.invoke(app, ["catalog", "verify", "--provider", provider, "--json"],
                           env=env)
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def _together_env(emu: Emulator) -> dict[str, str]:
    return {"TOGETHER_API_KEY": emu.api_key, "TOGETHER_BASE_URL": emu.together_base_url}


def _by(payload: dict[str, Any], field: str) -> dict[str | None, dict[str, Any]]:
    return {d["model"]: d for d in payload["differences"] if d["field"] == field}


def test_together_models_limits_and_prices(emu: Emulator, overrides: Path) -> None:
    payload = _verify("together", _together_env(emu))
    assert set(payload) == {"provider", "models_listed", "models_checked", "differences",
                            "not_checked"}
    assert payload["models_listed"] == 6
    # The emulator trains three of the catalog's models, at the lengths Together publishes.
    assert payload["models_checked"] == 3
    assert _by(payload, "max_tokens_per_example") == {}
    unlisted = _by(payload, "listed")
    assert "Qwen/Qwen3-30B-A3B" in unlisted
    assert "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference" not in unlisted
    assert not [d for d in payload["differences"] if d["field"].startswith("serving.")]
    assert payload["not_checked"] == []


def test_a_wrong_catalog_value_is_reported_and_an_override_fixes_it(
        emu: Emulator, overrides: Path) -> None:
    (overrides / "together.toml").write_text(
        '[[models]]\ncanonical = "llama-3.1-70b-instruct"\n'
        'id = "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"\nparams_b = 70.6\n'
        'context_length = 131072\nmax_tokens_per_example = 131072\n'
        'methods = ["sft-lora", "sft-full"]\n'
        '[provider.serving]\nkind = "per_gpu_hour"\nas_of = 2026-01-01\nsource = "test"\n'
        'options = [{ gpu = "H100-SXM", usd_per_hour = "2.00" }]\n')
    clear_catalog_cache()
    payload = _verify("together", _together_env(emu))
    wrong = _by(payload, "max_tokens_per_example")
    assert wrong["meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"]["provider"] == 24576
    assert "max_tokens_per_example = 24576" in \
        wrong["meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"]["fix"]
    serving = _by(payload, "serving.H100-SXM")[None]
    assert (serving["catalog"], serving["provider"]) == ("2.00", "3.99")
    (overrides / "together.toml").write_text(
        '[[models]]\ncanonical = "llama-3.1-70b-instruct"\n'
        'id = "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"\nparams_b = 70.6\n'
        'context_length = 131072\nmax_tokens_per_example = 24576\n'
        'methods = ["sft-lora", "sft-full"]\n')
    clear_catalog_cache()
    assert _by(_verify("together", _together_env(emu)), "max_tokens_per_example") == {}


def test_fireworks_and_openai(emu: Emulator, overrides: Path) -> None:
    fw = _verify("fireworks", {"FIREWORKS_API_KEY": emu.api_key,
                               "FIREWORKS_BASE_URL": emu.fireworks_base_url,
                               "FIREWORKS_ACCOUNT_ID": "acct1"})
    assert fw["models_checked"] == 5
    assert "accounts/fireworks/models/qwen3-30b-a3b" in _by(fw, "listed")
    assert any("serving prices" in line for line in fw["not_checked"])
    oa = _verify("openai", {"OPENAI_API_KEY": emu.api_key,
                            "OPENAI_BASE_URL": emu.openai_base_url})
    assert oa["differences"] == []
    assert oa["models_checked"] == 6


def test_text_output_and_missing_credentials(emu: Emulator, overrides: Path) -> None:
    result = runner.invoke(app, ["catalog", "verify", "--provider", "openai"],
                           env={"OPENAI_API_KEY": emu.api_key,
                                "OPENAI_BASE_URL": emu.openai_base_url})
    assert result.exit_code == 0
    assert "The catalog agrees with the provider." in result.stdout
    assert emu.api_key not in result.output
    missing = runner.invoke(app, ["catalog", "verify", "--provider", "together"])
    assert missing.exit_code == 2
    assert "TOGETHER_API_KEY" in missing.output
    assert "Traceback" not in missing.output
    unknown = runner.invoke(app, ["catalog", "verify", "--provider", "local", "--json"])
    assert unknown.exit_code == 2
    assert json.loads(unknown.stdout)["type"] == "UnknownProviderError"


def test_the_example_runs(capsys: pytest.CaptureFixture[str], overrides: Path) -> None:
    import runpy

    example = Path(__file__).resolve().parents[2] / "examples" / "catalog_verify.py"
    runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    assert "6 fine-tunable models listed, 3 catalog models checked" in out
    assert "Qwen/Qwen3-30B-A3B listed" in out
    assert "max_tokens_per_example" not in out  # the lengths the emulator lists agree
