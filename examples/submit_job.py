"""Submit one dataset to a hosted provider, follow it, deploy it and chat with it - offline.

Everything runs against tuneport's loopback emulator of the OpenAI, Together and Fireworks
APIs, through the providers' official SDKs, so no key or network is needed::

    python examples/submit_job.py                 # Together AI
    python examples/submit_job.py fireworks       # or openai

Against the real service, drop the emulator block and set the provider's key
(TOGETHER_API_KEY, FIREWORKS_API_KEY + FIREWORKS_ACCOUNT_ID, or OPENAI_API_KEY).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings

import tuneport
from tuneport.emulator import running

MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}

RECORDS = [
    {"messages": [
        {"role": "system", "content": "You are a terse support bot."},
        {"role": "user", "content": f"How do I reset password number {i}?"},
        {"role": "assistant", "content": f"Open settings, choose reset, and follow step {i}."},
    ]}
    for i in range(20)
]


def main(provider: str) -> None:
    # A throwaway ledger, so the example never touches your real TUNEPORT_HOME.
    os.environ["TUNEPORT_HOME"] = tempfile.mkdtemp(prefix="tuneport-example-")
    # Jobs take 4 seconds here (minutes to hours on the real services).
    with running(job_seconds=4, file_seconds=0.5, deploy_seconds=1) as emu:
        os.environ.update(emu.env())
        os.environ.setdefault("TOGETHER_PROJECT_ID", "example-project")

        with tuneport.Client(provider=provider) as client:
            dataset = tuneport.Dataset.from_records(RECORDS)
            with warnings.catch_warnings():
                warnings.simplefilter("always")  # show OpenAI's wind-down dates, if any
                job = client.fine_tune(dataset, model=MODELS[provider], epochs=2,
                                       on_progress=lambda stage, info: print(f"  {stage}"))
            print(f"submitted {job.provider}:{job.id} ({job.status})")

            again = client.fine_tune(dataset, model=MODELS[provider], epochs=2)
            print(f"same call again -> same job: {again.id == job.id}")

            done = client.wait(job, poll=0.5, max_poll=1,
                               on_update=lambda j: print(f"  {j.status} {j.provider_status}"))
            print(f"finished: {done.fine_tuned_model}")
            for event in client.events(done)[-3:]:
                print(f"  event: {event.message}")

            # A dedicated deployment on Together/Fireworks (nothing to create on OpenAI);
            # wait=True follows it until it is ready to answer.
            endpoint = client.deploy(done, wait=True, poll=0.5)
            print(f"endpoint: {endpoint.base_url} model={endpoint.model} "
                  f"({endpoint.kind}, {endpoint.state}, ${endpoint.hourly_usd or 0}/h)")
            chat = endpoint.openai_client()
            reply = chat.chat.completions.create(
                model=endpoint.model,
                messages=[{"role": "user", "content": "How do I reset my password?"}],
            )
            chat.close()
            print(f"reply: {reply.choices[0].message.content}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "together")
