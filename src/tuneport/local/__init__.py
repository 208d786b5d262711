"""The local trainer subsystem: LoRA / full fine-tuning with torch + transformers + peft.

What lives here: the training loop (``trainer``), sequence packing (``packing``), multi-process
training (``distributed``), tokenized data (``data``), model loading (``models``), run
directories (``rundir``), run accounting (``accounting``), training options (``config``) and
the in-process / HTTP model server (``serving``). ``python -m tuneport.local train RUN_DIR``
runs one training run.

The provider adapter that submits runs and reads them back is
:class:`tuneport.providers.local.LocalProvider`; this package knows nothing of the provider
contract. Importing it is light: torch, transformers and peft are imported only by the
trainer and the model helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneport.local.serving import LocalModel

__all__ = ["LocalModel"]


def __getattr__(name: str) -> Any:
    if name == "LocalModel":
        from tuneport.local.serving import LocalModel

        return LocalModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
