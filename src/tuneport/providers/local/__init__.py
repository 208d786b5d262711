"""The local PEFT backend: LoRA / full fine-tuning with torch + transformers + peft.

``LocalProvider`` implements the provider contract; the trainer runs in a subprocess
(``python -m tuneport.providers.local train RUN_DIR``). Importing this package is light:
torch, transformers and peft are imported only by the trainer and the model helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneport.providers.local.provider import DEFAULT_PORT, LocalProvider

if TYPE_CHECKING:
    from tuneport.providers.local.serving import LocalModel

__all__ = ["DEFAULT_PORT", "LocalModel", "LocalProvider"]


def __getattr__(name: str) -> Any:
    if name == "LocalModel":
        from tuneport.providers.local.serving import LocalModel

        return LocalModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
