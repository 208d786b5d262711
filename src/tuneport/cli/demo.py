"""``tuneport demo``: the whole story on a laptop CPU in a few minutes.

1. validate the sample dataset (``examples/data/support_chat.jsonl``),
2. print the hosted vs self-hosted cost comparison,
3. LoRA fine-tune SmolLM2-135M-Instruct locally with a progress bar,
4. show the base and the fine-tuned model's answers to a held-out prompt side by side,
5. say where the adapter is and how to serve it,
6. evaluate base vs fine-tuned on the examples held out of training (means with 95%
   intervals, wins/ties/losses, a regression if any) and write the HTML report.

Each step is one small function so the pieces owned by other modules (``Dataset``,
``compare``, ``Client``) are called in exactly one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tuneport._exceptions import ConfigError

__all__ = ["DEMO_COMPARE_MODEL", "find_demo_data", "run_demo"]

# The hosted model the cost comparison prices the demo data on (SmolLM2 is not sold hosted).
DEMO_COMPARE_MODEL = "llama-3.1-8b-instruct"
_DATA_NAME = "support_chat.jsonl"
_HELDOUT_NAME = "support_chat_heldout.json"
_RENTED_ROWS_SHOWN = 5
# The share of the data held out of training for step 6, and the reply budget there.
_HELDOUT_SHARE = 0.1
_EVAL_MAX_TOKENS = 48
_ANSWER_MAX_TOKENS = 60


def _display_path(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it (shorter lines)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def find_demo_data() -> Path:
    """The sample dataset: ``examples/data`` under the current folder or the source tree."""
    candidates = [Path.cwd() / "examples" / "data" / _DATA_NAME,
                  Path(__file__).resolve().parents[3] / "examples" / "data" / _DATA_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "The demo's sample data (examples/data/support_chat.jsonl) was not found. Run the demo "
        "from a tuneport checkout, or pass --data PATH (a chat JSONL file)."
    )


def _load_heldout(data: Path) -> list[dict[str, Any]]:
    heldout = data.with_name(_HELDOUT_NAME)
    if heldout.is_file():
        messages: list[dict[str, Any]] = json.loads(heldout.read_text())["messages"]
        return messages
    # Without a held-out file, ask the first training prompt (the demo then shows recall).
    first = json.loads(data.read_text().splitlines()[0])["messages"]
    return [m for m in first if m["role"] != "assistant"][:2]


def validate_dataset(data: Path, console: Any) -> Any:
    """Step 1: read and validate the dataset once for every target; returns the dataset."""
    import tuneport

    dataset = tuneport.Dataset.from_jsonl(data)
    report = dataset.validate(count_tokens=False)
    ok = report.ok_for("local")
    console.print(f"[bold]1. Validate[/] {_display_path(data)}: "
                  + ("[green]valid for local fine-tuning[/]" if ok else "[red]has errors[/]"))
    if not ok:
        for issue in report.errors_for("local")[:10]:
            console.print(f"   {issue}")
        raise ConfigError(f"{data} is not valid for local fine-tuning; fix the lines above.")
    return dataset


def compare_costs(dataset: Any, console: Any, data_arg: str = "DATA.jsonl") -> None:
    """Step 2: the hosted vs self-hosted cost table (skipped with a note if unavailable)."""
    console.print(f"[bold]2. Cost[/] of this dataset on {DEMO_COMPARE_MODEL} "
                  "(hosted vs self-hosted):")
    import tuneport
    from tuneport.cli.cost import print_comparison

    try:
        comparison = tuneport.compare(dataset, model=DEMO_COMPARE_MODEL)
    except tuneport.TuneportError as exc:  # informative only: the demo goes on without it
        console.print(f"   (cost comparison unavailable: {exc})")
        return
    # The same table as `tuneport compare` prints, cut to the hosted rows and the few
    # cheapest rented GPUs: the demo is a tour, not the full market (27 rows today).
    hosted = [r for r in comparison.rows if r.kind == "hosted"]
    rented = [r for r in comparison.rows if r.kind != "hosted"]
    shown = {id(r) for r in hosted + rented[:_RENTED_ROWS_SHOWN]}
    print_comparison(comparison.model_copy(
        update={"rows": tuple(r for r in comparison.rows if id(r) in shown)}), console)
    if len(rented) > _RENTED_ROWS_SHOWN:
        console.print(f"   ({len(rented) - _RENTED_ROWS_SHOWN} more rented-GPU options: "
                      f"tuneport compare {data_arg} -m {DEMO_COMPARE_MODEL})")


def fine_tune(dataset: Any, *, model: str, epochs: int, learning_rate: float,
              max_steps: int | None, console: Any) -> Any:
    """Step 3: LoRA fine-tune locally through :class:`tuneport.Client`, with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    import tuneport

    client = tuneport.Client(provider="local")
    # Evaluate and checkpoint twice (half-way, end) rather than every quarter: less
    # overhead on a 2-core CPU, same training.
    options: dict[str, Any] = {"validation_split": 0.05, "eval_every": 11, "save_every": 11}
    if max_steps is not None:
        options["max_steps"] = max_steps
    job = client.fine_tune(dataset, model=model, method="lora", epochs=epochs,
                           learning_rate=learning_rate, batch_size=8, lora_rank=8, new=True,
                           **options)
    console.print(f"[bold]3. Fine-tune[/] {model} with LoRA on this machine: job {job.id}")
    with Progress(TextColumn("   {task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task("loading model", total=1.0)

        def update(current: Any) -> None:
            raw = current.raw or {}
            loss = raw.get("last_loss")
            text = (f"step {raw.get('step', 0)}/{raw.get('total_steps', '?')}"
                    + (f"  loss {loss:.3f}" if isinstance(loss, float) else ""))
            progress.update(task, completed=current.progress or 0.0,
                            description=text if raw.get("total_steps") else "loading model")

        # Off a terminal rich draws no bar until the end: a plain line every 10 s instead.
        from tuneport.cli._progress import Heartbeat

        with Heartbeat(console, lambda: f"   {progress.tasks[0].description}  "
                                        f"{progress.tasks[0].percentage:.0f}%  "
                                        f"{int(progress.tasks[0].elapsed or 0)} s"):
            job = client.wait(job, poll=1.0, max_poll=2.0, on_update=update)
        progress.update(task, completed=1.0)
    return client, job


def compare_answers(job: Any, messages: list[dict[str, Any]], console: Any) -> tuple[str, str]:
    """Step 4: the base and the fine-tuned model's answers to a held-out prompt."""
    from rich.markup import escape
    from rich.table import Table

    from tuneport.local.serving import LocalModel

    model = LocalModel.from_job(job.id)
    replies = [model.chat(messages, max_tokens=_ANSWER_MAX_TOKENS, use_adapter=False),
               model.chat(messages, max_tokens=_ANSWER_MAX_TOKENS)]
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    table = Table(title=f"Held-out prompt: {prompt!r}", show_lines=True)
    table.add_column("Base model", ratio=1)
    table.add_column("Fine-tuned (LoRA)", ratio=1)
    # A reply cut by the token limit must not read as the model's whole answer.
    table.add_row(*(escape(r.text) + (" [dim](cut at the token limit)[/]"
                                      if r.finish_reason == "length" else "")
                    for r in replies))
    console.print("[bold]4. Compare[/]")
    console.print(table)
    if any(r.finish_reason == "length" for r in replies):
        console.print(f"   A reply marked (cut at the token limit) stopped at "
                      f"{_ANSWER_MAX_TOKENS} new tokens, not where the model would have ended.")
    return replies[0].text, replies[1].text


def explain_serving(client: Any, job: Any, console: Any) -> None:
    """Step 5: where the adapter is and how to call and serve it."""
    endpoint = client.endpoint(job)
    base_folder = (job.raw or {}).get("resolved_model_path") or endpoint.base_model
    console.print("[bold]5. Use it[/]")
    console.print(f"   Adapter     {endpoint.adapter_path}", soft_wrap=True)
    console.print(f"   Base model  {endpoint.base_model}", soft_wrap=True)
    console.print("   In Python   client.endpoint(job).chat(messages)")
    console.print(f"   Serve it    OpenAI-compatible on 127.0.0.1:8765, model={job.id!r}:",
                  soft_wrap=True)
    # Commands on lines of their own, never hard-wrapped, so they can be copied.
    console.print(f"     tuneport serve {job.id} --port 8765", soft_wrap=True, highlight=False)
    console.print("   Production  vLLM with the adapter:")
    console.print(f"     vllm serve {base_folder} --enable-lora "
                  f"--lora-modules {job.id}={endpoint.adapter_path}",
                  soft_wrap=True, highlight=False)
    if job.actual_cost_usd is not None:
        console.print(f"   This run    {job.trained_tokens:,} trained tokens, "
                      f"cost about ${job.actual_cost_usd} ({job.raw.get('cost_basis', '')})",
                      soft_wrap=True)


def evaluate_tuned(client: Any, job: Any, heldout: Any, console: Any) -> Any:
    """Step 6: base vs fine-tuned on the held-out examples; writes the HTML report."""
    from tuneport.evaluate import ProgressPrinter
    from tuneport.local.rundir import RunDir

    console.print("[bold]6. Evaluate[/] base vs fine-tuned on the examples held out of "
                  "training:")
    import importlib.util

    # ROUGE-L comes with the eval extra; without it the demo still scores token F1.
    metrics = ["token_f1"] + (["rouge_l"] if importlib.util.find_spec("rouge_score") else [])
    report = client.evaluate(job, heldout, metrics=metrics,
                             max_tokens=_EVAL_MAX_TOKENS,
                             on_progress=ProgressPrinter(stream=console.file, bar=False))
    for line in report.summary(regressions_shown=1).splitlines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    path = report.to_html(RunDir.for_job(job.id).path / "eval-report.html")
    console.print(f"   HTML report  {path}", soft_wrap=True, highlight=False)
    return report


def run_demo(*, model: str = "smollm2-135m-instruct", data: Path | None = None,
             epochs: int = 1, learning_rate: float = 2e-3, max_steps: int | None = None,
             heldout: list[dict[str, Any]] | None = None, console: Any = None) -> dict[str, Any]:
    """Run the demo end to end; returns what it showed (for tests)."""
    from rich.console import Console

    console = console or Console()
    data = Path(data) if data else find_demo_data()
    dataset = validate_dataset(data, console)
    compare_costs(dataset, console, _display_path(data))
    # Examples set aside now are never trained on: step 6 measures skill, not memory.
    train, heldout_set = dataset.split(validation=_HELDOUT_SHARE, seed=0)
    client, job = fine_tune(train, model=model, epochs=epochs, learning_rate=learning_rate,
                            max_steps=max_steps, console=console)
    messages = heldout or _load_heldout(data)
    base, tuned = compare_answers(job, messages, console)
    explain_serving(client, job, console)
    report = evaluate_tuned(client, job, heldout_set, console)
    return {"job": job, "base_answer": base, "tuned_answer": tuned, "report": report}
