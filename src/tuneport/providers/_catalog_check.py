"""What a provider says about itself, read through its official SDK, beside the catalog.

``tuneport catalog verify --provider P`` lists the provider's fine-tunable models (and, where
the provider publishes them through its API, serving prices and training limits) and
reports every place the catalog (``providers/P.toml`` with the user's overrides) differs:

* OpenAI: ``client.models.list()``; a catalog model id the account cannot see is reported.
  OpenAI's API has no price list.
* Together: ``GET /v1/fine-tunes/models/supported`` (the SDK's raw ``get``, it has no
  method), ``fine_tuning.model_limits`` per catalog model (``max_seq_length_sft`` against
  the catalog's training limit, ``supports_full_training`` against ``sft-full``), and
  ``endpoints.hardware.list()`` (``priceCentsPerHour`` per one-GPU instance type against the
  catalog's serving prices).
* Fireworks: ``client.models.list(account_id="fireworks")`` with the ``tunable`` flag.
  Fireworks' API has no price list.

Nothing is written: the catalog stays as shipped or overridden; the report says what to
change and where.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tuneport.providers import _hosted

if TYPE_CHECKING:
    from tuneport._config import ProviderSettings
    from tuneport.catalog import ProviderCatalog

__all__ = ["Difference", "Listing", "VerifyReport", "compare_listing", "read_listing",
           "verify_provider"]

DEFAULT_ROOTS = {"openai": "https://api.openai.com/v1", "together": "https://api.together.ai",
                 "fireworks": "https://api.fireworks.ai"}


@dataclass
class Listing:
    """What the provider's API says (``None``: the API does not say)."""

    provider: str
    models: set[str]
    max_tokens: dict[str, int] = field(default_factory=dict)
    full_training: dict[str, bool] = field(default_factory=dict)
    serving_usd_per_gpu_hour: dict[str, Decimal] | None = None


@dataclass
class Difference:
    """One place the catalog and the provider disagree."""

    model: str | None
    field: str
    catalog: Any
    provider: Any
    fix: str


@dataclass
class VerifyReport:
    """The outcome of a verify run (``as_dict`` is the ``--json`` shape)."""

    provider: str
    models_listed: int
    models_checked: int
    differences: list[Difference]
    not_checked: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {"provider": self.provider, "models_listed": self.models_listed,
                "models_checked": self.models_checked,
                "differences": [asdict(d) for d in self.differences],
                "not_checked": self.not_checked}


def _gpu_label(gpu_type: str) -> str:
    return gpu_type.upper().replace("NVIDIA", "").replace("_", "-").strip("- ")


def read_listing(provider: str, settings: ProviderSettings,
                 catalog: ProviderCatalog) -> Listing:
    """Ask the provider, through its SDK, what it offers.

    Raises:
        MissingCredentialsError: no API key is configured.
        TuneportError: the provider refused or could not be reached (mapped SDK errors).
    """
    from tuneport._config import PROVIDER_ENV

    env = PROVIDER_ENV[provider]
    key = _hosted.require_key(provider, settings.api_key, env["api_key"])
    secrets = (key.get_secret_value(),)
    base = (settings.base_url or DEFAULT_ROOTS[provider]).rstrip("/")
    if provider == "openai":
        import openai

        with openai.OpenAI(api_key=key.get_secret_value(), base_url=base, max_retries=1,
                           timeout=settings.timeout) as client, \
                _hosted.map_errors(provider, openai, "listing models", secrets=secrets):
            return Listing(provider, {m.id for m in client.models.list()})
    if provider == "together":
        return _together(key.get_secret_value(), base.removesuffix("/v1"), settings, catalog)
    if provider == "fireworks":
        import fireworks

        fw = fireworks.Fireworks(api_key=key.get_secret_value(), base_url=base,
                                 max_retries=1, timeout=settings.timeout,
                                 account_id=settings.account_id or "fireworks")
        with fw, _hosted.map_errors(provider, fireworks, "listing models", secrets=secrets):
            names = {str(m.name) for m in fw.models.list(account_id="fireworks")
                     if getattr(m, "tunable", None) is not False}
        return Listing(provider, names)
    raise ValueError(f"catalog verify knows openai, together and fireworks, not {provider!r}")


def _together(key: str, root: str, settings: ProviderSettings,
              catalog: ProviderCatalog) -> Listing:
    import httpx
    import together

    client = together.Together(api_key=key, base_url=root, max_retries=1,
                               timeout=settings.timeout)
    with client, _hosted.map_errors("together", together, "listing models", secrets=(key,)):
        supported = client.get("/v1/fine-tunes/models/supported", cast_to=httpx.Response)
        listing = Listing("together", set(supported.json().get("models") or []))
        for entry in catalog.models:
            if entry.id not in listing.models:
                continue
            limits = client.fine_tuning.model_limits(model_name=entry.id)
            listing.max_tokens[entry.id] = int(limits.max_seq_length_sft)
            listing.full_training[entry.id] = bool(limits.supports_full_training)
        prices: dict[str, Decimal] = {}
        for kind in client.endpoints.hardware.list().data:
            if kind.gpu_count == 1:
                prices[_gpu_label(kind.gpu_type)] = Decimal(kind.price_cents_per_hour) / 100
        listing.serving_usd_per_gpu_hour = prices
    return listing


def compare_listing(catalog: ProviderCatalog, listing: Listing) -> VerifyReport:
    """Every place ``catalog`` says something ``listing`` contradicts."""
    where = f"providers/{catalog.name}.toml (or an override in $TUNEPORT_CATALOG_DIR)"
    differences: list[Difference] = []
    checked = 0
    for entry in catalog.models:
        if entry.id not in listing.models:
            differences.append(Difference(
                entry.id, "listed", True, False,
                f"the provider does not list {entry.id} as fine-tunable: remove or rename it "
                f"in {where}"))
            continue
        checked += 1
        limit = listing.max_tokens.get(entry.id)
        if limit is not None and limit != entry.max_tokens_per_example:
            differences.append(Difference(
                entry.id, "max_tokens_per_example", entry.max_tokens_per_example, limit,
                f"set max_tokens_per_example = {limit} for {entry.canonical} in {where}"))
        full = listing.full_training.get(entry.id)
        if full is not None and full != ("sft-full" in entry.methods):
            differences.append(Difference(
                entry.id, "methods.sft-full", "sft-full" in entry.methods, full,
                f"{'add' if full else 'remove'} sft-full for {entry.canonical} in {where}"))
    not_checked = []
    if listing.serving_usd_per_gpu_hour is None:
        not_checked.append(f"serving prices: {catalog.display_name}'s API does not publish "
                           "them; compare with its pricing page")
    elif catalog.serving is not None:
        for option in catalog.serving.options:
            label = _gpu_label(option.gpu).split("-")[0]
            listed = listing.serving_usd_per_gpu_hour.get(label)
            if listed is None:
                differences.append(Difference(
                    None, f"serving.{option.gpu}", str(option.usd_per_hour), None,
                    f"the provider lists no one-GPU {label} instance: check {where}"))
            elif listed != option.usd_per_hour:
                differences.append(Difference(
                    None, f"serving.{option.gpu}", str(option.usd_per_hour), str(listed),
                    f"set usd_per_hour = \"{listed}\" for {option.gpu} in {where} (with "
                    "as_of and source)"))
    if not listing.max_tokens and catalog.name != "together":
        not_checked.append("training limits: the provider's API does not publish them")
    return VerifyReport(catalog.name, len(listing.models), checked, differences, not_checked)


def verify_provider(provider: str, settings: ProviderSettings,
                    catalog: ProviderCatalog) -> VerifyReport:
    """Read the provider's listing and compare it with ``catalog``."""
    return compare_listing(catalog, read_listing(provider, settings, catalog))
