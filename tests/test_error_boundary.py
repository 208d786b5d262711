"""One error boundary: the public API, given wrong types and values, raises only tuneport errors.

Each call below is a plausible slip (a string for a number, a number for a name, zero retries,
a list for a dict). Whatever goes wrong inside (pydantic, ``TypeError`` in a helper, an
``AttributeError`` on a wrong object), the caller must meet a :class:`TuneportError` that says
which argument and how to fix it, so one ``except tuneport.TuneportError`` is enough.

Hosted calls point at a closed loopback port with one attempt, so nothing leaves the machine
and nothing waits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tuneport

DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "support_chat.jsonl"
# Port 9 (discard) on loopback: nothing listens, a connection is refused at once.
CLOSED = "http://127.0.0.1:9"


def _ds() -> tuneport.Dataset:
    return tuneport.Dataset.from_jsonl(DATA)


def _hosted() -> tuneport.Client:
    return tuneport.Client(provider="together", api_key="sk-test", base_url=CLOSED, retry=1)


def _local() -> tuneport.Client:
    return tuneport.Client(provider="local", retry=1)


def _tune(client: Callable[[], tuneport.Client], **kwargs: Any) -> Callable[[], object]:
    options: dict[str, Any] = {"model": "llama-3.1-8b-instruct"}
    options.update(kwargs)
    return lambda: client().fine_tune(_ds(), **options)


CASES: dict[str, Callable[[], object]] = {
    # Client construction
    "Client retry=0": lambda: tuneport.Client(provider="together", retry=0),
    "Client retry='3'": lambda: tuneport.Client(provider="together", retry="3"),  # type: ignore[arg-type]
    "Client retry=99": lambda: tuneport.Client(provider="together", retry=99),
    "Client provider=3": lambda: tuneport.Client(provider=3),  # type: ignore[arg-type]
    "Client provider unknown": lambda: tuneport.Client(provider="togther").adapter(),
    "Client timeout='slow'": lambda: tuneport.Client(provider="openai", timeout="slow"),  # type: ignore[arg-type]
    "Client timeout=-1": lambda: tuneport.Client(provider="openai", timeout=-1),
    "load_settings retry": lambda: tuneport.load_settings(retry={"attempts": "x"}),
    # Datasets
    "Dataset.from_jsonl missing": lambda: tuneport.Dataset.from_jsonl("no/such/file.jsonl"),
    "Dataset.from_jsonl 3": lambda: tuneport.Dataset.from_jsonl(3),  # type: ignore[arg-type]
    "validate unknown target": lambda: _ds().validate(targets=["openia"]),
    "validate unknown model": lambda: _ds().validate(model="gpt-9"),
    # Costs
    "compare unknown model": lambda: tuneport.compare(_ds(), model="llama-3.1-8b"),
    "compare epochs='three'": lambda: tuneport.compare(_ds(), model="gpt-4o-mini",
                                                       epochs="three"),  # type: ignore[arg-type]
    "compare missing file": lambda: tuneport.compare("no/such.jsonl", model="gpt-4o-mini"),
    "compare validation_fraction=1": lambda: tuneport.compare(_ds(), model="gpt-4o-mini",
                                                              validation_fraction=1),
    # Fine-tuning arguments (refused before anything is uploaded)
    "fine_tune epochs='three'": _tune(_hosted, epochs="three"),
    "fine_tune epochs=[3]": _tune(_hosted, epochs=[3]),
    "fine_tune learning_rate='fast'": _tune(_hosted, learning_rate="fast"),
    "fine_tune batch_size='big'": _tune(_hosted, batch_size="big"),
    "fine_tune lora_rank='r'": _tune(_local, model="smollm2-135m-instruct", lora_rank="r"),
    "fine_tune suffix=5": _tune(_hosted, suffix=5),
    "fine_tune method='sft'": _tune(_hosted, method="sft"),
    "fine_tune wandb={}": _tune(_hosted, wandb={"entity": "me"}),
    "fine_tune provider_options=[]": _tune(_hosted, provider_options=["x"]),
    "fine_tune unknown model": _tune(_hosted, model="llama-9"),
    "fine_tune dataset=3": lambda: _hosted().fine_tune(3, model="llama-3.1-8b-instruct"),
    # Jobs
    "get_job unknown id": lambda: _hosted().get_job("no-such-job"),
    "get_job provider typo": lambda: _hosted().get_job("togther:ft-1"),
    "get_job unreachable": lambda: _hosted().get_job("together:ft-1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_only_tuneport_errors_come_out(name: str) -> None:
    with pytest.raises(tuneport.TuneportError) as caught:
        CASES[name]()
    message = str(caught.value)
    assert message.strip(), "an error must say something"
    assert "sk-test" not in message  # the key never shows
    assert "Traceback" not in message


async def test_the_async_client_has_the_same_boundary() -> None:
    with pytest.raises(tuneport.ConfigError, match="retry="):
        tuneport.AsyncClient(provider="together", retry=0)
    client = tuneport.AsyncClient(provider="together", api_key="sk-test", base_url=CLOSED,
                                  retry=1)
    with pytest.raises(tuneport.ConfigError, match="epochs"):
        await client.fine_tune(_ds(), model="llama-3.1-8b-instruct", epochs="three")
    with pytest.raises(tuneport.TuneportError):
        await client.get_job("together:ft-1")


def test_a_type_slip_names_the_argument_and_its_fix() -> None:
    with pytest.raises(tuneport.ConfigError) as caught:
        _tune(_hosted, epochs="three")()
    assert "epochs" in str(caught.value)
    assert "Fix: epochs= takes a whole number" in str(caught.value)
    with pytest.raises(tuneport.ConfigError) as retry:
        tuneport.Client(provider="together", retry=0)
    assert "retry=" in str(retry.value)
    assert "from 1 to 20" in str(retry.value)
