"""The serving-price matcher: catalog prices for a provider's hardware id; None when the
catalog cannot say (unknown GPU or provider, a broken override)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tuneport.catalog import load_catalog
from tuneport.providers._hosted import serving_hourly_usd


def test_hardware_ids_match_catalog_gpus() -> None:
    together = load_catalog().provider("together").serving
    assert together is not None
    h100 = next(o for o in together.options if o.gpu == "H100-SXM")
    assert serving_hourly_usd("together", "1x_nvidia_h100_80gb_sxm") == h100.usd_per_hour
    assert serving_hourly_usd("together", "2x_nvidia_h100_80gb_sxm") == 2 * h100.usd_per_hour
    assert serving_hourly_usd("together", "1x_unknown_gpu") is None


def test_a_provider_the_catalog_lacks_has_no_price() -> None:
    assert serving_hourly_usd("acme-plugin", "H100") is None


def test_a_broken_catalog_override_gives_no_price(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's broken override must not fail a deploy: the price is information only.
    (tmp_path / "together.toml").write_text("this is [not toml")
    monkeypatch.setenv("TUNEPORT_CATALOG_DIR", str(tmp_path))
    assert serving_hourly_usd("together", "1x_nvidia_h100_80gb_sxm") is None
    monkeypatch.delenv("TUNEPORT_CATALOG_DIR")
    assert isinstance(serving_hourly_usd("fireworks", "NVIDIA_H100_80GB"), Decimal)
