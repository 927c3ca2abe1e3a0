"""Does the GUI event loop stay responsive while the engine streams at full rate?

A 10 ms single-shot QTimer is re-armed on every timeout; its latency is the time from
arming to delivery (10 ms when the loop is idle). It is measured twice: with no engine
(baseline), and while EngineClient receives metric messages from tests/fake_engine.py
(`flood`: a tight loop of Metric lines, no throttling) and hands each one to a slot, as
the training page would. Target: p99 latency under 30 ms while streaming.

It also records the CPU time of every stretch the client spends in its own handlers
(reading the pipe, decoding a slice of lines): that is the part of the latency the client
controls; the rest is the operating system sharing the CPUs with other processes (the
fake engine itself keeps one core busy).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_latency.py [seconds]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer  # noqa: E402

from gui.engine_client import EngineClient  # noqa: E402

TIMER_MS = 10
TARGET_P99_MS = 30.0


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


class Probe:
    """A re-armed 10 ms timer recording arm-to-delivery latency (ms)."""

    def __init__(self):
        self.samples: list[float] = []
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self._armed = 0.0

    def start(self) -> None:
        self._armed = time.perf_counter()
        self.timer.start(TIMER_MS)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append((now - self._armed) * 1000)
        self._armed = now
        self.timer.start(TIMER_MS)

    def stop(self) -> None:
        self.timer.stop()


def run_loop(seconds: float, until=None) -> None:
    """Run the event loop for `seconds`, or until the signal `until` fires (then raise on timeout)."""
    loop, fired = QEventLoop(), []

    def done(*_):
        fired.append(True)
        loop.quit()

    QTimer.singleShot(int(seconds * 1000), loop.quit)
    if until is not None:
        until.connect(done)
    loop.exec()
    if until is not None:
        until.disconnect(done)
        if not fired:
            raise TimeoutError(f"the fake engine did not answer within {seconds:g} s")


def baseline(seconds: float) -> dict:
    probe = Probe()
    probe.start()
    run_loop(seconds)
    probe.stop()
    return {"samples": probe.samples, "messages": 0, "seconds": seconds, "handler": []}


def timed(fn, spans: list[float]):
    """Record the CPU time (not wall time: the OS may pause us mid-call) each call takes."""
    def wrapper(*args):
        t0 = time.thread_time()
        try:
            return fn(*args)
        finally:
            spans.append((time.thread_time() - t0) * 1000)
    return wrapper


def streaming(seconds: float) -> dict:
    client = EngineClient(program=[sys.executable, str(ROOT / "tests" / "fake_engine.py"), "flood", "0.5",
                                   str(seconds + 1.0)])
    spans: list[float] = []
    client._on_stdout = timed(client._on_stdout, spans)  # before start(): the pipe's slot
    client._drain_timer.timeout.disconnect()
    client._drain_timer.timeout.connect(timed(client._drain, spans))
    received: list = []
    client.metric.connect(lambda m: received.append(m.values["loss"]))  # what a plot's series does
    client.start()
    run_loop(60, until=client.ready)
    client.start_run({"data": ["fake"]})
    run_loop(60, until=client.metric)  # measure only once the stream is flowing
    n0, probe = len(received), Probe()
    spans.clear()
    probe.start()
    run_loop(seconds)
    probe.stop()
    n = len(received) - n0
    handler = list(spans)
    client.shutdown(timeout_ms=5000, block=True)
    return {"samples": probe.samples, "messages": n, "seconds": seconds, "handler": handler}


def row(name: str, r: dict) -> tuple:
    s, h = r["samples"], r["handler"] or [0.0]
    return (name, len(s), statistics.median(s), percentile(s, 99), max(s), r["messages"] / r["seconds"],
            percentile(h, 99), max(h))


def main(argv: list[str]) -> int:
    seconds = float(argv[1]) if len(argv) > 1 else 5.0
    QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    rows = [row("no engine (baseline)", baseline(seconds)), row("engine streaming", streaming(seconds))]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"10 ms QTimer latency (arm -> delivery), {seconds:g} s each, {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"{'condition':<22} {'ticks':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'msgs/s':>9} "
          f"{'handler CPU p99/max ms':>23}")
    for name, ticks, p50, p99, mx, rate, h99, hmax in rows:
        print(f"{name:<22} {ticks:>6} {p50:>8.2f} {p99:>8.2f} {mx:>8.2f} {rate:>9.0f} {h99:>9.2f}/{hmax:<9.2f}")
    base, load = rows
    print(f"ratio streaming/baseline: p50 {load[2] / base[2]:.2f}x, p99 {load[3] / base[3]:.2f}x")
    ok = load[3] < TARGET_P99_MS
    print(f"{'PASS' if ok else 'FAIL'}: p99 while streaming {load[3]:.2f} ms (target < {TARGET_P99_MS:g} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
