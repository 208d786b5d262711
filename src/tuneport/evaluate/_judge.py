"""The pairwise LLM judge: which of two answers is better, asked in both orders.

A judge model tends to prefer whichever answer it reads first (position bias). So each
example is judged twice, the answers swapped the second time, and the tuned model wins only
when both verdicts pick it; a loss needs both verdicts against it; anything else (the two
orders disagree, a tie, an unreadable verdict) is a tie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from tuneport._exceptions import ConfigError

__all__ = ["DEFAULT_JUDGE_PROMPT", "Judge", "judge_outcome", "parse_verdict"]

DEFAULT_JUDGE_PROMPT = """You are judging two answers to the same request.

Request:
{question}

Reference answer (what a good answer contains):
{reference}

Answer A:
{answer_a}

Answer B:
{answer_b}

Which answer is better: more correct, more complete with respect to the reference, and
following the request's instructions? Reply with exactly one word: A, B or TIE."""

_VERDICT = re.compile(r"\b(A|B|TIE)\b")


@dataclass
class Judge:
    """An OpenAI-compatible model that compares two answers.

    Args:
        base_url: the endpoint's base URL (with ``/v1``).
        model: the judge model's id.
        api_key: its key, if it needs one (never logged or cached).
        prompt: the template; ``{question}``, ``{reference}``, ``{answer_a}`` and
            ``{answer_b}`` are filled in. It must ask for one word: ``A``, ``B`` or ``TIE``.
        max_tokens: room for the verdict.
    """

    base_url: str
    model: str
    api_key: SecretStr | None = field(default=None, repr=False)
    prompt: str = DEFAULT_JUDGE_PROMPT
    max_tokens: int = 8

    def __post_init__(self) -> None:
        missing = [p for p in ("{answer_a}", "{answer_b}") if p not in self.prompt]
        if missing:
            raise ConfigError(f"The judge prompt must contain {' and '.join(missing)} (where "
                              "the two answers go).")

    def messages(self, question: str, reference: str, answer_a: str,
                 answer_b: str) -> list[dict[str, Any]]:
        """The chat request for one order of the two answers."""
        # Plain replacement, not str.format: answers and prompts may hold braces.
        text = (self.prompt.replace("{question}", question)
                .replace("{reference}", reference)
                .replace("{answer_a}", answer_a)
                .replace("{answer_b}", answer_b))
        return [{"role": "user", "content": text}]


def parse_verdict(text: str) -> Literal["A", "B", "TIE"] | None:
    """The first ``A``, ``B`` or ``TIE`` word in the judge's reply (None when absent)."""
    found = _VERDICT.search(text.strip().upper())
    if found is None:
        return None
    verdict = found.group(1)
    return "A" if verdict == "A" else "B" if verdict == "B" else "TIE"


def judge_outcome(tuned_first: str, baseline_first: str) -> float:
    """The tuned model's score from the two verdicts: 1 win, 0 loss, 0.5 tie.

    Args:
        tuned_first: the judge's reply when the tuned answer was A.
        baseline_first: the judge's reply when the baseline answer was A.
    """
    first, second = parse_verdict(tuned_first), parse_verdict(baseline_first)
    if first == "A" and second == "B":
        return 1.0
    if first == "B" and second == "A":
        return 0.0
    return 0.5
