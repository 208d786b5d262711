"""An adapter offers what its ``capabilities`` say, and nothing when they say nothing."""

from __future__ import annotations

from typing import ClassVar

import pytest
from client_fakes import FakeProvider

from tuneport._config import ProviderSettings
from tuneport._exceptions import UnsupportedFeatureError
from tuneport._models import Capability
from tuneport.client.preparing import check_method


class _Undeclared(FakeProvider):
    name: ClassVar[str] = "undeclared"
    capabilities: ClassVar[frozenset[Capability]] = frozenset()


def test_declared_methods_pass_and_others_are_refused() -> None:
    adapter = FakeProvider(ProviderSettings())
    check_method(adapter, "lora")
    check_method(adapter, "full")
    with pytest.raises(UnsupportedFeatureError, match="offers: lora, full"):
        check_method(adapter, "dpo-lora")


def test_an_empty_set_is_not_a_wildcard() -> None:
    with pytest.raises(UnsupportedFeatureError, match="declares no capabilities"):
        check_method(_Undeclared(ProviderSettings()), "lora")
