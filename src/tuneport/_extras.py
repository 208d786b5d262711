"""Which ``pip install 'tuneport[EXTRA]'`` brings each optional package.

tuneport imports its optional packages (the providers' SDKs, torch and transformers, the
emulator's web stack, matplotlib) only where they are used. When one is missing, the user
should read one line naming the extra to install, never a ``ModuleNotFoundError`` traceback:
:func:`missing_dependency` builds that error from the :class:`ImportError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tuneport._exceptions import ConfigError

__all__ = ["EXTRA_OF_MODULE", "MissingDependencyError", "extra_for", "missing_dependency"]

#: The extra (in ``pyproject.toml``) that installs each importable top-level module.
EXTRA_OF_MODULE: Mapping[str, str] = {
    "openai": "hosted",
    "together": "hosted",
    "fireworks": "hosted",
    "torch": "local",
    "transformers": "local",
    "peft": "local",
    "accelerate": "local",
    "tokenizers": "local",
    "safetensors": "local",
    "gguf": "local",
    "starlette": "emulator",
    "uvicorn": "emulator",
    "python_multipart": "emulator",
    "multipart": "emulator",
    "matplotlib": "plot",
    "datasets": "hf",
    "wandb": "wandb",
}

# The name to pip-install where it differs from the module's.
_PACKAGE_OF_MODULE: Mapping[str, str] = {
    "fireworks": "fireworks-ai",
    "python_multipart": "python-multipart",
    "multipart": "python-multipart",
}


class MissingDependencyError(ConfigError):
    """An optional package is not installed; the message names the extra that brings it.

    Attributes:
        module: the top-level module that could not be imported.
        extra: the tuneport extra that installs it (``None`` when no extra does).
    """

    def __init__(self, message: str, *, module: str, extra: str | None) -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra


def extra_for(module: str) -> str | None:
    """The extra that installs ``module`` (a dotted name is read by its top level)."""
    return EXTRA_OF_MODULE.get(module.split(".")[0])


def missing_dependency(
    exc: ImportError, purpose: str, *, extra: str | None = None
) -> MissingDependencyError:
    """The one-line error for an optional package that failed to import.

    Args:
        exc: the import error raised where the package was needed.
        purpose: what needed it, as the start of a sentence ("The together provider").
        extra: the extra to name when the module alone does not say (``starlette`` serves
            both the emulator and ``tuneport serve``).

    Returns:
        A :class:`MissingDependencyError` to raise ``from exc``.
    """
    module = (exc.name or "").split(".")[0] or "an optional package"
    package = _PACKAGE_OF_MODULE.get(module, module)
    extra = extra or extra_for(module)
    hint = f"pip install 'tuneport[{extra}]'" if extra else f"pip install {package}"
    return MissingDependencyError(
        f"{purpose} needs {package!r}, which is not installed. Install it with: {hint}",
        module=module, extra=extra,
    )
