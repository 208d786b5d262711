"""The provider registry: lazy built-ins, plugins by entry point, helpful unknown names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tuneport._config import ProviderSettings
from tuneport._exceptions import ConfigError, MissingCredentialsError, UnknownProviderError
from tuneport.providers import registry


def test_builtins_are_listed_without_importing_them() -> None:
    names = registry.available_providers()
    assert {"openai", "together", "fireworks", "local"} <= set(names)
    assert registry.provider_registry["together"].target == (
        "tuneport.providers.together:TogetherProvider"
    )


def test_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(UnknownProviderError, match="Did you mean: openai") as info:
        registry.get_provider("opnai")
    assert info.value.suggestions[0] == "openai"
    assert "tuneport.providers" in str(info.value)


@pytest.mark.parametrize(("name", "var"), [
    ("openai", "OPENAI_API_KEY"), ("together", "TOGETHER_API_KEY"),
    ("fireworks", "FIREWORKS_API_KEY"),
])
def test_missing_key_names_the_variable(name: str, var: str) -> None:
    with pytest.raises(MissingCredentialsError, match=var):
        registry.get_provider(name, ProviderSettings())


def test_builtin_adapter_is_built_from_settings() -> None:
    pytest.importorskip("openai")
    adapter = registry.get_provider(
        "OpenAI", ProviderSettings(api_key="sk-test-123456", base_url="http://127.0.0.1:9/v1")
    )
    try:
        assert type(adapter).__name__ == "OpenAIProvider"
        assert "sk-test-123456" not in repr(adapter)
    finally:
        adapter.close()


def test_register_refuses_to_replace_without_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    with pytest.raises(ConfigError, match="replace=True"):
        registry.register_provider("openai", "x.y:Z")
    registry.register_provider("openai", "x.y:Z", replace=True, install_hint="pip install x")
    with pytest.raises(ConfigError, match="pip install x"):
        registry.get_provider_class("openai")


def test_entry_point_plugins_are_found_lazily_and_never_shadow_builtins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "tp_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tp-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tuneport.providers]\nacme = tp_plugin_mod:AcmeProvider\n"
        "openai = tp_plugin_mod:AcmeProvider\n"
    )
    (tmp_path / "tp_plugin_mod.py").write_text(
        "from tuneport.providers.base import Provider\n"
        "class AcmeProvider(Provider):\n    name = 'acme'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_registry", dict(registry._BUILTINS))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    cls = registry.get_provider_class("acme")
    assert cls.__name__ == "AcmeProvider"
    assert registry._registry["openai"].target == registry._BUILTINS["openai"].target
    assert "acme" in registry.available_providers()
    sys.modules.pop("tp_plugin_mod", None)
