"""Multi-process training: torch's DistributedDataParallel, or FSDP for full fine-tuning.

The trainer runs under a launcher (``torchrun`` or ``accelerate launch``), which starts one
process per device and sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``. This module turns the
model into the one *root* module every forward goes through:

* ``ddp``: the model inside :class:`torch.nn.parallel.DistributedDataParallel`; every rank
  holds a full replica, gradients are averaged by DDP's bucketed all-reduce (overlapped
  with the backward pass).
* ``fsdp``: FSDP2 (``torch.distributed.fsdp.fully_shard``) on every decoder layer and on
  the root; parameters, gradients and optimizer state are sharded across ranks, so a full
  fine-tune needs about 1/N of the memory per device.

The root wraps the packed-loss computation (:func:`~.packing.packed_loss`) rather than the
model's own ``forward``: the loss calls the decoder and the LM head separately (the head
runs only at trained positions), and both DDP and FSDP only act on a forward that goes
through the wrapped module.

Both strategies need every rank to run the same number of forward/backward passes per
step; the trainer pads a rank's micro-batches with zero-weight copies for that (see
``_Run._rank_batches``). Both average gradients over ranks, so the trainer scales each
rank's loss by ``world / global_trained_tokens``: the sum over ranks is then exactly the
single-process gradient of the mean loss over the step's trained tokens.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Literal

from tuneport.local.packing import PackedBatch, causal_lm_of, packed_loss

__all__ = ["Distributed", "Strategy", "resolve_strategy"]

Strategy = Literal["ddp", "fsdp"]


def resolve_strategy(setting: str, method: str) -> Strategy:
    """The strategy for ``provider_options["distributed"]`` (``auto``: FSDP for full, else DDP)."""
    if setting == "auto":
        return "fsdp" if method == "full" else "ddp"
    return "fsdp" if setting == "fsdp" else "ddp"


def _loss_module(model: Any) -> Any:
    """An ``nn.Module`` whose forward is the packed loss of ``model`` (the DDP/FSDP root)."""
    from torch import nn

    class PackedLoss(nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.model = inner

        def forward(self, batch: PackedBatch) -> Any:
            if not isinstance(batch, PackedBatch):  # a dpo.PairBatch: reply log-probs
                from tuneport.local.dpo import pair_logps

                return pair_logps(self.model, batch)
            return packed_loss(self.model, batch)

    return PackedLoss(model)


class Distributed:
    """Rank/world info, the root module and the collectives the loop needs.

    With one process every collective is a no-op and the root is the plain loss module.
    """

    def __init__(self, strategy: Strategy = "ddp") -> None:
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.strategy: Strategy | None = strategy if self.world > 1 else None
        # NCCL collectives need GPU tensors, gloo CPU ones.
        self.device = (torch.device("cuda", self.local_rank)
                       if torch.cuda.is_available() and self.world > 1 else torch.device("cpu"))
        if self.world > 1 and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        self.root: Any = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes to the run directory."""
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        """True when parameters are sharded (FSDP): no rank holds the whole model."""
        return self.strategy == "fsdp"

    # -- the root module -----------------------------------------------------------------
    def wrap(self, model: Any) -> Any:
        """Build the root module (plain, DDP or FSDP) around ``model``; returns it."""
        root = _loss_module(model)
        if self.strategy == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            # Every trainable parameter takes part in every loss (packed_loss makes sure
            # even an empty batch touches the LM head), so no unused-parameter search.
            root = DistributedDataParallel(
                root, device_ids=[self.local_rank] if self.device.type == "cuda" else None,
                find_unused_parameters=False)
        elif self.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            causal_lm = causal_lm_of(model)
            layer_classes = set(getattr(causal_lm, "_no_split_modules", None) or ())
            for module in causal_lm.modules():
                if type(module).__name__ in layer_classes:
                    fully_shard(module)
            fully_shard(root)  # embeddings, final norm and LM head: gathered per forward
        self.root = root
        return root

    @contextlib.contextmanager
    def gradient_sync(self, enabled: bool) -> Iterator[None]:
        """Skip the gradient reduction of a micro-batch that is not the step's last one."""
        if self.strategy == "ddp" and not enabled:
            with self.root.no_sync():
                yield
            return
        if self.strategy == "fsdp":
            self.root.set_requires_gradient_sync(enabled)
        yield

    # -- collectives ---------------------------------------------------------------------
    def _reduce(self, values: list[float], op: str) -> list[float]:
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return [float(v) for v in tensor.tolist()]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over ranks."""
        return self._reduce(values, "sum")

    def max(self, value: int) -> int:
        """The largest ``value`` of any rank."""
        return int(self._reduce([float(value)], "max")[0])

    def gather(self, value: float) -> list[float]:
        """``value`` from every rank, in rank order."""
        if self.world == 1:
            return [value]
        import torch
        import torch.distributed as dist

        gathered = [torch.zeros(1, dtype=torch.float64, device=self.device)
                    for _ in range(self.world)]
        dist.all_gather(gathered, torch.tensor([value], dtype=torch.float64, device=self.device))
        return [float(t.item()) for t in gathered]

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Leave the process group."""
        if self.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    # -- state of a sharded model (collective: every rank calls these) -------------------
    def full_model_state(self, *, drop_tied: bool = False) -> dict[str, Any]:
        """The whole model's state dict on rank 0 (CPU tensors; empty on other ranks).

        Keys are the causal LM's own names (as ``save_pretrained`` writes them).
        ``drop_tied`` leaves out weights tied to another (for ``save_pretrained``).
        """
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
        )

        state = get_model_state_dict(
            self.root, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        state = {_strip_root(k): v for k, v in state.items()}
        # Gathering unties shared weights (lm_head = embeddings); save them once, as
        # save_pretrained does for an unsharded model.
        causal_lm = causal_lm_of(self.root.model)
        if drop_tied and getattr(causal_lm.config, "tie_word_embeddings", False):
            tied = getattr(causal_lm, "all_tied_weights_keys", None) or {}
            for key in tied if isinstance(tied, dict) else ():
                state.pop(key, None)
        return state

    def load_full_model_state(self, state: dict[str, Any]) -> None:
        """Shard a full state dict (as :meth:`full_model_state` returns) into the root."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
        )

        set_model_state_dict(self.root, {f"model.{k}": v for k, v in state.items()},
                             options=StateDictOptions(full_state_dict=True))

    def full_optimizer_state(self, optimizer: Any) -> dict[str, Any]:
        """The optimizer's full state dict on rank 0 (keys: parameter names)."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
        )

        state: dict[str, Any] = get_optimizer_state_dict(
            self.root, optimizer,
            options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return state

    def load_full_optimizer_state(self, optimizer: Any, state: dict[str, Any]) -> None:
        """Shard a full optimizer state dict into ``optimizer``."""
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_optimizer_state_dict,
        )

        set_optimizer_state_dict(self.root, optimizer, state,
                                 options=StateDictOptions(full_state_dict=True))


def _strip_root(key: str) -> str:
    return key[len("model."):] if key.startswith("model.") else key
