"""The local backend in the normalized endpoint lifecycle: nothing to deploy, nothing billed.

``deploy`` creates nothing (the notes say how to serve it: ``tuneport serve``), the model
answers in-process, ``undeploy`` is a no-op that says so, and the ledger records nothing
(``endpoints()`` lists what bills by the hour).
"""

from __future__ import annotations

from pathlib import Path

from local_helpers import log_of, start, wait

from tuneport._models import JobStatus
from tuneport.client.client import Client
from tuneport.providers.local import LocalProvider


def test_deploy_explains_serve_and_undeploy_stops_nothing(
    provider: LocalProvider, home: Path, tiny_data: Path, tiny_model_path: Path,
) -> None:
    job = start(provider, tiny_data, tiny_model_path, key="lifecycle", epochs=1)
    job = wait(provider, job.id)
    assert job.status is JobStatus.SUCCEEDED, log_of(home, job.id)
    with Client(provider="local") as client:
        endpoint = client.deploy(job, wait=True)
        assert endpoint.kind == "local"
        assert endpoint.hourly_usd is None
        assert any(f"tuneport serve {job.id}" in note for note in endpoint.notes)
        assert endpoint.chat([{"role": "user", "content": "hi"}], max_tokens=4) is not None
        assert client.endpoints() == []
        stopped = client.undeploy(job)
        assert stopped.kind == "local"
        assert any("nothing to stop" in note for note in stopped.notes)
        assert client.undeploy(job).kind == "local"  # again: harmless
        assert client.endpoints() == []
