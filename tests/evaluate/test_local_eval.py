"""Local evaluation with the tiny model from tuneport.testing, really trained and really
generating: batched generation gives the one-by-one greedy replies, baseline="base" is the
same model without its adapter, and a second run answers from the cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from tuneport import Dataset
from tuneport.client.client import Client
from tuneport.testing import tiny_chat_examples, tiny_model


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory: pytest.TempPathFactory,
                 ) -> Iterator[tuple[Client, Any, Dataset, Path]]:
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TUNEPORT_HOME", str(home))
    model = tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    train, held = Dataset.from_records(tiny_chat_examples(80)).split(validation=0.2, seed=0)
    client = Client(provider="local")
    job = client.wait(client.fine_tune(train, model=str(model), epochs=1, learning_rate=5e-3),
                      timeout=300)
    yield client, job, held, home
    client.close()
    mp.undo()


@pytest.fixture
def trained(trained_once: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Client, Any, Dataset]:
    # Each test gets its own TUNEPORT_HOME (tests/conftest.py); this module shares one run.
    client, job, held, home = trained_once
    monkeypatch.setenv("TUNEPORT_HOME", str(home))
    return client, job, held


def test_batched_generation_equals_one_by_one_greedy(trained: Any) -> None:
    client, job, held = trained
    endpoint = client.endpoint(job)
    prompts = [[m.to_dict() for m in e.messages[:-1]] for e in held.iter_examples()]
    for use_adapter in (True, False):
        batched = [r.text for r in endpoint.chat_batch(prompts, max_tokens=20,
                                                      use_adapter=use_adapter)]
        single = [endpoint._local_model.chat(p, max_tokens=20, use_adapter=use_adapter).text
                  for p in prompts]
        assert batched == single
    assert [r.text for r in endpoint.chat_batch(prompts, max_tokens=20)] != [
        r.text for r in endpoint.chat_batch(prompts, max_tokens=20, use_adapter=False)]


def test_local_job_against_its_base_then_from_the_cache(trained: Any, tmp_path: Path) -> None:
    client, job, held = trained
    n = len(list(held.iter_examples()))
    report = client.evaluate(job, held, max_tokens=20)
    assert report.models["tuned"].model == job.id
    assert report.models["baseline"].model.endswith("(base)")
    assert (report.usage.requests, report.usage.cached, report.failed) == (2 * n, 0, 0)
    assert report.usage.usd == 0.0
    assert report.usage.tokens > 0
    per = {r.index: r for r in report.per_example}
    # The adapter changed the model: some answers differ from the base model's.
    assert any(r.tuned_answer != r.baseline_answer for r in per.values())
    again = client.evaluate(job, held, max_tokens=20, metrics=["token_f1", "chrf"])
    assert (again.usage.requests, again.usage.cached) == (0, 2 * n)
    assert again.models["tuned"].metrics["token_f1"] == report.models["tuned"].metrics["token_f1"]
    html = report.to_html(tmp_path / "r.html")
    assert job.id in html.read_text()


def test_the_demos_last_step_prints_intervals_and_writes_the_report(trained: Any) -> None:
    import io
    import re

    from rich.console import Console

    from tuneport.cli.demo import evaluate_tuned

    client, job, held = trained
    out = io.StringIO()
    report = evaluate_tuned(client, job, held, Console(file=out, width=120))
    text = out.getvalue()
    assert "6. Evaluate" in text
    assert "Evaluation: " in text  # the estimate, before anything ran
    mean = report.models["tuned"].metrics["token_f1"]
    assert f"{mean.mean:.3f} [{mean.ci_low:.3f}, {mean.ci_high:.3f}]" in text
    found = re.search(r"HTML report\s+(\S+)", text)
    assert found is not None
    page = Path(found.group(1))
    assert page.is_file()
    assert page.name == "eval-report.html"
