"""`train --gpus N`: the same command again in N processes, started by torch's own elastic launcher.

This is what `torchrun --standalone --nproc-per-node N -m engine.cli train ...` does, called in
process so that its outcome can be told in one sentence: torchrun's agent watches the processes,
and when one dies it stops the others (no process is left hanging) and reports which rank failed
and why (`ChildFailedError`); here that becomes "Process 1 of 2 stopped (...); resume with ...".

A cancel (Ctrl-C here, or the app's Cancel, which sends this process SIGINT) must reach every
rank so they stop at the same step and rank 0 saves: torchrun starts its processes in their own
sessions, so the terminal's Ctrl-C never reaches them. The launcher therefore keeps SIGINT
for itself and creates a cancel file whose path the processes get in their environment; each
polls it (`watch_cancel_file`) and the loop's step statistics carry the cancel to all ranks.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

CANCEL_FILE_ENV = "TRANSFER_STUDIO_CANCEL_FILE"
RUN_DIR_NOTE_ENV = "TRANSFER_STUDIO_RUN_DIR_NOTE"  # rank 0 writes its run folder here, for the failure message
CANCELLED_EXIT = 130


def device_count(device: str) -> int | None:
    """GPUs this machine has for `--gpus` (None: `--device cpu`, any number of CPU processes)."""
    if device == "cpu":
        return None
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_processes(n: int, device: str) -> None:
    """One sentence when `--gpus n` cannot work here."""
    from ..config import ConfigError

    if n < 1:
        raise ConfigError(f"--gpus takes a number of GPUs of at least 1, not {n}.")
    have = device_count(device)
    if have is not None and n > have:
        if have:
            raise ConfigError(f"This machine has {have} GPU{'s' if have != 1 else ''}; ask for at most {have} "
                              "with --gpus.")
        raise ConfigError(f"This machine has no CUDA GPU, so --gpus {n} cannot run; leave --gpus out, or add "
                          f"--device cpu to run {n} CPU processes (slow; for trying it out).")


def launch(n: int, argv: list[str], *, as_json: bool = False, out=None) -> int:
    """Run `python -m engine.cli <argv>` in `n` processes on this machine; 0, 130 (cancelled) or 1."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    out = out or sys.stdout
    work = Path(tempfile.mkdtemp(prefix="transfer-studio-launch-"))
    cancel_file, note = work / "cancel", work / "run_dir"
    env = {CANCEL_FILE_ENV: str(cancel_file), RUN_DIR_NOTE_ENV: str(note)}
    if "OMP_NUM_THREADS" not in os.environ:  # as torchrun does: n processes share the cores
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    os.environ.update(env)

    def on_sigint(signum, frame):
        if cancel_file.exists():
            raise KeyboardInterrupt
        print("Cancelling at the next step, on every process (Ctrl-C again to abort)...", file=sys.stderr)
        cancel_file.touch()

    previous = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() \
        else None
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=n, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.5,
                          # torchrun's agent would turn SIGINT into SIGTERM for the processes (no checkpoint)
                          signals_to_handle="SIGTERM,SIGHUP,SIGQUIT")
    try:
        elastic_launch(config, sys.executable)("-m", "engine.cli", *argv)
        return 0
    except ChildFailedError as exc:
        rank, failure = root_failure(exc.failures)
        if failure.exitcode == CANCELLED_EXIT and exc.failures.get(0) is not None:
            return CANCELLED_EXIT  # rank 0 said so already ("Cancelled. Resume with ...")
        message = failure_sentence(rank, n, failure.exitcode, failure.message,
                                   note.read_text().strip() if note.is_file() else None)
        _tell(out, message, _detail(failure), as_json)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        for f in (cancel_file, note):
            f.unlink(missing_ok=True)
        work.rmdir()


PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "remote worker")  # gloo: another died


def root_failure(failures: dict):
    """(rank, failure) of the process that started it. Consequences rank last: a process that only
    lost its peer, or one stopped by SIGTERM (what torchrun's agent sends the others once one has
    failed). torchrun's own "first" failure compares timestamps of whole seconds."""
    def followed(f) -> bool:
        text = str(getattr(f, "message", "") or "")
        return getattr(f, "exitcode", None) == -signal.SIGTERM or any(words in text for words in PEER_LOST)

    rank = min(failures, key=lambda r: (followed(failures[r]), getattr(failures[r], "timestamp", 0), r))
    return rank, failures[rank]


def failure_sentence(rank: int, world: int, exitcode: int, message, run_dir: str | None) -> str:
    """"Process 1 of 2 stopped (killed by SIGKILL ...); the others were stopped too. Resume with ..."."""
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = f"killed by {name}" + (": often the system running out of memory" if name == "SIGKILL" else "")
    else:
        text = message.get("message", "") if isinstance(message, dict) else str(message or "")
        text = text.strip().splitlines()[0] if text.strip() and "To enable traceback" not in text else ""
        why = text or f"exit code {exitcode}"
    resume = (f" Resume with: transfer-studio train --resume {run_dir} --gpus {world}" if run_dir
              else " Its last checkpoint, if one was written, is in the run folder.")
    return f"Process {rank} of {world} stopped ({why}); the other processes were stopped too.{resume}"


def _detail(failure) -> str:
    data = getattr(failure, "error_file_data", None) or {}
    info = (data.get("message") or {}) if isinstance(data.get("message"), dict) else {}
    return str((info.get("extraInfo") or {}).get("py_callstack", "")) or str(failure.message)


def _tell(out, message: str, detail: str, as_json: bool) -> None:
    if as_json:
        from .. import protocol

        out.write(protocol.encode(protocol.Error(kind=protocol.ErrorKind.RANK_FAILED, message=message,
                                                 detail=detail), 0))
        out.flush()
    else:
        print(f"error: {message}", file=sys.stderr)


# ---------------------------------------------------------------------- inside each process
def record_failure(exc: BaseException) -> None:
    """Write the exception to the error file torchrun's agent reads, so the launcher can say why."""
    if os.environ.get("TORCHELASTIC_ERROR_FILE"):
        from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

        ErrorHandler().record_exception(exc)


def note_run_dir(run_dir) -> None:
    path = os.environ.get(RUN_DIR_NOTE_ENV)
    if path:
        Path(path).write_text(str(run_dir))


def watch_cancel_file(cancel: threading.Event, interval_s: float = 0.5) -> None:
    """Set `cancel` once the launcher's cancel file appears (a daemon thread; nothing when not launched)."""
    path = os.environ.get(CANCEL_FILE_ENV)
    if not path:
        return

    def poll():
        while not cancel.is_set():
            if os.path.exists(path):
                cancel.set()
            time.sleep(interval_s)

    threading.Thread(target=poll, name="cancel-file", daemon=True).start()


# ---------------------------------------------------------------------- for the app's engine (server.py)
def run_in_processes(config, resume_from: str | None, reporter, cancel) -> dict:
    """Train in `config.gpus` processes for the app: `train --gpus N --json` as a child process whose
    stdout carries rank 0's messages (passed to `reporter`); `cancel` becomes SIGINT to it (a cancel
    every rank honours). Returns what `train` returns; raises Cancelled or RankFailed."""
    import json
    import subprocess

    from .. import protocol
    from ..errors import Cancelled, RankFailed

    check_processes(config.gpus, config.device)
    work = Path(tempfile.mkdtemp(prefix="transfer-studio-run-"))
    cfg_file = work / "config.json"
    cfg_file.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    argv = [sys.executable, "-m", "engine.cli", "train", "--json", "--gpus", str(config.gpus),
            *(["--resume", str(resume_from)] if resume_from else ["--config", str(cfg_file)])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, encoding="utf-8")

    def forward_cancel():
        cancel.wait()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)

    threading.Thread(target=forward_cancel, name="cancel-processes", daemon=True).start()
    result, failure = None, None
    try:
        for line in proc.stdout:
            try:
                msg = protocol.decode(line).message
            except protocol.ProtocolError:
                continue  # a stray print on the processes' stdout is not a message
            if isinstance(msg, protocol.Error):
                failure = msg
                continue
            if isinstance(msg, protocol.Result):
                result = msg
            if msg is not None:
                reporter(msg)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        cfg_file.unlink(missing_ok=True)
        work.rmdir()
        cancel.set()  # ends forward_cancel; the run is over either way
    if code == CANCELLED_EXIT:
        raise Cancelled("The run was cancelled; its last state is saved and can be resumed.")
    if code != 0 or result is None:
        raise RankFailed(failure.message if failure else f"The training processes stopped (exit code {code}).",
                         failure.detail if failure else "")
    return {"run_dir": result.run_dir, "metrics": result.metrics, "stopped": "completed"}
