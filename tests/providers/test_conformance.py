"""The four built-in backends run the conformance suite plugin authors run.

``tuneport.testing.ProviderConformance`` holds the contract; each class here says only how
to build one backend and how to let its jobs end: the hosted adapters with their official
SDKs against the emulator (its clock moved by the test), the local backend training a tiny
model for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hosted_helpers import JOB_SECONDS, MODELS, make_provider

from tuneport._models import FineTuneSpec, Job, RemoteFile
from tuneport.providers.base import Provider
from tuneport.testing import ProviderConformance


class _Emulated(ProviderConformance):
    provider_name: ClassVar[str]

    @pytest.fixture(autouse=True)
    def _emulator(self, emulator: Any) -> None:
        self.emu = emulator

    def make_provider(self) -> Provider:
        return make_provider(self.provider_name, self.emu)

    def file_ready(self, provider: Provider, remote: RemoteFile) -> RemoteFile:
        self.emu.advance(2)  # the emulated file validation / dataset ingestion
        return super().file_ready(provider, remote)

    def run_to_end(self, provider: Provider, job: Job) -> Job:
        self.emu.advance(JOB_SECONDS + 1)
        return provider.get_job(job.id)


class TestOpenAIConformance(_Emulated):
    provider_name = registered_name = "openai"
    base_model = MODELS["openai"]
    missing_job_id = "ftjob-missing"


class TestTogetherConformance(_Emulated):
    provider_name = registered_name = "together"
    base_model = MODELS["together"]


class TestFireworksConformance(_Emulated):
    provider_name = registered_name = "fireworks"
    base_model = MODELS["fireworks"]


@pytest.mark.training
class TestLocalConformance(ProviderConformance):
    registered_name = "local"
    job_timeout = 240.0

    @pytest.fixture(autouse=True)
    def _tiny(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        pytest.importorskip("peft")
        from tuneport.testing import tiny_model

        folder = tmp_path_factory.getbasetemp() / "conformance-tiny-model"
        if not (folder / "config.json").exists():
            tiny_model(folder)
        self.model_path = folder

    def make_provider(self) -> Provider:
        from tuneport.providers.local import LocalProvider

        return LocalProvider()

    def spec(self, **fields: Any) -> FineTuneSpec:
        # One short epoch on one thread: the contract, not the training, is under test.
        return FineTuneSpec(model=str(self.model_path), method="lora", epochs=1,
                            batch_size=4, provider_options={"threads": 1}, **fields)

    def test_the_tiny_model_is_what_trains(self) -> None:
        assert json.loads((Path(self.model_path) / "config.json").read_text())


def test_the_suite_fails_a_provider_that_breaks_the_contract(emulator: Any) -> None:
    from tuneport.providers.openai import OpenAIProvider

    class Undeclared(OpenAIProvider):
        capabilities = frozenset()

    class Unregistered(TestOpenAIConformance):
        def make_provider(self) -> Provider:
            return Undeclared(api_key=emulator.api_key, base_url=emulator.openai_base_url)

    suite = Unregistered()
    suite.emu = emulator
    with pytest.raises(AssertionError, match="empty set offers nothing"):
        suite.test_declares_what_it_is()
    with pytest.raises(AssertionError):
        suite.test_the_registry_resolves_it()  # "openai" resolves to the real class
