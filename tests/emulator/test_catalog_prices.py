"""Emulated jobs bill trained tokens at the catalog's prices (official SDKs only).

OpenAI reports no cost on a job; Together reports ``total_price`` in nano-dollars and
Fireworks ``estimatedCost`` as a google.type.Money. Both must equal trained tokens times the
catalog's price, and a price in ``TUNEPORT_CATALOG_DIR`` must change what they report.
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
from tuneport.emulator import Emulator  # noqa: E402
from tuneport.emulator._prices import catalog_price_per_million  # noqa: E402

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


def _price(provider: str, model: str, method: str = "sft-lora") -> Decimal:
    return load_catalog().resolve_model(provider, model).methods[method].usd_per_1m


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


def test_together_total_price_is_tokens_times_catalog_price(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    lora = _together_job(emu, train_file, lora=True)
    assert lora.token_count
    assert lora.total_price == round(lora.token_count * _price("together", TOGETHER_MODEL)
                                     * 1000)  # USD per 1M tokens -> nano-dollars per token
    full = _together_job(emu, train_file, lora=False)
    assert full.token_count == lora.token_count
    assert full.total_price == round(full.token_count
                                     * _price("together", TOGETHER_MODEL, "sft-full") * 1000)
    assert full.total_price != lora.total_price


def test_fireworks_estimated_cost_is_tokens_times_catalog_price(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    tokens, cost = _fireworks_job(emu, train_file)
    assert tokens > 0
    expected = tokens * _price("fireworks", FIREWORKS_MODEL) / 10**6
    assert abs(cost - expected) <= Decimal("1e-9")


def test_a_catalog_override_changes_the_bill(
        emu: Emulator, train_file: Path, catalog_dir: Path) -> None:
    before = _together_job(emu, train_file, lora=True)
    (catalog_dir / "together.toml").write_text(
        '[[tiers]]\nname = "up-to-16b"\nprices = { sft-lora = "0.10" }\n')
    (catalog_dir / "fireworks.toml").write_text(
        '[[tiers]]\nname = "up-to-16b"\nprices = { sft-lora = "0.20" }\n')
    clear_catalog_cache()
    after = _together_job(emu, train_file, lora=True)
    assert after.token_count == before.token_count
    assert after.token_count
    assert after.total_price == after.token_count * 100  # $0.10 per 1M = 100 nano$ a token
    assert after.total_price != before.total_price
    tokens, cost = _fireworks_job(emu, train_file)
    assert abs(cost - tokens * Decimal("0.20") / 10**6) <= Decimal("1e-9")


def test_unlisted_model_gets_its_size_tier(catalog_dir: Path) -> None:
    # Not in the catalog: the size in the id picks the provider's tier.
    pc = load_catalog().provider("together")
    tiers = {t.name: float(t.prices["sft-lora"]) for t in pc.tiers}
    assert catalog_price_per_million("together", "someone/New-Model-7B", "lora") == \
        tiers["up-to-16b"]
    assert catalog_price_per_million("together", "someone/New-Model-32B", "lora") == \
        tiers["17b-69b"]
    fw = {t.name: float(t.prices["dpo-lora"]) for t in load_catalog().provider("fireworks").tiers}
    assert catalog_price_per_million("fireworks", "accounts/x/models/new-3p2b", "dpo-lora") == \
        fw["up-to-16b"]
    assert catalog_price_per_million("fireworks", "accounts/x/models/huge-400b", "dpo-lora") == \
        fw["over-300b"]
