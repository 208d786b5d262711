"""Every raw status each provider documents maps to a JobStatus; others become unknown."""

from __future__ import annotations

import pytest

from tuneport._models import EndpointState, JobStatus
from tuneport.providers import fireworks, openai, together
from tuneport.providers.base import UnknownStatusWarning, map_status

# The raw values listed in the provider reference (section 0.1), written out here rather than
# read from the adapters so a value dropped from a map fails this test.
LISTED: dict[str, dict[str, JobStatus]] = {
    "openai": {
        "validating_files": JobStatus.VALIDATING, "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING, "paused": JobStatus.PAUSED,
        "succeeded": JobStatus.SUCCEEDED, "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    },
    "together": {
        "pending": JobStatus.QUEUED, "queued": JobStatus.QUEUED, "running": JobStatus.RUNNING,
        "compressing": JobStatus.RUNNING, "uploading": JobStatus.RUNNING,
        "cancel_requested": JobStatus.CANCELLING, "completed": JobStatus.SUCCEEDED,
        "error": JobStatus.FAILED, "user_error": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    },
    "fireworks": {
        f"JOB_STATE_{k}": v for k, v in {
            "VALIDATING": JobStatus.VALIDATING, "CREATING_INPUT_DATASET": JobStatus.VALIDATING,
            "CREATING": JobStatus.QUEUED, "PENDING": JobStatus.QUEUED,
            "RE_QUEUEING": JobStatus.QUEUED, "IDLE": JobStatus.QUEUED,
            "RUNNING": JobStatus.RUNNING, "WRITING_RESULTS": JobStatus.RUNNING,
            "PAUSED": JobStatus.PAUSED, "CANCELLING": JobStatus.CANCELLING,
            "COMPLETED": JobStatus.SUCCEEDED, "EARLY_STOPPED": JobStatus.SUCCEEDED,
            "FAILED": JobStatus.FAILED, "EXPIRED": JobStatus.FAILED,
            "CANCELLED": JobStatus.CANCELLED, "DELETING": JobStatus.DELETED,
            "DELETING_CLEANING_UP": JobStatus.DELETED, "DELETED": JobStatus.DELETED,
            "ARCHIVED": JobStatus.DELETED,
        }.items()
    },
}
MAPS = {
    "openai": openai.OpenAIProvider.STATUS_MAP,
    "together": together.TogetherProvider.STATUS_MAP,
    "fireworks": fireworks.FireworksProvider.STATUS_MAP,
}
CASES = [(p, raw, expected) for p, table in LISTED.items() for raw, expected in table.items()]


@pytest.mark.parametrize(("provider", "raw", "expected"), CASES)
def test_listed_status_maps(provider: str, raw: str, expected: JobStatus) -> None:
    assert map_status(MAPS[provider], raw, provider=provider) is expected


@pytest.mark.parametrize("provider", sorted(MAPS))
@pytest.mark.parametrize("raw", ["brand_new_state", "JOB_STATE_UNSPECIFIED", None])
def test_unlisted_status_is_unknown_with_a_warning(provider: str, raw: str | None) -> None:
    with pytest.warns(UnknownStatusWarning, match=provider):
        assert map_status(MAPS[provider], raw, provider=provider) is JobStatus.UNKNOWN


@pytest.mark.parametrize("provider", sorted(MAPS))
def test_maps_hold_nothing_unlisted(provider: str) -> None:
    assert set(MAPS[provider]) == set(LISTED[provider])


# Deployment states: the Together values from the 3.x SDK's endpoint models, the Fireworks
# ones from the reference (deployments and deployedModels), written out for the same reason.
ENDPOINT_LISTED: dict[str, dict[str, EndpointState]] = {
    "together": {
        f"DEPLOYMENT_STATE_{k}": v for k, v in {
            "PROVISIONING": EndpointState.DEPLOYING, "SCALING": EndpointState.DEPLOYING,
            "READY": EndpointState.READY, "DEGRADED": EndpointState.READY,
            "STOPPING": EndpointState.NOT_DEPLOYED, "STOPPED": EndpointState.NOT_DEPLOYED,
            "FAILED": EndpointState.FAILED,
        }.items()
    },
    "fireworks deployment": {
        "CREATING": EndpointState.DEPLOYING, "UPDATING": EndpointState.DEPLOYING,
        "READY": EndpointState.READY, "FAILED": EndpointState.FAILED,
        "DELETING": EndpointState.NOT_DEPLOYED, "DELETED": EndpointState.NOT_DEPLOYED,
    },
    "fireworks deployed model": {
        "DEPLOYING": EndpointState.DEPLOYING, "UPDATING": EndpointState.DEPLOYING,
        "DEPLOYED": EndpointState.READY, "UNDEPLOYING": EndpointState.NOT_DEPLOYED,
    },
}
ENDPOINT_MAPS = {
    "together": together.DEPLOYMENT_STATES,
    "fireworks deployment": fireworks.DEPLOYMENT_STATES,
    "fireworks deployed model": fireworks.DEPLOYED_MODEL_STATES,
}


@pytest.mark.parametrize(
    ("table", "raw", "expected"),
    [(t, raw, e) for t, values in ENDPOINT_LISTED.items() for raw, e in values.items()],
)
def test_listed_deployment_state_maps(table: str, raw: str, expected: EndpointState) -> None:
    assert ENDPOINT_MAPS[table][raw] is expected


@pytest.mark.parametrize("table", sorted(ENDPOINT_MAPS))
def test_deployment_maps_hold_nothing_unlisted(table: str) -> None:
    assert set(ENDPOINT_MAPS[table]) == set(ENDPOINT_LISTED[table])
