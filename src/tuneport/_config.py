"""Layered settings.

Precedence, highest first (one test per rule in ``tests/test_config.py``):

1. a call argument (a method's ``provider=``, such as ``client.fine_tune(..., provider=...)``)
2. a ``Client(...)`` argument
3. ``TUNEPORT_*`` environment variables (``TUNEPORT_PROVIDER``, ``TUNEPORT_HOME``,
   ``TUNEPORT_<PROVIDER>_API_KEY``, ``TUNEPORT_<PROVIDER>_BASE_URL``, ...)
4. the provider's own environment variables (``OPENAI_API_KEY``, ``TOGETHER_BASE_URL``,
   ``FIREWORKS_ACCOUNT_ID``, ...), the ones its official SDK reads
5. ``tuneport.toml`` (found from the working directory upwards, or ``TUNEPORT_CONFIG``), or
   ``[tool.tuneport]`` in ``pyproject.toml``; a ``[profiles.NAME]`` table overlays the rest
   when that profile is selected (``profile=`` or ``TUNEPORT_PROFILE``)
6. defaults

Secrets are :class:`pydantic.SecretStr`: they never show in reprs, logs or errors.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tuneport._exceptions import ConfigError, MissingCredentialsError

__all__ = [
    "PROVIDER_ENV",
    "ProviderSettings",
    "RetryPolicy",
    "Settings",
    "default_home",
    "find_config_file",
    "invalid_argument",
    "load_settings",
]

#: The environment variables each official SDK reads, by setting.
PROVIDER_ENV: Mapping[str, Mapping[str, str]] = {
    "openai": {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL"},
    "together": {
        "api_key": "TOGETHER_API_KEY",
        "base_url": "TOGETHER_BASE_URL",
        "project_id": "TOGETHER_PROJECT_ID",
    },
    "fireworks": {
        "api_key": "FIREWORKS_API_KEY",
        "base_url": "FIREWORKS_BASE_URL",
        "account_id": "FIREWORKS_ACCOUNT_ID",
    },
}

_PROVIDER_FIELDS = ("api_key", "base_url", "account_id", "project_id", "timeout", "max_retries")
_TOP_FIELDS = ("provider", "home", "catalog_dir", "profile")


def default_home() -> Path:
    """Where tuneport keeps its ledger and local runs unless ``TUNEPORT_HOME`` says otherwise."""
    import platformdirs

    return Path(platformdirs.user_data_dir("tuneport", appauthor=False))


class RetryPolicy(BaseModel):
    """How tuneport retries a provider call that failed transiently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=4, ge=1, le=20)
    initial_backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = Field(default=20.0, ge=0)


class ProviderSettings(BaseModel):
    """Settings of one provider."""

    model_config = ConfigDict(extra="allow", frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = None
    account_id: str | None = None
    project_id: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int | None = Field(default=None, ge=0)

    def require_api_key(self, provider: str) -> SecretStr:
        """The API key, or :class:`MissingCredentialsError` naming the variable to set."""
        if self.api_key is None or not self.api_key.get_secret_value():
            env = PROVIDER_ENV.get(provider, {}).get("api_key", f"{provider.upper()}_API_KEY")
            raise MissingCredentialsError(provider, env)
        return self.api_key


class Settings(BaseSettings):
    """All of tuneport's settings, resolved from every layer."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    provider: str | None = None
    profile: str | None = None
    home: Path = Field(default_factory=default_home)
    catalog_dir: Path | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest priority first; pydantic-settings deep-merges the dicts they return.
        return (
            init_settings,
            _TuneportEnvSource(settings_cls),
            _ProviderEnvSource(settings_cls),
            _FileSource(settings_cls),
        )

    def provider_settings(self, name: str) -> ProviderSettings:
        """The settings of provider ``name`` (defaults when none were given)."""
        return self.providers.get(name, ProviderSettings())


def _apply_overrides(
    data: dict[str, Any], provider: str | None, overrides: Mapping[str, Any]
) -> None:
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _PROVIDER_FIELDS:
            if provider is None:
                raise ConfigError(
                    f"{key}= was given but no provider is selected; pass provider=... as well."
                )
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            data.setdefault("providers", {}).setdefault(provider, {})[key] = value
        elif key == "providers" and isinstance(value, Mapping):
            for name, sub in value.items():
                data.setdefault("providers", {}).setdefault(name, {}).update(dict(sub))
        else:
            data[key] = value
    for prov in data.get("providers", {}).values():
        key = prov.get("api_key")
        if isinstance(key, SecretStr):
            prov["api_key"] = key.get_secret_value()


#: How to fix each argument a user passes, for the one-line error (by field name).
_FIXES: Mapping[str, str] = {
    "attempts": "retry= takes a whole number of attempts from 1 to 20 (1 means no retry) "
                "or a tuneport.RetryPolicy",
    "initial_backoff": "initial_backoff takes seconds, 0 or more",
    "max_backoff": "max_backoff takes seconds, 0 or more",
    "timeout": "timeout= takes seconds, a number above 0",
    "max_retries": "max_retries= takes a whole number, 0 or more",
    "provider": "provider= takes a name such as 'openai', 'together', 'fireworks' or 'local'",
    "epochs": "epochs= takes a whole number such as 3, or 'auto'",
    "learning_rate": "learning_rate= takes a number such as 1e-4",
    "batch_size": "batch_size= takes a whole number, 'auto' or 'max'",
    "lora_rank": "lora_rank= takes a whole number such as 16",
    "lora_alpha": "lora_alpha= takes a whole number such as 32",
    "lora_dropout": "lora_dropout= takes a number from 0 to 1 such as 0.05",
    "seed": "seed= takes a whole number",
    "suffix": "suffix= takes a short string",
    "method": "method= takes 'lora', 'full', 'qlora', 'dpo-lora' or 'dpo-full'",
    "model": "model= takes a model name string such as 'llama-3.1-8b-instruct'",
    "project": "wandb= needs a project: {'project': 'NAME'}",
    "provider_options": "provider_options= takes a dict",
}


def _explain(exc: ValidationError, what: str = "tuneport settings") -> str:
    parts: list[str] = []
    fixes: list[str] = []
    for err in exc.errors():
        # pydantic adds the union member tried ('int', "literal['auto']") to the location.
        loc = [str(p) for p in err["loc"] if not _is_union_member(p)]
        name = ".".join(loc) or "value"
        # Never echo the input: it may be a secret. Its type is enough to see the slip.
        got = type(err.get("input")).__name__ if err["type"] != "missing" else None
        part = f"{name}: {err['msg']}" + (f" (got {got})" if got else "")
        if part not in parts:
            parts.append(part)
        fix = _FIXES.get(loc[-1]) if loc else None
        if fix and fix not in fixes:
            fixes.append(fix)
    message = f"Invalid {what}: " + "; ".join(parts) + "."
    return message + (" Fix: " + "; ".join(fixes) + "." if fixes else "")


def _is_union_member(part: object) -> bool:
    text = str(part)
    return text in {"int", "float", "str", "bool"} or text.startswith(("literal[", "function-"))


def invalid_argument(exc: ValidationError, what: str) -> ConfigError:
    """The :class:`ConfigError` for arguments pydantic refused: each field, and its fix.

    Public calls catch :class:`pydantic.ValidationError` at their edge and raise this, so a
    caller only ever meets tuneport's own errors.

    Args:
        exc: the validation error.
        what: what was being built, for the message ("fine-tuning options").
    """
    return ConfigError(_explain(exc, what))


def load_settings(
    provider: str | None = None, profile: str | None = None, **overrides: Any
) -> Settings:
    """Resolve settings from every layer; keyword arguments are the ``Client(...)`` layer.

    Args:
        provider: the provider to use by default (``openai``, ``together``,
            ``fireworks``, ``local``).
        profile: a ``[profiles.NAME]`` table of ``tuneport.toml`` to overlay.
        **overrides: ``api_key``, ``base_url``, ``account_id``, ``timeout``, ``max_retries`` for
            the selected provider, or top-level settings (``home``, ``catalog_dir``, ``retry``).

    Raises:
        ConfigError: a value is invalid or the config file cannot be read.
    """
    init: dict[str, Any] = {}
    if profile is not None:
        init["profile"] = profile
    effective_provider = provider or _peek_provider(profile)
    if provider is not None:
        init["provider"] = provider
    _apply_overrides(init, effective_provider, overrides)
    try:
        return Settings(**init)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def _peek_provider(profile: str | None) -> str | None:
    """The provider the lower layers select, to know where provider-level overrides go."""
    env = os.environ.get("TUNEPORT_PROVIDER")
    if env:
        return env
    data = _read_file_layer(profile or os.environ.get("TUNEPORT_PROFILE"))
    value = data.get("provider")
    return value if isinstance(value, str) else None


class _TuneportEnvSource(PydanticBaseSettingsSource):
    """``TUNEPORT_*`` variables, flat names for nested settings."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = os.environ
        out: dict[str, Any] = {}
        for name in _TOP_FIELDS:
            value = env.get(f"TUNEPORT_{name.upper()}")
            if value:
                out[name] = value
        retry = {
            k: env[f"TUNEPORT_RETRY_{k.upper()}"]
            for k in ("attempts", "initial_backoff", "max_backoff")
            if env.get(f"TUNEPORT_RETRY_{k.upper()}")
        }
        if retry:
            out["retry"] = retry
        providers: dict[str, dict[str, Any]] = {}
        prefix = "TUNEPORT_"
        for key, value in env.items():
            if not key.startswith(prefix) or not value:
                continue
            rest = key[len(prefix):].lower()
            for field in _PROVIDER_FIELDS:
                suffix = "_" + field
                if rest.endswith(suffix) and len(rest) > len(suffix):
                    providers.setdefault(rest[: -len(suffix)], {})[field] = value
                    break
        if providers:
            out["providers"] = providers
        return out


class _ProviderEnvSource(PydanticBaseSettingsSource):
    """The official SDKs' own variables (``OPENAI_API_KEY`` ...)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        providers: dict[str, dict[str, Any]] = {}
        for provider, fields in PROVIDER_ENV.items():
            for field, var in fields.items():
                value = os.environ.get(var)
                if value:
                    providers.setdefault(provider, {})[field] = value
        return {"providers": providers} if providers else {}


class _FileSource(PydanticBaseSettingsSource):
    """``tuneport.toml`` or ``[tool.tuneport]``, with the selected profile overlaid."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        current = self.current_state
        profile = current.get("profile") or os.environ.get("TUNEPORT_PROFILE")
        return _read_file_layer(profile)


def find_config_file(start: Path | None = None) -> Path | None:
    """The config file in effect: ``TUNEPORT_CONFIG``, else the nearest ``tuneport.toml``
    or ``pyproject.toml`` with a ``[tool.tuneport]`` table, from ``start`` upwards."""
    explicit = os.environ.get("TUNEPORT_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"TUNEPORT_CONFIG points to {path}, which is not a file.")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "tuneport.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "tuneport" in _load_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the file or unset it.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None


def _read_file_layer(profile: str | None) -> dict[str, Any]:
    path = find_config_file()
    if path is None:
        return {}
    data = _load_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("tuneport", {})
    profiles = data.pop("profiles", {})
    if profile:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"Profile {profile!r} is not defined in {path} (profiles there: {known}). "
                f"Add a [profiles.{profile}] table or choose another profile."
            )
        _deep_merge(data, profiles[profile])
        data["profile"] = profile
    return data


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> None:
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
