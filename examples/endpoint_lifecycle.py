"""Deploy a fine-tuned model, see what it costs, and stop it - offline, on the emulator.

A dedicated deployment (Together, Fireworks) bills by the hour until it is stopped. This
shows the whole lifecycle: deploy with a deadline, chat, list what runs with its cost so
far, stop it, and check that nothing is left::

    python examples/endpoint_lifecycle.py              # Together AI
    python examples/endpoint_lifecycle.py fireworks

Against the real service, drop the emulator block and set the provider's key
(TOGETHER_API_KEY + TOGETHER_PROJECT_ID, or FIREWORKS_API_KEY + FIREWORKS_ACCOUNT_ID).
The same from the command line::

    tuneport endpoint together:ft-... --deploy --wait --stop-after 2h
    tuneport endpoints                  # what runs, $/hour, cost so far, deadline
    tuneport endpoint together:ft-... --stop
    tuneport endpoints --stop-expired   # e.g. from cron: stop what is past its deadline
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta

import tuneport
from tuneport.emulator import running

RECORDS = [
    {"messages": [
        {"role": "user", "content": f"How do I reset password number {i}?"},
        {"role": "assistant", "content": f"Open settings, choose reset, and follow step {i}."},
    ]}
    for i in range(20)
]


def main(provider: str) -> None:
    # A throwaway ledger, so the example never touches your real TUNEPORT_HOME.
    os.environ["TUNEPORT_HOME"] = tempfile.mkdtemp(prefix="tuneport-example-")
    with running(job_seconds=3, file_seconds=0.5, deploy_seconds=1) as emu:
        os.environ.update(emu.env())
        with tuneport.Client(provider=provider) as client:
            job = client.fine_tune(RECORDS, model="llama-3.1-8b-instruct", epochs=1)
            done = client.wait(job, poll=0.5, max_poll=1)

            # Deploying twice gives the same deployment; the deadline is recorded.
            endpoint = client.deploy(done, wait=True, poll=0.5, stop_after=timedelta(hours=2))
            assert client.deploy(done).deployment_id == endpoint.deployment_id
            print(f"deployed {endpoint.model} ({endpoint.state}), "
                  f"${endpoint.hourly_usd}/hour, stop after {endpoint.stop_at:%H:%M} UTC")
            print("reply:", endpoint.chat([{"role": "user", "content": "Reset my password?"}]))

            for running_endpoint in client.endpoints():
                print(f"running: {running_endpoint.provider}:{running_endpoint.job_id} "
                      f"{running_endpoint.state} ${running_endpoint.accrued_usd} so far")

            stopped = client.undeploy(done)
            print(f"after undeploy: {stopped.state}; still running: {client.endpoints()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "together")
