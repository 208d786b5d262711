"""Dataset.split is deterministic and stratified by length; held-out examples stay out of
training (the ledger remembers them; fine_tune refuses them, naming the lines)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import RuleServer, chat_records, write_jsonl
from tuneport import Dataset
from tuneport._exceptions import ConfigError, DatasetError
from tuneport.client.client import Client
from tuneport.dataset._split import example_hash


def sized(n: int) -> list[dict[str, Any]]:
    # Example i is about i * 7 characters long: rank by size equals rank by i.
    return [{"messages": [{"role": "user", "content": f"q{i} " + "x" * (i * 7)},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(n)]


def indices(ds: Dataset) -> list[int]:
    return sorted(int(e.messages[0].content.split()[0][1:]) for e in ds.iter_examples())


def test_split_is_deterministic_disjoint_and_complete() -> None:
    ds = Dataset.from_records(sized(50))
    train, held = ds.split(validation=0.1, seed=0)
    again_train, again_held = ds.split(validation=0.1, seed=0)
    assert indices(held) == indices(again_held)
    assert indices(train) == indices(again_train)
    assert len(indices(held)) == 5
    assert sorted(indices(train) + indices(held)) == list(range(50))
    assert indices(ds.split(validation=0.1, seed=1)[1]) != indices(held)
    # The file's order does not decide who is held out: the content does.
    shuffled = Dataset.from_records(list(reversed(sized(50))))
    assert indices(shuffled.split(validation=0.1, seed=0)[1]) == indices(held)


@pytest.mark.parametrize("seed", range(5))
def test_split_draws_one_example_per_length_band(seed: int) -> None:
    held = indices(Dataset.from_records(sized(100)).split(validation=0.1, seed=seed)[1])
    # Ten bands of ten by length: exactly one held-out example in each.
    assert sorted(i // 10 for i in held) == list(range(10))


def test_copies_of_an_example_stay_on_one_side() -> None:
    rows = sized(20) + sized(20)[:5]  # five examples twice
    train, held = Dataset.from_records(rows).split(validation=0.25, seed=0)
    train_hashes = {example_hash(e) for e in train.iter_examples()}
    assert not train_hashes & {example_hash(e) for e in held.iter_examples()}
    assert train.heldout_hashes == {example_hash(e) for e in held.iter_examples()}


def test_split_refuses_bad_shares_and_tiny_data() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Dataset.from_records(sized(5)).split(validation=1.5)
    with pytest.raises(DatasetError, match="at least 2"):
        Dataset.from_records(sized(1)).split()


def test_fine_tune_refuses_held_out_examples_of_a_split(client: Client, tmp_path: Path) -> None:
    from tuneport.client.preparing import ProviderAvailabilityWarning

    rows = chat_records(20)
    full = write_jsonl(tmp_path / "all.jsonl", rows)
    train, held = Dataset.from_jsonl(full).split(validation=0.2, seed=0)
    held_lines = sorted(1 + rows.index(e.to_dict()) for e in held.iter_examples())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProviderAvailabilityWarning)
        client.fine_tune(train, model="gpt-4o-mini")  # records the held-out part
        with pytest.raises(DatasetError) as caught:
            client.fine_tune(full, model="gpt-4o-mini", suffix="again")
        assert f"line(s) {', '.join(map(str, held_lines))} are held-out" in str(caught.value)
        assert "allow_overlap=True" in str(caught.value)
        job = client.fine_tune(full, model="gpt-4o-mini", suffix="again", allow_overlap=True)
    assert job.id


def test_evaluating_a_set_holds_it_out_of_later_training(rule_server: RuleServer,
                                                          tmp_path: Path) -> None:
    rows = chat_records(6)
    url = rule_server.url
    Client().evaluate((url, "bad"), rows[:2], baseline=(url, "bad"), metrics=["contains"])
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    # Refused before anything reaches a provider (no key is set for openai here).
    with pytest.raises(DatasetError, match=r"line\(s\) 1, 2 are held-out"):
        Client(provider="openai").fine_tune(data, model="gpt-4o-mini")
    assert json.loads(data.read_text().splitlines()[0]) == rows[0]


def test_cli_submit_refuses_held_out_lines_unless_allowed(rule_server: RuleServer, emu: Any,
                                                          tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tuneport.cli import app

    rows = chat_records(12)  # OpenAI's minimum is 10
    url = rule_server.url
    Client().evaluate((url, "bad"), rows[3:6], baseline=(url, "bad"), metrics=["contains"])
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    args = ["submit", str(data), "-p", "openai", "-m", "gpt-4o-mini", "--json"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "line(s) 4, 5, 6 are held-out" in json.loads(refused.stdout)["error"]
    allowed = CliRunner().invoke(app, [*args, "--allow-overlap"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["provider"] == "openai"
