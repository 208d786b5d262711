"""``LocalProvider``: the local PEFT backend behind the same contract as hosted providers.

A thin adapter over :mod:`tuneport.local` (the trainer, run directories and serving).

``create_job`` writes the run directory and starts the trainer in a subprocess (under
``torchrun`` for ``devices > 1``), returning at once; every other method reads the run
directory, so jobs survive the Python process that created them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from tuneport._exceptions import (
    ConfigError,
    DatasetError,
    LocalBackendError,
    NotFoundError,
    UnsupportedFeatureError,
)
from tuneport._models import (
    Capability,
    Checkpoint,
    EndpointState,
    FineTuneSpec,
    Job,
    JobErrorInfo,
    JobEvent,
    JobStatus,
    MetricPoint,
    ModelEndpoint,
    RemoteFile,
    RenderedDataset,
)
from tuneport.local.config import config_from_spec
from tuneport.local.models import check_model_available
from tuneport.local.rundir import (
    RunDir,
    home_scope,
    private_dir,
    runs_root,
    tuneport_home,
    utcnow,
    write_json_atomic,
)
from tuneport.providers.base import Provider

if TYPE_CHECKING:
    from tuneport._config import ProviderSettings
    from tuneport.local.serving import LocalModel
    from tuneport.providers._file_wait import FileReadiness

__all__ = ["DEFAULT_PORT", "LocalModel", "LocalProvider"]


def __getattr__(name: str) -> Any:
    # ``from tuneport.providers.local import LocalModel`` worked when the trainer lived
    # here; it still does, without loading torch until asked.
    if name == "LocalModel":
        from tuneport.local.serving import LocalModel

        return LocalModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

DEFAULT_PORT = 8765
_ACTIVE = ("queued", "running", "cancelling")

# The trainer must outlive the Python process that submitted it, like a hosted job, and
# must not be that process's child (a child left running when it exits is a resource
# leak; a finished one is a zombie until reaped). So a short-lived shim starts it in a
# new session, prints its pid and exits; the trainer is then re-parented to init.
_DETACH = (
    "import os, subprocess, sys\n"
    # Everything the trainer writes (log, checkpoints, weights) is learnt from user data:
    # owner-only whatever the caller's umask.
    "os.umask(0o077)\n"
    "log = open(sys.argv[1], 'ab')\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT,"
    " stdin=subprocess.DEVNULL, start_new_session=True)\n"
    "print(p.pid)\n"
)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/PID/stat field 22).

    A pid is reused once its process is gone; the pair (pid, start time) names one process.
    None where there is no /proc (then nothing is signalled; the cancel file still works).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _proven_trainer(status: dict[str, Any]) -> bool:
    """Whether the pid in ``status`` is still the trainer launched for this run.

    Proof: the process has the start time recorded at launch and leads its own process
    group (the trainer starts a new session). A status.json from elsewhere, or a pid since
    reused by another process, proves nothing, so nothing is signalled.
    """
    pid, started = status.get("launcher_pid"), status.get("launcher_start")
    if not isinstance(pid, int) or pid <= 1 or not isinstance(started, int):
        return False
    if not _pid_alive(pid) or _start_ticks(pid) != started:
        return False
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _trainer_alive(status: dict[str, Any]) -> bool:
    """The run's trainer still runs (its pid alive and, when recorded, its start time)."""
    pid = status.get("launcher_pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return False
    started = status.get("launcher_start")
    return started is None or _start_ticks(pid) in (started, None)


def _device_count(value: Any) -> int:
    """``devices=`` as a process count: an int, or ``"auto"`` (every GPU, else 1)."""
    if value in (None, "auto"):
        try:
            import torch

            return max(1, torch.cuda.device_count())
        except ImportError:
            return 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"devices must be a positive integer or 'auto', not {value!r}.") from None
    if count < 1:
        raise ConfigError("devices must be at least 1.")
    return count


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _launch_command(module: list[str], devices: int, launcher: str) -> list[str]:
    """The trainer's command line: plain Python, or N processes under a launcher.

    ``torchrun --standalone`` picks a free rendezvous port itself; ``accelerate launch``
    (a front-end to the same elastic launcher) is given one, as its default 29500 may be
    taken by another run.
    """
    if devices == 1:
        return [sys.executable, *module]
    if launcher == "accelerate":
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                "--num_processes", str(devices), "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(_free_port()), *module]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={devices}", *module]


def _read_serve_info(rd: RunDir) -> dict[str, Any]:
    """What ``tuneport serve`` wrote about itself (``serve.json``: pid, port), if running."""
    import json

    try:
        data: dict[str, Any] = json.loads((rd.path / "serve.json").read_text())
    except (OSError, ValueError):
        return {}
    return data


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class LocalProvider(Provider):
    """Fine-tune on this machine with torch + transformers + peft.

    Runs live under ``TUNEPORT_HOME/runs/<job_id>/`` (see
    :mod:`tuneport.local.rundir`). Training options beyond the
    :class:`~tuneport._models.FineTuneSpec` fields go in ``provider_options``: see
    :data:`tuneport.local.config.OPTION_NAMES` (e.g. ``devices``,
    ``max_seq_len``, ``over_length``, ``validation_split``, ``merge``).
    """

    name: ClassVar[str] = "local"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.LORA, Capability.FULL, Capability.QLORA, Capability.DPO,
        Capability.CLIENT_JOB_ID, Capability.EVENTS, Capability.CHECKPOINTS, Capability.METRICS,
        Capability.WANDB, Capability.RESUME,
    })
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "cancelling": JobStatus.CANCELLING,
        "succeeded": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "crashed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
        "interrupted": JobStatus.PAUSED,
    }

    def __init__(self, *, port: int = DEFAULT_PORT, home: Path | str | None = None) -> None:
        self.port = port
        self.home: Path | None = None
        self.bind_home(home)

    @classmethod
    def from_settings(cls, settings: ProviderSettings) -> Self:
        """Build from ``[providers.local]`` settings (``port``: the default serve port;
        ``home``: where runs, files and throughput records live)."""
        extra = settings.model_extra or {}
        return cls(port=int(extra.get("port", DEFAULT_PORT)), home=extra.get("home"))

    def bind_home(self, home: Path | str | None) -> None:
        """Keep runs, uploaded files and accounting under ``home`` (the Client's ``home=``).

        None: ``TUNEPORT_HOME`` or the platform default, read at each call.
        """
        self.home = Path(home).expanduser() if home is not None else None

    def wait_file_ready(self, file: RemoteFile, *, timeout: float = 600.0) -> RemoteFile:
        """A stored local file is ready at once; a deleted one must be uploaded again."""
        self.file_readiness(file, fresh=True)
        return file

    def file_readiness(self, file: RemoteFile, *, fresh: bool) -> FileReadiness:
        """Ready when the stored copy exists.

        Raises:
            NotFoundError: the copy was deleted: upload again.
        """
        if not Path(file.id).is_file():
            raise NotFoundError(f"Local copy {file.id} no longer exists.", provider="local",
                                status_code=404)
        return "ready"

    # -- files ---------------------------------------------------------------------------
    def upload(self, rendered: RenderedDataset) -> RemoteFile:
        """Copy the rendered JSONL into ``TUNEPORT_HOME/files`` (content-addressed)."""
        source = Path(rendered.path)
        if not source.is_file():
            raise DatasetError(f"Rendered dataset not found: {source}")
        target = tuneport_home() / "files" / f"{rendered.fingerprint}.jsonl"
        if not target.is_file():
            private_dir(target.parent)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o600)  # a copy of the user's training data
            tmp.replace(target)
        return RemoteFile(provider="local", id=str(target), fingerprint=rendered.fingerprint,
                          n_bytes=target.stat().st_size, status="processed")

    # -- jobs ----------------------------------------------------------------------------
    def create_job(self, file: RemoteFile, spec: FineTuneSpec, idempotency_key: str,
                   validation_file: RemoteFile | None = None) -> Job:
        """Write the run directory and start the trainer; returns the queued job at once."""
        # A base model that cannot be found is refused now, not by the trainer a minute later.
        check_model_available(spec.model)
        if spec.method == "qlora":
            self._check_qlora()
        job_id = f"local-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        config = config_from_spec(
            spec, job_id=job_id, train_file=file.id,
            validation_file=validation_file.id if validation_file else None,
            idempotency_key=idempotency_key,
        )
        config.devices = _device_count(spec.provider_options.get("devices", 1))
        rd = RunDir.for_job(job_id)
        private_dir(rd.path.parent)
        rd.path.mkdir(mode=0o700)  # exist_ok=False: a fresh id never reuses a folder
        os.chmod(rd.path, 0o700)
        for name, remote in (("train.jsonl", file), ("validation.jsonl", validation_file)):
            if remote is None:
                continue
            source = Path(remote.id)
            if not source.is_file():
                shutil.rmtree(rd.path, ignore_errors=True)
                raise DatasetError(f"Local file {source} not found; upload the dataset again.")
            try:
                os.link(source, rd.path / name)
            except OSError:
                shutil.copyfile(source, rd.path / name)
            os.chmod(rd.path / name, 0o600)
        config.train_file = str(rd.path / "train.jsonl")
        if validation_file is not None:
            config.validation_file = str(rd.path / "validation.jsonl")
        write_json_atomic(rd.config_path, config.model_dump(mode="json"))
        rd.update_status(status="queued", created_at=utcnow().isoformat())
        rd.append_event(f"Created local job {job_id} ({config.method}, {config.model})",
                        type="status")
        self._launch(rd, resume=False, wandb_key=self._wandb_key(spec))
        return self.get_job(job_id)

    @staticmethod
    def _check_qlora() -> None:
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            raise UnsupportedFeatureError(
                "QLoRA needs bitsandbytes and a CUDA GPU (pip install bitsandbytes); "
                "use method='lora' on this machine.")
        import torch

        if not torch.cuda.is_available():
            raise UnsupportedFeatureError(
                "QLoRA needs a CUDA GPU; none is available here. Use method='lora'.")

    @staticmethod
    def _wandb_key(spec: FineTuneSpec) -> str | None:
        if spec.wandb is not None and spec.wandb.api_key is not None:
            return spec.wandb.api_key.get_secret_value()
        return None

    def _launch(self, rd: RunDir, *, resume: bool, wandb_key: str | None = None) -> None:
        config = rd.read_config()
        devices = int(config.get("devices", 1))
        module = ["-m", "tuneport.local", "train", str(rd.path)]
        if resume:
            module.append("--resume")
        command = _launch_command(module, devices, str(config.get("launcher", "torchrun")))
        env = dict(os.environ)
        # The child must import this very tuneport, installed or not.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        env["TUNEPORT_HOME"] = str(tuneport_home())
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        if wandb_key:
            env["WANDB_API_KEY"] = wandb_key  # the environment only; never written to disk
        try:
            shim = subprocess.run(
                [sys.executable, "-c", _DETACH, str(rd.log_path), *command],
                capture_output=True, text=True, env=env, cwd=str(rd.path), timeout=60,
                check=False,
            )
            pid = int(shim.stdout.strip()) if shim.returncode == 0 else 0
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            pid, reason = 0, str(exc)
        else:
            reason = shim.stderr.strip().splitlines()[-1] if shim.stderr.strip() else "no pid"
        if not pid:
            rd.update_status(status="failed", error={"code": "launch",
                                                     "message": f"cannot start trainer: {reason}"})
            raise LocalBackendError(f"Cannot start the local trainer: {reason}")
        rd.update_status(launcher_pid=pid, launcher_start=_start_ticks(pid))

    def _rundir(self, job_id: str) -> RunDir:
        rd = RunDir.for_job(job_id)
        if not rd.exists():
            raise NotFoundError(f"No local job {job_id!r} under {runs_root()}.",
                                provider="local", status_code=404)
        return rd

    def _raw_status(self, rd: RunDir) -> tuple[str, dict[str, Any]]:
        status = rd.read_status()
        raw = str(status.get("status", "queued"))
        pid = status.get("launcher_pid")
        # No pid yet: the trainer is being launched right now (create_job / restart_job).
        if raw in _ACTIVE and pid is not None and not _trainer_alive(status):
            # The process is gone but never wrote a final status: killed or crashed.
            raw = "cancelled" if rd.cancel_path.exists() else "crashed"
        elif raw in ("queued", "running") and rd.cancel_path.exists():
            raw = "cancelling"
        return raw, status

    def get_job(self, job_id: str) -> Job:
        """The job as its run directory describes it."""
        rd = self._rundir(job_id)
        config = rd.read_config()
        raw, status = self._raw_status(rd)
        error = None
        if raw == "crashed":
            error = JobErrorInfo(code="crashed", message=(
                f"The trainer process exited without finishing (see {rd.log_path}); "
                "resume from the last checkpoint with client.resume(job)."))
        elif isinstance(status.get("error"), dict):
            error = JobErrorInfo(code=status["error"].get("code"),
                                 message=str(status["error"].get("message", "failed")))
        total = status.get("total_steps")
        progress = (float(status.get("step", 0)) / total) if total else None
        if raw == "succeeded":
            progress = 1.0
        fine_tuned = None
        if raw == "succeeded":
            fine_tuned = status.get("model_path") if config.get("method") == "full" \
                else status.get("adapter_path")
        cost = status.get("actual_cost_usd")
        return Job(
            id=job_id,
            provider="local",
            status=self.normalize_status(raw),
            provider_status=raw,
            base_model=config.get("model"),
            fine_tuned_model=fine_tuned,
            created_at=_parse_time(status.get("created_at")),
            started_at=_parse_time(status.get("started_at")),
            finished_at=_parse_time(status.get("finished_at")),
            trained_tokens=status.get("trained_tokens"),
            progress=progress,
            error=error,
            hyperparameters={k: config.get(k) for k in (
                "method", "epochs", "learning_rate", "batch_size", "lora_rank", "lora_alpha",
                "lora_dropout", "max_seq_len", "devices", "seed") if config.get(k) is not None},
            actual_cost_usd=Decimal(cost) if cost else None,
            training_file=config.get("train_file"),
            validation_file=config.get("validation_file"),
            idempotency_key=config.get("idempotency_key"),
            raw={**status, "run_dir": str(rd.path)},
        )

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Local jobs, newest first."""
        root = runs_root()
        if not root.is_dir():
            return
        ids = sorted((p.name for p in root.iterdir() if (p / "config.json").is_file()),
                     reverse=True)
        for count, job_id in enumerate(ids):
            if limit is not None and count >= limit:
                return
            yield self.get_job(job_id)

    def cancel_job(self, job_id: str) -> Job:
        """Request a clean stop: the trainer finishes its step, then exits as cancelled."""
        rd = self._rundir(job_id)
        raw, status = self._raw_status(rd)
        if self.normalize_status(raw).is_terminal:
            return self.get_job(job_id)
        rd.cancel_path.touch()
        pid = status.get("launcher_pid")
        if _proven_trainer(status):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(status["launcher_pid"]), signal.SIGTERM)
        elif pid is not None and _trainer_alive(status) and "launcher_start" not in status:
            pass  # launched before start times were recorded: the cancel file stops it
        else:
            rd.update_status(status="cancelled", finished_at=utcnow().isoformat())
            rd.append_event("Cancelled", type="status")
        return self.get_job(job_id)

    def restart_job(self, job_id: str) -> Job:
        """Restart an interrupted, crashed or cancelled run from its last checkpoint."""
        rd = self._rundir(job_id)
        raw, status = self._raw_status(rd)
        if raw == "succeeded":
            return self.get_job(job_id)
        if raw in _ACTIVE and _pid_alive(status.get("launcher_pid")):
            return self.get_job(job_id)  # still running: nothing to resume
        rd.cancel_path.unlink(missing_ok=True)
        rd.update_status(status="queued", error=None, finished_at=None, launcher_pid=None)
        checkpoints = rd.checkpoint_dirs()
        where = checkpoints[-1].name if checkpoints else "the start (no checkpoint yet)"
        rd.append_event(f"Resuming from {where}", type="status")
        self._launch(rd, resume=True)
        return self.get_job(job_id)

    def events(self, job_id: str, after: str | None = None) -> list[JobEvent]:
        """Events from ``events.jsonl`` (ids are line numbers)."""
        rd = self._rundir(job_id)
        threshold = int(after) if after and after.isdigit() else 0
        result = []
        for record in rd.read_events():
            if int(record["id"]) <= threshold:
                continue
            result.append(JobEvent(
                id=record["id"], job_id=job_id,
                created_at=datetime.fromisoformat(record["created_at"]),
                level=record.get("level", "info"), message=record.get("message", ""),
                type=record.get("type"), step=record.get("step"),
                data=record.get("data") or {},
            ))
        return result

    def metrics(self, job_id: str) -> list[MetricPoint]:
        """Train/eval loss, learning rate and throughput per step."""
        points = []
        for event in self.events(job_id):
            if event.type != "metrics" or event.step is None:
                continue
            data = event.data
            points.append(MetricPoint(
                step=event.step, train_loss=data.get("loss"), eval_loss=data.get("eval_loss"),
                learning_rate=data.get("learning_rate"),
                tokens_per_second=data.get("tokens_per_second"), epoch=data.get("epoch"),
                rewards_chosen=data.get("rewards/chosen"),
                rewards_rejected=data.get("rewards/rejected"),
                reward_margin=data.get("rewards/margins"),
                preference_accuracy=data.get("rewards/accuracies"),
            ))
        return points

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Saved checkpoints, oldest first."""
        rd = self._rundir(job_id)
        return [Checkpoint(id=path.name, job_id=job_id, step=int(path.name.split("-")[1]),
                           created_at=datetime.fromtimestamp(path.stat().st_mtime).astimezone(),
                           path=str(path))
                for path in rd.checkpoint_dirs()]

    def find_job(self, idempotency_key: str) -> Job | None:
        """The run created with this idempotency key (stored in its config)."""
        root = runs_root()
        if not root.is_dir():
            return None
        for path in sorted(root.iterdir(), reverse=True):
            rd = RunDir(path)
            if rd.exists() and rd.read_config().get("idempotency_key") == idempotency_key:
                return self.get_job(rd.job_id)
        return None

    # -- endpoint ------------------------------------------------------------------------
    def endpoint(self, job: Job) -> ModelEndpoint:
        """Adapter path, base model and the ``tuneport serve`` URL for a finished job."""
        rd = self._rundir(job.id)
        config = rd.read_config()
        status = rd.read_status()
        served = _read_serve_info(rd)
        port = int(served["port"]) if served.get("port") else self.port
        serving = _pid_alive(served.get("pid"))
        succeeded = status.get("status") == "succeeded"
        adapter = rd.adapter_dir if config.get("method") != "full" else None
        notes = (
            f"Serve it: tuneport serve {job.id} --port {port}",
            "In Python: endpoint.chat(messages) answers in-process (base model + adapter)",
        )
        return ModelEndpoint(
            provider="local",
            model=job.id,
            base_url=f"http://127.0.0.1:{port}/v1",
            kind="local",
            state=EndpointState.READY if (succeeded and serving) else EndpointState.NOT_DEPLOYED,
            adapter_path=adapter if succeeded else None,
            base_model=config.get("model"),
            notes=notes if succeeded else ("The job has not succeeded yet.",),
        )


_T = TypeVar("_T")


def _in_home(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run ``method`` with :func:`tuneport_home` pointing at the provider's own home."""

    @functools.wraps(method)
    def run(self: LocalProvider, *args: Any, **kwargs: Any) -> _T:
        with home_scope(self.home):
            return method(self, *args, **kwargs)

    return run


def _in_home_iter(method: Callable[..., Iterator[_T]]) -> Callable[..., Iterator[_T]]:
    """:func:`_in_home` for a generator: the home holds each time it resumes."""

    @functools.wraps(method)
    def run(self: LocalProvider, *args: Any, **kwargs: Any) -> Iterator[_T]:
        with home_scope(self.home):
            it = method(self, *args, **kwargs)
        while True:
            with home_scope(self.home):
                try:
                    item = next(it)
                except StopIteration:
                    return
            yield item

    return run


# Every entry point reads or writes under the home: each runs inside the provider's home.
# (A name no longer defined is skipped, so removing a method never breaks the import.)
for _name in ("wait_file_ready", "file_readiness", "upload", "create_job", "get_job",
              "cancel_job", "restart_job", "events", "metrics", "checkpoints",
              "find_job", "endpoint"):
    if callable(LocalProvider.__dict__.get(_name)):
        setattr(LocalProvider, _name, _in_home(getattr(LocalProvider, _name)))
LocalProvider.list_jobs = _in_home_iter(LocalProvider.list_jobs)  # type: ignore[method-assign]
