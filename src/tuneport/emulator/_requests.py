"""Request bodies the real services refuse, refused here too.

Each rule is a small JSON-Schema subset written out from the published request schemas in
``shared/specs`` (``*-finetuning-subset.yaml``): required fields, types, enums and bounds of
the JSON bodies the SDKs send. The emulator ships without the specs, so the rules live here;
``tests/emulator/test_request_schemas.py`` holds them to the specs (same required fields at
every level, no field the spec lacks) so they cannot drift apart silently.

A body that breaks a rule gets the provider's own 400 before any handler runs: OpenAI's
``invalid_request_error`` with ``param``, Together's ``{"error": {...}}`` (the same shape;
whether Together answers 400 or 422 is not documented, 400 is assumed [U]), Fireworks'
google.rpc ``INVALID_ARGUMENT`` (code 3).
"""

from __future__ import annotations

from typing import Any

__all__ = ["RULES", "Problem", "check_body", "rule_for"]

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_NUM: Schema = {"type": "number"}
_BOOL: Schema = {"type": "boolean"}
_OBJ: Schema = {"type": "object"}

# -- Together (together-finetuning-subset.yaml) -------------------------------------------

_TOGETHER_SFT: Schema = {
    "type": "object", "required": ["method", "train_on_inputs"],
    "properties": {"method": {"enum": ["sft"]},
                   "train_on_inputs": {"anyOf": [_BOOL, {"enum": ["auto"]}]}},
}
_TOGETHER_DPO: Schema = {
    "type": "object", "required": ["method"],
    "properties": {"method": {"enum": ["dpo"]}, "dpo_beta": _NUM, "rpo_alpha": _NUM,
                   "dpo_normalize_logratios_by_length": _BOOL, "dpo_reference_free": _BOOL,
                   "simpo_gamma": _NUM},
}
_TOGETHER_FULL: Schema = {"type": "object", "required": ["type"],
                          "properties": {"type": {"enum": ["Full"]}}}
_TOGETHER_LORA: Schema = {
    "type": "object", "required": ["type", "lora_r", "lora_alpha"],
    "properties": {"type": {"enum": ["Lora"]}, "lora_r": _INT, "lora_alpha": _INT,
                   "lora_dropout": _NUM, "lora_trainable_modules": _STR},
}
_TOGETHER_METHOD: Schema = {"oneOf": [_TOGETHER_SFT, _TOGETHER_DPO], "discriminator": "method"}
_TOGETHER_TYPE: Schema = {"oneOf": [_TOGETHER_FULL, _TOGETHER_LORA], "discriminator": "type"}

# The official CLI (together 3.1.1 ``tg fine-tuning create``) sends ``"validation_file":
# null`` when there is none, and the service takes it: null is accepted where the spec
# says string (tests/wire records the CLI's body).
_OPTIONAL_FILE: Schema = {"type": ["string", "null"]}

_TOGETHER_CREATE: Schema = {
    "type": "object", "required": ["training_file", "model"],
    "properties": {
        "training_file": _STR, "validation_file": _OPTIONAL_FILE, "model": _STR,
        "n_epochs": _INT, "n_checkpoints": _INT, "n_evals": _INT,
        "batch_size": {"anyOf": [_INT, {"enum": ["max"]}]},
        "learning_rate": _NUM, "warmup_ratio": _NUM, "max_grad_norm": _NUM,
        "weight_decay": _NUM, "max_seq_length": _INT, "packing": _BOOL, "random_seed": _INT,
        "lr_scheduler": {"type": "object", "required": ["lr_scheduler_type"],
                         "properties": {"lr_scheduler_type": {"enum": ["linear", "cosine"]},
                                        "lr_scheduler_args": _OBJ}},
        "suffix": _STR, "wandb_api_key": _STR, "wandb_base_url": _STR,
        "wandb_project_name": _STR, "wandb_name": _STR, "wandb_entity": _STR,
        "train_on_inputs": {"anyOf": [_BOOL, {"enum": ["auto"]}]},
        "training_method": _TOGETHER_METHOD, "training_type": _TOGETHER_TYPE,
        "from_checkpoint": _STR, "from_hf_model": _STR, "hf_model_revision": _STR,
        "hf_api_token": _STR, "hf_output_repo_name": _STR, "multimodal_params": _OBJ,
    },
}
_TOGETHER_ESTIMATE: Schema = {
    "type": "object", "required": ["training_file"],
    "properties": {
        "training_file": _STR, "validation_file": _OPTIONAL_FILE, "model": _STR,
        "n_epochs": _INT,
        "n_evals": _INT, "training_method": _TOGETHER_METHOD,
        "training_type": {"anyOf": [_TOGETHER_TYPE, {"type": "null"}]},
        "from_checkpoint": _STR,
    },
}

# -- OpenAI (openai-finetuning-subset.yaml) ------------------------------------------------

_AUTO: Schema = {"enum": ["auto"]}
_OPENAI_HYPER: Schema = {
    "type": "object",
    "properties": {
        "batch_size": {"anyOf": [_AUTO, {"type": "integer", "minimum": 1,
                                                     "maximum": 256}]},
        "learning_rate_multiplier": {"anyOf": [_AUTO, {"type": "number",
                                                                   "exclusiveMinimum": 0}]},
        "n_epochs": {"anyOf": [_AUTO, {"type": "integer", "minimum": 1,
                                                   "maximum": 50}]},
        "beta": {"anyOf": [_AUTO, {"type": "number", "exclusiveMinimum": 0,
                                               "maximum": 2}]},
    },
}
_OPENAI_CREATE: Schema = {
    "type": "object", "required": ["model", "training_file"], "additionalProperties": False,
    "properties": {
        "model": _STR, "training_file": _STR,
        "validation_file": {"type": ["string", "null"]},
        "suffix": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
        "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": 2147483647},
        "metadata": {"type": ["object", "null"]},
        "integrations": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["type", "wandb"],
            "properties": {"type": {"enum": ["wandb"]},
                           "wandb": {"type": "object", "required": ["project"]}}}},
        "hyperparameters": _OPENAI_HYPER,
        "method": {
            "type": "object", "required": ["type"],
            "properties": {
                "type": {"enum": ["supervised", "dpo", "reinforcement"]},
                "supervised": {"type": "object",
                               "properties": {"hyperparameters": _OPENAI_HYPER}},
                "dpo": {"type": "object", "properties": {"hyperparameters": _OPENAI_HYPER}},
                "reinforcement": {"type": "object", "required": ["grader"]},
            },
        },
    },
}
_OPENAI_UPLOAD: Schema = {
    "type": "object", "required": ["filename", "purpose", "bytes", "mime_type"],
    "properties": {"filename": _STR, "bytes": _INT, "mime_type": _STR,
                   "purpose": {"enum": ["assistants", "batch", "fine-tune", "vision",
                                        "user_data", "evals"]},
                   "expires_after": _OBJ},
}
_OPENAI_COMPLETE: Schema = {
    "type": "object", "required": ["part_ids"],
    "properties": {"part_ids": {"type": "array", "items": _STR}, "md5": _STR},
}

# -- Fireworks (fireworks-finetuning-subset.yaml) -----------------------------------------

_INT64_TEXT: Schema = {"anyOf": [_INT, {"type": "string", "pattern": "int"}]}
_FIREWORKS_JOB: Schema = {
    "type": "object", "required": ["dataset"],
    "properties": {
        "dataset": _STR, "baseModel": _STR, "warmStartFrom": _STR, "outputModel": _STR,
        "displayName": _STR, "evaluationDataset": _STR, "evalAutoCarveout": _BOOL,
        "epochs": _INT, "learningRate": _NUM, "learningRateWarmupSteps": _INT,
        "loraRank": _INT, "maxContextLength": _INT, "batchSize": _INT,
        "batchSizeSamples": _INT, "gradientAccumulationSteps": _INT,
        "optimizerWeightDecay": _NUM, "isTurbo": _BOOL, "earlyStop": _BOOL,
        "jinjaTemplate": _STR, "wandbConfig": _OBJ, "awsS3Config": _OBJ,
        "azureBlobStorageConfig": _OBJ, "lrScheduler": _OBJ, "nodes": _INT,
    },
}
_FIREWORKS_DATASET: Schema = {
    "type": "object", "required": ["dataset", "datasetId"],
    "properties": {"datasetId": _STR, "sourceDatasetId": _STR, "filter": _STR,
                   "dataset": {"type": "object", "properties": {
                       "exampleCount": _INT64_TEXT, "userUploaded": _OBJ,
                       "displayName": _STR, "format": {"enum": [
                           "FORMAT_UNSPECIFIED", "CHAT", "COMPLETION", "RL"]}}}},
}
_FIREWORKS_UPLOAD_ENDPOINT: Schema = {
    "type": "object", "required": ["filenameToSize"],
    "properties": {"filenameToSize": _OBJ, "readMask": _STR},
}

ACCT = "/v1/accounts/{account_id}"

#: (provider, "METHOD route") -> the schema its JSON body must meet. The route is the path
#: the emulator registers (Fireworks ``:verb`` actions are written after the route).
RULES: dict[tuple[str, str], Schema] = {
    ("together", "POST /v1/fine-tunes"): _TOGETHER_CREATE,
    ("together", "POST /v1/fine-tunes/estimate-price"): _TOGETHER_ESTIMATE,
    ("openai", "POST /fine_tuning/jobs"): _OPENAI_CREATE,
    ("openai", "POST /uploads"): _OPENAI_UPLOAD,
    ("openai", "POST /uploads/{upload_id}/complete"): _OPENAI_COMPLETE,
    ("fireworks", f"POST {ACCT}/supervisedFineTuningJobs"): _FIREWORKS_JOB,
    ("fireworks", f"POST {ACCT}/supervisedFineTuningJobs:estimateCost"): _FIREWORKS_JOB,
    ("fireworks", f"POST {ACCT}/datasets"): _FIREWORKS_DATASET,
    ("fireworks", f"POST {ACCT}/datasets/{{name}}:getUploadEndpoint"):
        _FIREWORKS_UPLOAD_ENDPOINT,
}


class Problem:
    """One way a body breaks its rule: where (dotted path), what kind, and a sentence."""

    def __init__(self, where: str, kind: str, message: str) -> None:
        self.where = where
        self.kind = kind
        self.message = message

    def __repr__(self) -> str:
        return f"Problem({self.where!r}, {self.kind!r})"


def rule_for(provider: str, method: str, route: str, path: str) -> Schema | None:
    """The rule for a request, or ``None`` when its body is not checked."""
    key = f"{method} {route}"
    last = path.rsplit("/", 1)[-1]
    if ":" in last and not route.endswith(last.split(":", 1)[1]):
        key += ":" + last.split(":", 1)[1]
    return RULES.get((provider, key))


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False  # JSON true is not a number
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[kind])


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_body(schema: Schema, value: Any, where: str = "") -> list[Problem]:
    """Every way ``value`` breaks ``schema`` (empty when it meets it)."""
    if "oneOf" in schema or "anyOf" in schema:
        branches = schema.get("oneOf") or schema["anyOf"]
        results = [check_body(b, value, where) for b in branches]
        if any(not r for r in results):
            return []
        tag = schema.get("discriminator")
        if tag and isinstance(value, dict):
            # Report against the branch the body names (e.g. method "sft"), so the message
            # says what that branch lacks rather than that nothing matched.
            for branch, found in zip(branches, results, strict=True):
                if value.get(tag) in branch["properties"][tag]["enum"]:
                    return found
        return min(results, key=len)
    problems: list[Problem] = []
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else kinds
        if not any(_type_ok(value, k) for k in allowed):
            got = type(value).__name__ if value is not None else "null"
            return [Problem(where, "invalid_type",
                            f"Invalid type for '{where or 'body'}': expected "
                            f"{' or '.join(allowed)}, got {got}.")]
    if "enum" in schema and value not in schema["enum"]:
        return [Problem(where, "invalid_value",
                        f"Invalid value for '{where}': {value!r}; supported values are "
                        + ", ".join(repr(v) for v in schema["enum"]) + ".")]
    if isinstance(value, bool) or value is None:
        return problems
    if isinstance(value, int | float):
        low, high = schema.get("minimum"), schema.get("maximum")
        above = schema.get("exclusiveMinimum")
        if (low is not None and value < low) or (high is not None and value > high) or \
                (above is not None and value <= above):
            bounds = (f"> {above}" if above is not None else f">= {low}" if low is not None
                      else "") + (f" and <= {high}" if high is not None else "")
            problems.append(Problem(where, "out_of_range",
                                    f"'{where}' must be {bounds.strip(' and')}; got {value}."))
    if isinstance(value, str):
        short, long = schema.get("minLength"), schema.get("maxLength")
        if (short is not None and len(value) < short) or (long is not None and len(value) > long):
            problems.append(Problem(where, "invalid_length",
                                    f"'{where}' must be {short or 0} to {long} characters; "
                                    f"got {len(value)}."))
        if schema.get("pattern") == "int" and not value.lstrip("-").isdigit():
            problems.append(Problem(where, "invalid_type",
                                    f"'{where}' must be an integer (as text); got {value!r}."))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += check_body(schema["items"], item, f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value or (value[key] is None and where == "" and key != "metadata"):
                problems.append(Problem(_join(where, key), "missing_required_parameter",
                                        f"Missing required parameter: '{_join(where, key)}'."))
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problems += check_body(properties[key], item, _join(where, key))
            elif schema.get("additionalProperties") is False:
                problems.append(Problem(_join(where, key), "unknown_parameter",
                                        f"Unrecognized request argument supplied: "
                                        f"{_join(where, key)}"))
    return problems
