"""One test per precedence rule of the layered settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuneport import ConfigError, MissingCredentialsError
from tuneport._config import ProviderSettings, load_settings


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write_toml(folder: Path, text: str) -> None:
    (folder / "tuneport.toml").write_text(text, encoding="utf-8")


def _key(provider: str, **kw: object) -> str | None:
    key = load_settings(provider=provider, **kw).provider_settings(provider).api_key
    return key.get_secret_value() if key else None


def test_defaults_apply_when_nothing_is_set(workdir: Path) -> None:
    s = load_settings()
    assert s.provider is None
    assert s.provider_settings("openai") == ProviderSettings()
    assert s.provider_settings("openai").timeout == 60.0


def test_file_beats_defaults(workdir: Path) -> None:
    _write_toml(workdir, 'provider = "together"\n[providers.together]\napi_key = "from-file"\n')
    s = load_settings()
    assert s.provider == "together"
    assert _key("together") == "from-file"


def test_pyproject_tool_table_is_read(workdir: Path) -> None:
    (workdir / "pyproject.toml").write_text(
        '[project]\nname="x"\n[tool.tuneport]\nprovider = "fireworks"\n', encoding="utf-8"
    )
    assert load_settings().provider == "fireworks"


def test_config_file_found_in_a_parent_folder(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                              ) -> None:
    _write_toml(workdir, 'provider = "openai"\n')
    sub = workdir / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_settings().provider == "openai"


def test_provider_env_beats_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_toml(workdir, '[providers.openai]\napi_key = "from-file"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "from-sdk-env")
    assert _key("openai") == "from-sdk-env"


def test_fireworks_account_id_from_sdk_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", "acct-1")
    assert load_settings().provider_settings("fireworks").account_id == "acct-1"


def test_tuneport_env_beats_provider_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-sdk-env")
    monkeypatch.setenv("TUNEPORT_OPENAI_API_KEY", "from-tuneport-env")
    assert _key("openai") == "from-tuneport-env"


def test_tuneport_provider_env_selects_provider(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                ) -> None:
    _write_toml(workdir, 'provider = "openai"\n')
    monkeypatch.setenv("TUNEPORT_PROVIDER", "together")
    assert load_settings().provider == "together"


def test_client_argument_beats_tuneport_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_OPENAI_API_KEY", "from-tuneport-env")
    assert _key("openai", api_key="from-client") == "from-client"


def test_call_argument_beats_client_argument(workdir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import tuneport

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    client = tuneport.Client(provider="together", api_key="from-client")
    # A method's provider= picks that provider's adapter, with that provider's settings.
    assert client.adapter("openai").name == "openai"
    assert client.provider == "together"  # the client-level choice is unchanged
    client.close()


def test_profile_overlays_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_toml(
        workdir,
        'provider = "together"\n[providers.together]\nbase_url = "http://prod"\n'
        'api_key = "k"\n[profiles.staging.providers.together]\nbase_url = "http://staging"\n',
    )
    s = load_settings(profile="staging")
    assert s.provider_settings("together").base_url == "http://staging"
    assert _key("together", profile="staging") == "k"
    monkeypatch.setenv("TUNEPORT_PROFILE", "staging")
    assert load_settings().provider_settings("together").base_url == "http://staging"


def test_unknown_profile_is_a_clear_error(workdir: Path) -> None:
    _write_toml(workdir, "[profiles.prod]\n")
    with pytest.raises(ConfigError, match=r"Profile 'nope' is not defined.*prod"):
        load_settings(profile="nope")


def test_broken_toml_names_the_file(workdir: Path) -> None:
    _write_toml(workdir, "provider = \n")
    with pytest.raises(ConfigError, match=r"tuneport\.toml is not valid TOML"):
        load_settings()


def test_missing_key_names_the_variable(workdir: Path) -> None:
    ps = load_settings().provider_settings("together")
    with pytest.raises(MissingCredentialsError, match="TOGETHER_API_KEY"):
        ps.require_api_key("together")


def test_secrets_never_appear_in_reprs_or_errors(workdir: Path) -> None:
    s = load_settings(provider="openai", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(s)
    assert "sk-very-secret" not in str(s.model_dump())
    with pytest.raises(ConfigError) as exc:
        load_settings(provider="openai", api_key="sk-very-secret", timeout=-1)
    assert "sk-very-secret" not in str(exc.value)


def test_provider_override_without_provider_is_an_error(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="no provider is selected"):
        load_settings(api_key="x")


def test_home_from_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_HOME", str(workdir / "h"))
    assert load_settings().home == workdir / "h"


def test_together_project_id_from_sdk_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_PROJECT_ID", "proj-1")
    assert load_settings().provider_settings("together").project_id == "proj-1"
