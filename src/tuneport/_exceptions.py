"""tuneport's one exception tree.

Every error tuneport raises on purpose is a :class:`TuneportError`; errors from the
provider SDKs, torch or the filesystem are caught at one boundary per adapter and
re-raised as one of these, chained with ``from`` so the original stays visible.

::

    TuneportError
    ├── ConfigError                      bad or missing configuration (names the setting to fix)
    │   └── MissingCredentialsError      no API key: names the environment variable to set
    ├── DatasetError                     a dataset cannot be read at all (missing file, wrong type)
    │   └── ValidationFailedError        the dataset has errors for the target (.report)
    ├── CatalogError                     a catalog file is malformed or an override is invalid
    ├── UnknownModelError                a model name no catalog knows (.suggestions)
    ├── UnknownProviderError             a provider name no registry knows (.suggestions)
    ├── UnsupportedFeatureError          the target cannot do what was asked
    ├── DoesNotFitError                  a model does not fit the GPUs asked for (cost engine)
    ├── ProviderError                    the provider answered with an error (.status_code)
    │   ├── AuthenticationError          401/403 credentials rejected
    │   ├── ProviderUnavailableError     the service no longer accepts this (e.g. a wind-down)
    │   ├── RateLimitError               429 after tuneport's own retries (.retry_after)
    │   ├── NotFoundError                the job, file or model does not exist there
    │   ├── ConflictError                409: the resource exists (used for adopt-before-retry)
    │   ├── BadRequestError              400/422: the provider refused the request
    │   ├── ServerError                  5xx after retries
    │   └── TransportError               connection dropped or timed out after retries
    ├── JobError                         about a job's outcome
    │   ├── JobFailedError               the job ended failed or cancelled (.job)
    │   └── JobTimeoutError              wait() gave up before the job ended (.job)
    └── LocalBackendError                the local trainer could not start or crashed
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneport._models import Job

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CatalogError",
    "ConfigError",
    "ConflictError",
    "DatasetError",
    "DoesNotFitError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "LocalBackendError",
    "MissingCredentialsError",
    "NotFoundError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "TuneportError",
    "UnknownModelError",
    "UnknownProviderError",
    "UnsupportedFeatureError",
    "ValidationFailedError",
]


class TuneportError(Exception):
    """Base class of every error tuneport raises on purpose."""


class ConfigError(TuneportError):
    """Configuration is missing or invalid; the message names the setting to fix."""


class MissingCredentialsError(ConfigError):
    """No API key was found for a provider.

    Attributes:
        provider: the provider that needs the key.
        env_var: the environment variable that would supply it.
    """

    def __init__(self, provider: str, env_var: str, extra: str = "") -> None:
        self.provider = provider
        self.env_var = env_var
        msg = (
            f"No API key for provider {provider!r}. Set the environment variable {env_var} "
            f"(or TUNEPORT_{provider.upper()}_API_KEY), pass api_key=... to tuneport.Client, "
            f"or add api_key under [providers.{provider}] in tuneport.toml."
        )
        super().__init__(msg + (f" {extra}" if extra else ""))


class DatasetError(TuneportError):
    """A dataset cannot be read at all (missing file, unsupported input type)."""


class ValidationFailedError(DatasetError):
    """The dataset has errors for the chosen target; nothing was uploaded.

    Attributes:
        report: the full :class:`~tuneport.dataset.ValidationReport`.
    """

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class CatalogError(TuneportError):
    """A catalog file (built in or a user override) is malformed."""


class _SuggestingError(TuneportError):
    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message} Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message)


class UnknownModelError(_SuggestingError):
    """A model name that no catalog knows; ``suggestions`` holds the nearest names."""


class UnknownProviderError(_SuggestingError):
    """A provider name that no registry knows; ``suggestions`` holds the nearest names."""


class UnsupportedFeatureError(TuneportError):
    """The target cannot do what was asked (a method, a hyperparameter, a format)."""


class DoesNotFitError(TuneportError):
    """The model does not fit in the memory of the GPUs asked for."""


class ProviderError(TuneportError):
    """The provider answered with an error.

    Attributes:
        provider: the provider's name.
        status_code: the HTTP status, when there was one.
        code: the provider's own error code, when it gave one.
        request_id: the provider's id of the failed request (quote it to their support).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"[{provider}] {message}")
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.request_id = request_id


class AuthenticationError(ProviderError):
    """The provider rejected the credentials (401/403)."""


class ProviderUnavailableError(ProviderError):
    """The provider no longer accepts this request (e.g. OpenAI's self-serve wind-down)."""


class RateLimitError(ProviderError):
    """Rate limited (429) after tuneport's own retries."""

    def __init__(self, message: str, *, provider: str, retry_after: float | None = None,
                 status_code: int | None = 429, code: str | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message, provider=provider, status_code=status_code, code=code,
                         request_id=request_id)
        self.retry_after = retry_after


class NotFoundError(ProviderError):
    """The job, file or model does not exist at the provider."""


class ConflictError(ProviderError):
    """The resource already exists (409)."""


class BadRequestError(ProviderError):
    """The provider refused the request as invalid (400/422)."""


class ServerError(ProviderError):
    """The provider failed (5xx) after tuneport's retries."""


class TransportError(ProviderError):
    """The connection dropped or timed out after tuneport's retries."""


class JobError(TuneportError):
    """About a job's outcome; ``job`` is the last snapshot seen."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class JobFailedError(JobError):
    """The job ended failed or cancelled."""


class JobTimeoutError(JobError):
    """``wait`` gave up before the job ended; the job itself goes on."""


class LocalBackendError(TuneportError):
    """The local trainer could not start or crashed."""
