"""`python -m engine --self-test`: is this installation able to do its job?

It drives a second engine process over the real protocol, exactly as the app would:
handshake, torch and device probe, ping, one short training run on the demo data with the
starter backbone, saving a bundle, and predicting with the reloaded bundle. Each check
prints PASS, FAIL or SKIP (with why); the exit code is 1 if any check failed.
`EngineProcess` is also what tests use to drive a real engine without Qt.
"""
from __future__ import annotations

import itertools
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import protocol

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def engine_command() -> list[str]:
    if getattr(sys, "frozen", False):  # the packaged engine executable is this program
        return [sys.executable]
    return [sys.executable, "-m", "engine"]


class EngineProcess:
    """A real engine child process with its stdout decoded on a reader thread."""

    def __init__(self, cmd: list[str] | None = None, *, cwd: str | os.PathLike = ROOT, env: dict | None = None,
                 stderr=None):
        full_env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "4294967296",
                    "MALLOC_TRIM_THRESHOLD_": "4294967296", **(env or {})}
        self.proc = subprocess.Popen(cmd or engine_command(), cwd=str(cwd), env=full_env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr)
        self.history: list[protocol.Message] = []
        self.bad_lines: list[bytes] = []
        self._queue: queue.Queue = queue.Queue()
        self._seq = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            try:
                msg = protocol.decode(raw).message
            except protocol.ProtocolError:
                self.bad_lines.append(raw)
                continue
            if msg is not None:
                self._queue.put(msg)
        self._queue.put(None)

    def send(self, msg: protocol.Message) -> int:
        seq = next(self._seq)
        self.proc.stdin.write(protocol.encode(msg, seq).encode("utf-8"))
        self.proc.stdin.flush()
        return seq

    def wait_for(self, cls, pred=lambda m: True, timeout: float = 60.0):
        """Next message of type `cls` passing `pred` (earlier ones stay in history)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                msg = self._queue.get(timeout=max(0.0, left))
            except queue.Empty:
                raise TimeoutError(f"no {cls.__name__} from the engine within {timeout:g} s") from None
            if msg is None:
                self._queue.put(None)
                raise EOFError(f"the engine exited (code {self.proc.poll()}) before sending {cls.__name__}")
            self.history.append(msg)
            if isinstance(msg, protocol.Error) and cls is not protocol.Error and msg.request_seq is None:
                raise RuntimeError(f"engine error ({msg.kind}): {msg.message}")
            if isinstance(msg, cls) and pred(msg):
                return msg

    def reply_to(self, seq: int, timeout: float = 120.0):
        msg = self.wait_for(protocol.Message, lambda m: getattr(m, "request_seq", None) == seq, timeout)
        if isinstance(msg, protocol.Error):
            raise RuntimeError(f"engine error ({msg.kind}): {msg.message}")
        return msg

    def close(self, timeout: float = 30.0) -> int:
        """Close stdin (the engine cancels and exits); kill it if it will not."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def demo_data() -> Path | None:
    for base in (Path(getattr(sys, "_MEIPASS", ROOT)), ROOT):
        folder = base / "resources" / "demo" / "images"  # demo/ also holds texts; one run takes one kind
        if folder.is_dir() and any(folder.iterdir()):
            return folder
    return None


def first_file(folder: Path) -> Path | None:
    return next((p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), None)


def run_self_test(data: str | None = None, backbone: str = "auto") -> int:
    results: list[tuple[str, str, str]] = []

    def check(name: str, fn) -> object:
        t0 = time.monotonic()
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is a reported FAIL
            results.append(("FAIL", name, f"{type(exc).__name__}: {exc}"))
            print(f"FAIL  {name}: {exc}", flush=True)
            return None
        note = f"{value} ({time.monotonic() - t0:.1f} s)"
        results.append(("PASS", name, note))
        print(f"PASS  {name}: {note}", flush=True)
        return value if value is not None else True

    def skip(name: str, why: str) -> None:
        results.append(("SKIP", name, why))
        print(f"SKIP  {name}: {why}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ts-selftest-") as tmp:
        log_path = Path(tmp) / "engine-stderr.log"
        with open(log_path, "wb") as err:
            eng = EngineProcess(stderr=err)
            devices = None
            if check("handshake", lambda: _hello(eng)):
                devices = check("torch and devices", lambda: _devices(eng))
                check("ping", lambda: _ping(eng))
            folder = Path(data) if data else demo_data()
            run_dir = bundle = None
            if not devices:
                skip("training", "the engine did not load")
            elif folder is None or not folder.exists():
                skip("training", "no demo data found (resources/demo); pass --data FOLDER")
            else:
                run_dir = check("one short training run", lambda: _train(eng, folder, backbone, Path(tmp) / "runs"))
            if run_dir:
                bundle = check("save bundle", lambda: eng.reply_to(
                    eng.send(protocol.SaveBundle(run_dir=run_dir, out=str(Path(tmp) / "bundle")))).path)
            else:
                skip("save bundle", "no trained run")
            sample = first_file(folder) if (bundle and folder) else None
            if bundle and sample:
                check("reload bundle and predict", lambda: _predict(eng, bundle, sample))
            else:
                skip("reload bundle and predict", "no bundle or no image to predict on")
            code = eng.close()
            results.append(("PASS" if code == 0 else "FAIL", "clean exit", f"exit code {code}"))
            print(f"{results[-1][0]:<5} clean exit: exit code {code}", flush=True)
            if eng.bad_lines:
                results.append(("FAIL", "protocol-only stdout", f"{len(eng.bad_lines)} stray line(s)"))
                print(f"FAIL  protocol-only stdout: {eng.bad_lines[:3]!r}", flush=True)
        failed = [r for r in results if r[0] == "FAIL"]
        if failed:
            print("\nLast engine log lines:\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-20:]))
        print(f"\nself-test: {sum(r[0] == 'PASS' for r in results)} passed, {len(failed)} failed, "
              f"{sum(r[0] == 'SKIP' for r in results)} skipped")
    return 1 if failed else 0


def _hello(eng: EngineProcess) -> str:
    hello = eng.wait_for(protocol.Hello, timeout=30)
    if protocol.major(hello.protocol) != protocol.major(protocol.PROTOCOL_VERSION):
        raise RuntimeError(f"protocol {hello.protocol} does not match {protocol.PROTOCOL_VERSION}")
    return f"engine {hello.engine_version}, protocol {hello.protocol}, torch {hello.torch or '?'}"


def _devices(eng: EngineProcess) -> str:
    hello = eng.wait_for(protocol.Hello, lambda h: bool(h.device), timeout=120)
    return f"{hello.device}: " + ", ".join(d.get("name", "?") for d in hello.devices)


def _ping(eng: EngineProcess) -> str:
    eng.send(protocol.Ping())
    beat = eng.wait_for(protocol.Heartbeat, timeout=10)
    return f"alive, {beat.rss_bytes / 2 ** 20:.0f} MiB resident"


def _train(eng: EngineProcess, folder: Path, backbone: str, runs_root: Path) -> str:
    config = {"data": [str(folder)], "backbone": backbone, "epochs": 1, "runs_root": str(runs_root),
              "name": "self-test", "early_stopping_patience": None}
    eng.send(protocol.Start(config=config))
    bye = eng.wait_for(protocol.Bye, timeout=1800)
    if bye.reason != "completed":
        raise RuntimeError(f"the run ended {bye.reason}")
    result = next(m for m in reversed(eng.history) if isinstance(m, protocol.Result))
    return result.run_dir


def _predict(eng: EngineProcess, bundle: str, sample: Path) -> str:
    reply = eng.reply_to(eng.send(protocol.Predict(model=bundle, paths=[str(sample)], top_k=1)))
    item = reply.items[0]
    if "error" in item:
        raise RuntimeError(item["error"])
    label, p = item["top"][0]
    return f"{sample.name} -> {label} ({p:.2f})"
