"""``print(tuneport.compare(...))`` gives a readable plain-text table."""

from __future__ import annotations

import tuneport


def test_str_of_a_comparison_is_a_ranked_text_table() -> None:
    records = [
        {"messages": [{"role": "user", "content": f"Question {i}?"},
                      {"role": "assistant", "content": f"Answer number {i}."}]}
        for i in range(20)
    ]
    comparison = tuneport.compare(records, model="llama-3.1-8b-instruct", gpus=["H100-SXM"])
    text = str(comparison)
    lines = text.splitlines()
    assert lines[0].startswith("llama-3.1-8b-instruct: 20 examples")
    ranked = [line for line in lines[1:] if not line.startswith("  left out")]
    assert len(ranked) == len(comparison.rows)
    assert ranked[0].lstrip().startswith("1. ")
    assert comparison.rows[0].label in ranked[0]
    assert "together (hosted)" in text
    assert "H100-SXM @" in text
    assert "left out: openai" in text
    assert "CostEstimate(" not in text
