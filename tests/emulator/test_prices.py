"""Emulated jobs bill from the emulator's own price table, never from tuneport's catalog.

The emulator judges tuneport's cost figures, so it must not read them: a price in
``TUNEPORT_CATALOG_DIR`` leaves its bills unchanged. Its table and the catalog are two
transcriptions of the providers' price pages; one test compares them, so a mistake in either
shows up as a difference (official SDKs only; no tuneport code drives the jobs).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from tuneport.catalog import clear_catalog_cache, load_catalog  # noqa: E402
from tuneport.emulator import Emulator, ManualClock, running  # noqa: E402
from tuneport.emulator._prices import fixed_price_per_million, size_billions  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402

TOGETHER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
FIREWORKS_MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
ACCOUNT = "acct1"


@pytest.fixture
def catalog_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty override directory (the developer's own overrides stay out)."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(folder))
    clear_catalog_cache()
    yield folder
    clear_catalog_cache()


def _together_job(emu: Emulator, path: Path, **options: object) -> Any:
    c = together.Together(base_url=emu.together_base_url, api_key=emu.api_key, max_retries=0,
                          project_id="proj-emulator")
    f = c.files.upload(path, purpose="fine-tune", check=False)
    emu.advance(1.0)
    job = c.fine_tuning.create(training_file=f.id, model=TOGETHER_MODEL, n_epochs=2,
                               **options)
    emu.advance(JOB_SECONDS * 1.5)
    done = c.fine_tuning.retrieve(job.id)
    assert done.status == "completed"
    return done


def _fireworks_job(emu: Emulator, path: Path) -> tuple[int, Decimal]:
    c = fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=emu.api_key,
                            max_retries=0, account_id=ACCOUNT)
    c.datasets.create(dataset_id="ds1", dataset={"userUploaded": {}, "exampleCount": "12"})
    c.datasets.upload("ds1", file=path)
    emu.advance(1.0)
    c.supervised_fine_tuning_jobs.create(
        dataset=f"accounts/{ACCOUNT}/datasets/ds1", base_model=FIREWORKS_MODEL, epochs=2,
        extra_query={"supervisedFineTuningJobId": "job-cost"})
    emu.advance(JOB_SECONDS * 1.5)
    job = c.supervised_fine_tuning_jobs.get("job-cost")
    assert job.state == "JOB_STATE_COMPLETED"
    assert job.job_progress is not None
    assert job.estimated_cost is not None
    tokens = int(job.job_progress.input_tokens or 0)
    cost = Decimal(job.estimated_cost.units or 0) + Decimal(job.estimated_cost.nanos or 0) / 10**9
    return tokens, cost


def test_together_total_price_is_tokens_times_the_emulator_price(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    lora = _together_job(emu, train_file, lora=True)
    assert lora.token_count
    # $0.48 per 1M tokens (Together, up to 16B, LoRA SFT) = 480 nano-dollars a token.
    assert lora.total_price == lora.token_count * 480
    full = _together_job(emu, train_file, lora=False)
    assert full.token_count == lora.token_count
    assert full.total_price == full.token_count * 540


def test_fireworks_estimated_cost_is_tokens_times_the_emulator_price(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    tokens, cost = _fireworks_job(emu, train_file)
    assert tokens > 0
    assert abs(cost - tokens * Decimal("0.50") / 10**6) <= Decimal("1e-9")


def test_a_catalog_override_does_not_change_the_bill(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    before = _together_job(emu, train_file, lora=True)
    (catalog_dir / "together.toml").write_text(
        '[[tiers]]\nname = "up-to-16b"\nprices = { sft-lora = "0.10" }\n')
    clear_catalog_cache()
    assert load_catalog().resolve_model("together", TOGETHER_MODEL).methods[
        "sft-lora"].usd_per_1m == Decimal("0.10")  # the override took effect in tuneport
    after = _together_job(emu, train_file, lora=True)
    assert after.total_price == before.total_price


def test_a_caller_can_still_give_its_own_prices(train_file: Path) -> None:
    with running(clock=ManualClock(), job_seconds=JOB_SECONDS,
                 price_per_million=lambda provider, model, method: 2.0) as emu:
        job = _together_job(emu, train_file, lora=True)
    assert job.total_price == job.token_count * 2000


def _catalog_rows() -> list[tuple[str, str, str, Decimal]]:
    rows = []
    catalog = load_catalog()
    for provider in ("together", "fireworks", "openai"):
        for entry in catalog.provider(provider).models:
            for method, price in entry.methods.items():
                rows.append((provider, entry.id, method, price.usd_per_1m))
    return rows


def test_the_emulator_table_and_the_catalog_agree(catalog_dir: Path) -> None:
    # Two transcriptions of the same price pages: every listed model and method must match.
    rows = _catalog_rows()
    assert len(rows) > 40
    differ = [f"{p} {m} {k}: catalog {price}, emulator {fixed_price_per_million(p, m, k)}"
              for p, m, k, price in rows
              if abs(Decimal(str(fixed_price_per_million(p, m, k))) - price) > Decimal("1e-9")]
    assert differ == []


def test_sizes_and_tiers_for_unlisted_models() -> None:
    assert size_billions("someone/New-Model-7B") == 7
    assert size_billions("accounts/x/models/new-3p2b") == 3.2
    assert size_billions("mistralai/Mixtral-8x7B-Instruct-v0.1") == 46.7  # total, not 7
    assert size_billions("no-size-here") is None
    assert fixed_price_per_million("together", "someone/New-Model-32B", "lora") == 1.50
    assert fixed_price_per_million("fireworks", "accounts/x/models/huge-400b", "dpo-lora") == 20
    assert fixed_price_per_million("openai", "ft:gpt-4o-mini-2024-07-18:org::x", "lora") == 3.0
    assert fixed_price_per_million("nobody", "m", "lora") == 0.0
