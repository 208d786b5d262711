"""Datasets: read once, validate for every target, count tokens, render to wire formats.

>>> from tuneport.dataset import Dataset
>>> report = Dataset.from_jsonl("examples/data/chat_good.jsonl").validate()  # doctest: +SKIP
"""

from tuneport.dataset._codes import CODES, CodeInfo
from tuneport.dataset._dataset import Dataset, count_tokens
from tuneport.dataset._examples import (
    ChatExample,
    CompletionExample,
    Example,
    Message,
    PreferenceExample,
    TextExample,
)
from tuneport.dataset._report import BilledEstimate, Issue, TokenStats, ValidationReport
from tuneport.dataset._targets import TARGETS, TargetRules, rules_for

__all__ = [
    "CODES",
    "TARGETS",
    "BilledEstimate",
    "ChatExample",
    "CodeInfo",
    "CompletionExample",
    "Dataset",
    "Example",
    "Issue",
    "Message",
    "PreferenceExample",
    "TargetRules",
    "TextExample",
    "TokenStats",
    "ValidationReport",
    "count_tokens",
    "rules_for",
]
