"""Progress reporting for a run: every message goes to events.jsonl and to the caller.

Step metrics are averaged and throttled (a few per second) so a fast GPU does not flood
the pipe, yet no step's loss is lost: each Metric carries the mean over the steps since
the previous one. Lightning-style, but the "callbacks" are plain protocol messages.
"""
from __future__ import annotations

import time
from typing import Callable

from .. import protocol

Reporter = Callable[[protocol.Message], None]


class RunReporter:
    """Fans messages out to the run's event log and an optional outer reporter."""

    def __init__(self, events_path=None, outer: Reporter | None = None, run_id: str | None = None):
        self.events_path = events_path
        self.outer = outer
        self.run_id = run_id
        self._seq = 0

    def __call__(self, msg: protocol.Message) -> None:
        if self.events_path is not None and not isinstance(msg, protocol.Progress):
            self._seq += 1
            line = protocol.encode(msg, self._seq, self.run_id)
            with open(self.events_path, "a", encoding="utf-8") as f:
                f.write(line)
        if self.outer is not None:
            self.outer(msg)

    def log(self, text: str, level: str = "info") -> None:
        self(protocol.Log(level=level, text=text))

    def status(self, phase: str, detail: str = "") -> None:
        self(protocol.Status(phase=phase, detail=detail))


class StepThrottle:
    """Averages step values and emits Metric/Progress at most `rate_hz` times a second."""

    def __init__(self, report: Reporter, rate_hz: float = 4.0, clock=time.monotonic):
        self.report = report
        self.interval = 1.0 / rate_hz
        self.clock = clock
        self._last = -1e9
        self._sums: dict[str, float] = {}
        self._n = 0
        self._t0 = clock()
        self._samples = 0

    def step(self, *, global_step: int, epoch_float: float, values: dict, samples: int,
             progress: protocol.Progress, force: bool = False) -> None:
        for k, v in values.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v)
        self._n += 1
        self._samples += samples
        now = self.clock()
        if not force and now - self._last < self.interval:
            return
        self.flush(global_step, epoch_float, progress, now)

    def flush(self, global_step: int, epoch_float: float, progress: protocol.Progress | None, now=None) -> None:
        now = self.clock() if now is None else now
        if self._n:
            vals = {k: s / self._n for k, s in self._sums.items()}
            self.report(protocol.Metric(global_step=global_step, epoch=round(epoch_float, 4), values=vals))
        if progress is not None:
            self.report(progress)
        self._sums, self._n = {}, 0
        self._last = now


class Throughput:
    """Samples per second over a sliding window, and an ETA for the remaining steps."""

    def __init__(self, window: int = 20, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self._marks: list[tuple[float, int]] = []

    def add(self, samples: int) -> None:
        total = (self._marks[-1][1] if self._marks else 0) + samples
        self._marks.append((self.clock(), total))
        if len(self._marks) > self.window:
            self._marks.pop(0)

    def reset(self) -> None:
        self._marks.clear()

    def rate(self) -> float:
        if len(self._marks) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._marks[0], self._marks[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def eta(self, remaining_samples: int) -> float | None:
        r = self.rate()
        return remaining_samples / r if r > 0 else None


def log_left_out(rep, report: "RunReporter", show: int = 5) -> None:
    """Name the files the scan left out, so a headless run says what it did not learn from."""
    conflicts = [{"path": p, "reason": "the same content is filed under another label"}
                 for f in rep.findings if f.code == "duplicates_across_classes" for p in f.paths]
    for items, one, many in ((rep.skipped, "could not be used", "could not be used"),
                             (rep.ignored, "is not data", "are not data"),
                             (conflicts, "has an unknown label", "have an unknown label")):
        if items:
            names = "; ".join(f"{i['path']} ({i['reason']})" for i in items[:show])
            more = f"; and {len(items) - show} more" if len(items) > show else ""
            report.log(f"Left out {len(items)} file{'s' if len(items) != 1 else ''} that "
                       f"{one if len(items) == 1 else many} (all listed in data_report.json): {names}{more}.",
                       level="warning")
