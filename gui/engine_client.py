"""The app's side of the engine: a child process whose JSON Lines become Qt signals.

The engine (`python -m engine`) runs torch in its own process so the window never
freezes and a crash in a library cannot take the app down. This client starts it with
QProcess, frames its stdout into lines (keeping partial tails, dropping lines over
1 MiB, skipping garbage with a warning), and emits one signal per message. Lines are
decoded in slices of a few milliseconds so that an engine streaming at full rate cannot
starve the event loop. It watches for silence ("not responding" after three missed
heartbeats; it does not kill), escalates a cancel the engine does not honour
(cancel -> terminate -> kill), and reports a crash (non-zero exit, or exit without a
final bye) with the exit code and the last lines of the engine's stderr.

A request's answer arrives as `reply(request_seq, message)`; pairing answers with
requests (and answering those the engine never will) is `gui/requests.py`'s job, the one
table of what is in flight. Imports no torch.
"""
from __future__ import annotations

import collections
import itertools
import logging
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from engine import protocol

_logger = logging.getLogger("gui.engine_client")

ROOT = Path(__file__).resolve().parents[1]
ENGINE_EXECUTABLE = "transfer-studio-engine"
# Must be in the environment when the engine starts (glibc reads them once): avoids
# per-step mmap/munmap page faults, 1.1-1.9x faster training on CPU (shared/README).
ENGINE_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "PYTHONIOENCODING": "utf-8",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
STDERR_TAIL_LINES = 40
SLICE_S = 0.002  # longest stretch spent decoding before the event loop gets a turn
LONG_LINE = f"Skipped a line from the engine longer than {protocol.MAX_LINE_BYTES} bytes."

_TYPED = {  # message class -> name of the signal that carries it
    protocol.Status: "status", protocol.Progress: "progress", protocol.Metric: "metric",
    protocol.EpochEnd: "epochEnd", protocol.Log: "log", protocol.Checkpoint: "checkpoint",
    protocol.Heartbeat: "heartbeat", protocol.Result: "result",
}


def default_program() -> tuple[list[str], str | None]:
    """(command line, working directory) of the engine for this installation."""
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable).with_name(ENGINE_EXECUTABLE + (".exe" if os.name == "nt" else ""))
        return [str(exe)], None
    return [sys.executable, "-m", "engine"], str(ROOT)


class EngineClient(QObject):
    ready = Signal(object)  # Hello; again when the engine has probed its devices
    message = Signal(object)  # protocol.Envelope, for every decoded message of a known type
    status = Signal(object)
    progress = Signal(object)
    metric = Signal(object)
    epochEnd = Signal(object)
    log = Signal(object)
    checkpoint = Signal(object)
    heartbeat = Signal(object)
    result = Signal(object)
    error = Signal(object)  # Error not tied to a request (run failures, protocol trouble)
    bye = Signal(object)
    reply = Signal(int, object)  # (request_seq, Backbones | BackboneInfo | ... | Error)
    notResponding = Signal(bool)
    crashed = Signal(int, str)  # exit code (-N: killed by signal N), last stderr lines
    protocolWarning = Signal(str)
    stateChanged = Signal(str)  # starting | ready | busy | not_responding | stopped | crashed
    stderrLine = Signal(str)

    def __init__(self, program: list[str] | None = None, parent: QObject | None = None,
                 env: dict | None = None, *, cwd: str | None = None, heartbeat_ms: int = 2000,
                 missed_heartbeats: int = 3, cancel_timeout_ms: int = 30000, terminate_timeout_ms: int = 5000):
        super().__init__(parent)
        if program is None:
            program, default_cwd = default_program()
            cwd = cwd or default_cwd
        self.program = list(program)
        self.cwd = cwd or str(ROOT)
        self.env = dict(env or {})
        self.heartbeat_ms = heartbeat_ms
        self.missed_heartbeats = missed_heartbeats
        self.cancel_timeout_ms = cancel_timeout_ms
        self.terminate_timeout_ms = terminate_timeout_ms
        self.hello: protocol.Hello | None = None
        self._proc: QProcess | None = None
        self._state = "stopped"
        self._seq = itertools.count(1)
        self._reset()
        self._watchdog = self._timer(max(20, heartbeat_ms // 4), self._check_alive, single=False)
        self._drain_timer = self._timer(0, self._drain)
        self._cancel_timer = self._timer(cancel_timeout_ms, self._terminate)
        self._kill_timer = self._timer(terminate_timeout_ms, self._kill)

    def _timer(self, ms: int, slot, single: bool = True) -> QTimer:
        t = QTimer(self, interval=ms, singleShot=single)
        t.timeout.connect(slot)
        return t

    def _reset(self) -> None:
        self._buf = bytearray()
        self._discarding = False
        self._lines: collections.deque[bytes] = collections.deque()
        self._err_buf = b""
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._run_active = False
        self._final_bye = False
        self._stopping = False
        self._refused = False
        self._silent = False
        self._last_seen = time.monotonic()

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        return self._state

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    def start(self) -> None:
        """Launch the engine (no-op if it runs). `ready` follows when it says hello."""
        if self.is_running():
            return
        if self._proc is not None:
            self._proc.deleteLater()
        self._reset()
        self.hello = None
        proc = QProcess(self)
        proc.setProgram(self.program[0])
        proc.setArguments(self.program[1:])
        proc.setWorkingDirectory(self.cwd)
        env = QProcessEnvironment.systemEnvironment()
        for k, v in {**ENGINE_ENV, **self.env}.items():
            env.insert(k, str(v))
        proc.setProcessEnvironment(env)
        if sys.platform == "win32":  # the engine is a console program: no console window (CREATE_NO_WINDOW)
            proc.setCreateProcessArgumentsModifier(lambda args: setattr(args, "flags", args.flags | 0x08000000))
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._proc = proc
        self._set_state("starting")
        proc.start()
        self._watchdog.start()

    def send(self, msg: protocol.Message) -> int:
        """Write one message to the engine; returns its seq (-1 if the engine is not running)."""
        if not self.is_running() or self._stopping:
            self.protocolWarning.emit(f"The engine is not running; the {msg.TYPE} message was not sent.")
            return -1
        seq = next(self._seq)
        self._proc.write(protocol.encode(msg, seq).encode("utf-8"))
        return seq

    def request(self, msg: protocol.Message) -> int:
        """Send a request; its answer arrives as `reply(seq, ...)`. -1: not sent (no engine running)."""
        return self.send(msg)

    def start_run(self, config: dict, resume_from: str | None = None) -> int:
        seq = self.send(protocol.Start(config=dict(config or {}), resume_from=resume_from))
        if seq >= 0:
            self._run_active = True
            self._set_state("busy")
        return seq

    def cancel(self) -> None:
        """Ask the run to stop; if it has not said bye within cancel_timeout_ms, terminate, then kill."""
        if not self.is_running():
            return
        self.send(protocol.Cancel())
        if self._run_active and not self._cancel_timer.isActive() and not self._kill_timer.isActive():
            self._cancel_timer.start(self.cancel_timeout_ms)

    def shutdown(self, timeout_ms: int = 5000, block: bool = False) -> None:
        """Ask the engine to exit (it cancels and checkpoints a run first); force it after timeout_ms."""
        if not self.is_running():
            return
        self.send(protocol.Shutdown())
        self._stopping = True
        self._proc.closeWriteChannel()  # EOF: even a busy main loop notices
        if not block:
            self._cancel_timer.start(timeout_ms)
            return
        proc = self._proc
        if not proc.waitForFinished(timeout_ms):
            proc.terminate()
            if not proc.waitForFinished(self.terminate_timeout_ms):
                proc.kill()
                proc.waitForFinished(2000)

    # ------------------------------------------------------------------ reading
    def _on_stdout(self) -> None:
        self._alive()
        self._feed(bytes(self._proc.readAllStandardOutput()))
        if not self._drain_timer.isActive():
            self._drain()

    def _feed(self, data: bytes) -> None:
        """Split into complete lines (queued), keep the partial tail, cap its length."""
        if self._discarding:
            cut = data.find(b"\n")
            if cut < 0:
                return
            data, self._discarding = data[cut + 1:], False
        self._buf += data
        end = self._buf.rfind(b"\n")
        if end >= 0:
            self._lines.extend(bytes(self._buf[:end]).split(b"\n"))
            del self._buf[:end + 1]
        if len(self._buf) > protocol.MAX_LINE_BYTES:
            self._buf.clear()
            self._discarding = True
            self._warn(LONG_LINE)

    def _drain(self, budget_s: float | None = SLICE_S) -> None:
        """Handle queued lines for at most budget_s, then give the event loop a turn."""
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        lines = self._lines
        while lines:
            self._handle(lines.popleft())
            if deadline is not None and lines and time.perf_counter() > deadline:
                self._drain_timer.start()
                return

    def _handle(self, line: bytes) -> None:
        line = line.strip()
        if not line:
            return
        if len(line) > protocol.MAX_LINE_BYTES:
            self._warn(LONG_LINE)
            return
        try:
            env = protocol.decode(line)
        except protocol.ProtocolError as exc:
            self._warn(f"Skipped a line from the engine that is not a protocol message ({exc}).")
            return
        msg = env.message
        if msg is None:
            _logger.debug("ignored a message of unknown type %r", env.type)
            return
        if isinstance(msg, protocol.Hello):
            self._on_hello(env, msg)
            return
        self.message.emit(env)
        request_seq = getattr(msg, "request_seq", None)
        if request_seq is not None:  # any reply type, present or future
            self.reply.emit(int(request_seq), msg)
        elif isinstance(msg, protocol.Error):
            self.error.emit(msg)
        elif isinstance(msg, protocol.Bye):
            self._on_bye(msg)
        else:
            name = _TYPED.get(type(msg))
            if name is not None:
                getattr(self, name).emit(msg)

    def _on_hello(self, env: protocol.Envelope, hello: protocol.Hello) -> None:
        try:
            theirs = protocol.major(hello.protocol)
        except ValueError:
            theirs = None
        if theirs != protocol.major(protocol.PROTOCOL_VERSION):
            self._refused = True
            self.error.emit(protocol.Error(
                kind="protocol", message=f"The engine speaks protocol {hello.protocol} but this app speaks "
                                         f"{protocol.PROTOCOL_VERSION}; reinstall Transfer Studio so both match.",
                detail=f"engine {hello.engine_version}, pid {hello.pid}"))
            self.shutdown(self.terminate_timeout_ms)
            return
        self.hello = hello
        self.message.emit(env)
        self.ready.emit(hello)
        if self._state == "starting":
            self._set_state("busy" if self._run_active else "ready")

    def _on_bye(self, msg: protocol.Bye) -> None:
        if msg.reason == "shutdown":
            self._final_bye = True
        else:
            self._run_active = False
            self._cancel_timer.stop()
            if self._state == "busy":
                self._set_state("ready")
        self.bye.emit(msg)

    def _on_stderr(self) -> None:
        data = self._err_buf + bytes(self._proc.readAllStandardError())
        *lines, self._err_buf = data.split(b"\n")
        self._err_buf = self._err_buf[-protocol.MAX_LINE_BYTES:]
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            self._stderr_tail.append(text)
            _logger.debug("engine: %s", text)
            self.stderrLine.emit(text)

    # ------------------------------------------------------------------ liveness
    def _alive(self) -> None:
        self._last_seen = time.monotonic()
        if self._silent:
            self._silent = False
            self.notResponding.emit(False)
            self._set_state("starting" if self.hello is None else "busy" if self._run_active else "ready")

    def _check_alive(self) -> None:
        if not self.is_running() or self._silent:
            return
        if time.monotonic() - self._last_seen > self.missed_heartbeats * self.heartbeat_ms / 1000:
            self._silent = True
            self.notResponding.emit(True)
            self._set_state("not_responding")

    def _terminate(self) -> None:
        if self.is_running():
            self._warn(f"The engine did not stop within {self._cancel_timer.interval() / 1000:g} s; terminating it.")
            self._proc.terminate()
            self._kill_timer.start(self.terminate_timeout_ms)

    def _kill(self) -> None:
        if self.is_running():
            self._warn("The engine ignored the request to terminate; killing it.")
            self._proc.kill()

    # ------------------------------------------------------------------ exit
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        proc = self._proc
        self._feed(bytes(proc.readAllStandardOutput()))
        self._drain(budget_s=None)
        if self._buf:
            _logger.debug("dropped %d bytes of an unfinished last line", len(self._buf))
        self._on_stderr()
        if self._err_buf:
            self._stderr_tail.append(self._err_buf.decode("utf-8", errors="replace"))
            self._err_buf = b""
        for t in (self._watchdog, self._drain_timer, self._cancel_timer, self._kill_timer):
            t.stop()
        code = exit_code if exit_status == QProcess.ExitStatus.NormalExit else -abs(exit_code or 9)
        clean = code == 0 and self._final_bye
        self._run_active = False
        if clean or self._stopping or self._refused:
            if not clean:
                _logger.warning("engine stopped with exit code %s after being asked to stop", code)
            self._set_state("stopped")
        else:
            self._report_crash(code, "" if code else "The engine exited without saying goodbye.")

    def _on_process_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            for t in (self._watchdog, self._cancel_timer, self._kill_timer):
                t.stop()
            self._report_crash(-1, f"The engine could not be started ({' '.join(self.program)}): "
                                   f"{self._proc.errorString()}")

    def _report_crash(self, code: int, note: str) -> None:
        tail = "\n".join([*self._stderr_tail, note] if note else self._stderr_tail)
        self._set_state("crashed")
        self.crashed.emit(code, tail)

    def _warn(self, text: str) -> None:
        _logger.warning(text)
        self.protocolWarning.emit(text)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

