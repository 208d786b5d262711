"""The provider contract as tests a plugin author can run (``tuneport.testing``).

Like fsspec's abstract test classes: subclass :class:`ProviderConformance` in your own test
suite, say how to build your provider and how to let a job run to its end, and pytest runs
every contract test against it. tuneport's four built-in backends run the same suite
(``tests/providers/test_conformance.py``: the hosted ones against the emulator, the local one
training a tiny model), so a third-party provider held to it behaves as the Client expects.

Example (a provider registered through the ``tuneport.providers`` entry point)::

    from tuneport.testing import ProviderConformance

    class TestAcmeConformance(ProviderConformance):
        registered_name = "acme"          # checks the entry point finds your class
        base_model = "acme/small-chat"

        def make_provider(self):
            return AcmeProvider(api_key="test", base_url=self.fake_server_url)

No pytest import happens here: the tests use only ``assert`` and the fixtures pytest passes
to test methods by name (``tmp_path``).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

from tuneport._exceptions import NotFoundError, TuneportError, UnsupportedFeatureError
from tuneport._models import (
    Capability,
    FineTuneSpec,
    Job,
    JobStatus,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
)
from tuneport.providers.base import Provider, UnknownStatusWarning

__all__ = ["ProviderConformance"]

_TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class ProviderConformance:
    """Contract tests every tuneport provider passes; subclass as ``Test...`` to run them.

    Override :meth:`make_provider` (required) and, where the defaults do not fit,
    :attr:`base_model`, :meth:`spec`, :meth:`rendered_dataset`, :meth:`run_to_end` and
    :attr:`missing_job_id`. Set :attr:`registered_name` to also check that the registry
    (built-ins, or your package's entry point) resolves the name to your class.
    """

    #: The name your provider is registered under (None skips the registry check).
    registered_name: ClassVar[str | None] = None
    #: A base model your provider can fine-tune in a test.
    base_model: ClassVar[str] = ""
    #: An id no job has, to check that an unknown job is a :class:`NotFoundError`.
    missing_job_id: ClassVar[str] = "tuneport-conformance-missing-job"
    #: How long :meth:`run_to_end` polls a real backend before failing the test.
    job_timeout: ClassVar[float] = 300.0
    #: How many chat examples the default dataset has.
    examples: ClassVar[int] = 12

    # -- hooks ---------------------------------------------------------------------------

    def make_provider(self) -> Provider:
        """A ready provider pointed at a test double of its service (emulator, fake server)."""
        raise NotImplementedError("Subclasses of ProviderConformance build their provider.")

    def spec(self, **fields: Any) -> FineTuneSpec:
        """The job spec of the tests (a small LoRA job on :attr:`base_model`)."""
        return FineTuneSpec(model=self.base_model, method="lora", **fields)

    def rendered_dataset(self, folder: Path, provider: Provider, tag: str = "") -> RenderedDataset:
        """A small chat dataset in OpenAI chat JSONL, which the built-in backends accept."""
        path = folder / f"conformance-{provider.name}{tag}.jsonl"
        lines = [
            json.dumps({"messages": [
                {"role": "system", "content": "You answer briefly."},
                {"role": "user", "content": f"What is {i} plus {i}?{tag}"},
                {"role": "assistant", "content": f"{2 * i}."},
            ]})
            for i in range(self.examples)
        ]
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(data)
        return RenderedDataset(provider=provider.name, path=path,
                               fingerprint=hashlib.sha256(data).hexdigest(),
                               n_examples=self.examples, n_bytes=len(data), format="chat")

    def run_to_end(self, provider: Provider, job: Job) -> Job:
        """Let ``job`` run until it ends and return it (default: poll every 0.5 s).

        Emulated backends override this to move their clock instead of waiting.
        """
        deadline = time.monotonic() + self.job_timeout
        current = provider.get_job(job.id)
        while not current.is_terminal:
            assert time.monotonic() < deadline, (
                f"{job.id} still {current.status.value} after {self.job_timeout} s")
            time.sleep(0.5)
            current = provider.get_job(job.id)
        return current

    def file_ready(self, provider: Provider, remote: RemoteFile) -> RemoteFile:
        """Wait until the provider has accepted an uploaded file (default: the adapter's wait).

        Emulated backends override this to move their clock first.
        """
        return provider.wait_file_ready(remote, timeout=60)

    # -- helpers -------------------------------------------------------------------------

    def submit(self, provider: Provider, folder: Path, key: str, **spec: Any) -> Job:
        """Upload the test dataset, wait until the provider accepts it, create a job."""
        remote = provider.upload(self.rendered_dataset(folder, provider, tag=key))
        assert isinstance(remote, RemoteFile)
        assert remote.provider == provider.name
        assert remote.id
        return provider.create_job(self.file_ready(provider, remote), self.spec(**spec), key)

    # -- the contract --------------------------------------------------------------------

    def test_declares_what_it_is(self) -> None:
        provider = self.make_provider()
        try:
            assert isinstance(provider, Provider)
            assert isinstance(provider.name, str)
            assert provider.name
            assert provider.capabilities, "declare capabilities: an empty set offers nothing"
            assert all(isinstance(c, Capability) for c in provider.capabilities)
            assert provider.capabilities & {Capability.LORA, Capability.FULL, Capability.DPO}
            statuses = set(provider.STATUS_MAP.values())
            assert all(isinstance(s, JobStatus) for s in statuses)
            assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED} <= statuses, (
                "STATUS_MAP must map the provider's raw end states")
        finally:
            provider.close()

    def test_an_unmapped_status_is_unknown_with_a_warning(self) -> None:
        provider = self.make_provider()
        try:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                status = provider.normalize_status("tuneport-conformance-new-status")
            assert status is JobStatus.UNKNOWN
            assert any(issubclass(w.category, UnknownStatusWarning) for w in seen)
        finally:
            provider.close()

    def test_the_registry_resolves_it(self) -> None:
        if self.registered_name is None:
            return
        from tuneport.providers.registry import get_provider_class

        provider = self.make_provider()
        try:
            assert get_provider_class(self.registered_name) is type(provider)
        finally:
            provider.close()

    def test_an_unknown_job_is_not_found(self) -> None:
        provider = self.make_provider()
        try:
            try:
                provider.get_job(self.missing_job_id)
            except NotFoundError:
                pass
            else:
                raise AssertionError("get_job of an unknown id must raise NotFoundError")
        finally:
            provider.close()

    def test_a_job_runs_from_upload_to_its_endpoint(self, tmp_path: Path) -> None:
        provider = self.make_provider()
        try:
            job = self.submit(provider, tmp_path, "conformance-key-1")
            assert isinstance(job, Job)
            assert job.provider == provider.name
            assert job.id
            assert job.status in JobStatus

            # Adopt-before-retry: the key travels with the job and finds it again.
            found = provider.find_job("conformance-key-1")
            assert found is not None
            assert found.id == job.id
            assert provider.find_job("conformance-key-never-used") is None
            assert job.id in [j.id for j in provider.list_jobs(limit=20)]

            done = self.run_to_end(provider, job)
            assert done.status is JobStatus.SUCCEEDED, (done.status, done.provider_status,
                                                        done.error)
            assert done.is_terminal
            assert provider.get_job(job.id).status is JobStatus.SUCCEEDED

            events = provider.events(job.id)
            assert events, "a job reports at least its creation and its end"
            times = [e.created_at for e in events]
            assert times == sorted(times), "events come in chronological order"
            assert provider.events(job.id, after=events[-1].id) == []

            endpoint = provider.endpoint(done)
            assert isinstance(endpoint, ModelEndpoint)
            assert endpoint.provider == provider.name
            assert endpoint.model
            # Undeploying what was never deployed is harmless, and so is doing it twice.
            provider.undeploy(done)
            provider.undeploy(done)
        finally:
            provider.close()

    def test_cancel_ends_a_job(self, tmp_path: Path) -> None:
        provider = self.make_provider()
        try:
            job = self.submit(provider, tmp_path, "conformance-key-cancel")
            cancelled = provider.cancel_job(job.id)
            assert cancelled.id == job.id
            assert cancelled.status in (JobStatus.CANCELLING, JobStatus.CANCELLED, *_TERMINAL)
            final = self.run_to_end(provider, cancelled)
            # A job may finish before the cancel lands; it must end either way.
            assert final.status in (JobStatus.CANCELLED, JobStatus.SUCCEEDED), final.status
        finally:
            provider.close()

    def test_optional_operations_answer_or_refuse_cleanly(self, tmp_path: Path) -> None:
        provider = self.make_provider()
        try:
            job = self.submit(provider, tmp_path, "conformance-key-optional")
            done = self.run_to_end(provider, job)
            assert isinstance(provider.checkpoints(done.id), list)
            assert isinstance(provider.metrics(done.id), list)
            again: Job | None = None
            refusal = ""
            try:
                again = provider.restart_job(done.id)
            except TuneportError as exc:  # refusing is fine; any other exception is not
                refusal = str(exc)
            # Either a clear refusal, or the finished job as it is (not started again).
            assert refusal or (again is not None and again.status is JobStatus.SUCCEEDED)
            remote = provider.upload(self.rendered_dataset(tmp_path, provider, tag="q"))
            try:
                quote = provider.quote(self.file_ready(provider, remote), self.spec())
            except UnsupportedFeatureError:
                assert Capability.ESTIMATE_API not in provider.capabilities
            else:
                assert quote.provider == provider.name
        finally:
            provider.close()
