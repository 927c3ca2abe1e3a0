"""The one place that tracks what the app has asked the engine and not yet heard back.

Every request from anywhere in the app (the workflow's session, the model library) goes
through `EngineRequests.request(msg, on_reply, on_error, busy=..., timeout_s=...)`, the
shape of Orange's `ConcurrentWidgetMixin`: a request made before the engine's hello waits
in a queue and is sent when it arrives; every request is answered exactly once (the
engine's reply, its `Error`, "the engine stopped" when the process goes away, or "no
answer" after a timeout); and what is in flight is visible as named busy states
(`busyChanged(name, busy)`) that pages show, instead of each page counting its own.

Why callbacks and not `await` (qasync): see docs/ARCHITECTURE.md, "Requests".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from engine import protocol as P

NO_ENGINE = "The engine stopped before answering; restart it and try again."


@dataclass
class Ticket:
    """One request in flight; `cancel()` forgets it (the engine may still answer, unheard)."""
    msg: P.Message
    on_reply: Callable
    on_error: Callable | None
    busy: str = ""
    seq: int | None = None  # None while it waits for the engine's hello
    done: bool = False
    _owner: "EngineRequests | None" = field(default=None, repr=False)
    _timer: QTimer | None = field(default=None, repr=False)

    def cancel(self) -> None:
        if self._owner is not None and not self.done:
            self._owner._finish(self)


class EngineRequests(QObject):
    busyChanged = Signal(str, bool)  # a busy name ("predict", "save", "import"...) started or ended
    unhandledError = Signal(object)  # an Error reply whose request gave no on_error
    engineNeeded = Signal()  # a request waits, and there is no engine to say hello

    def __init__(self, client, parent: QObject | None = None):
        super().__init__(parent)
        self.client = client
        self.ready = getattr(client, "hello", None) is not None
        self._queued: list[Ticket] = []
        self._pending: dict[int, Ticket] = {}
        self._busy: dict[str, int] = {}
        client.reply.connect(self._on_reply)
        client.ready.connect(self._on_ready)
        client.crashed.connect(lambda *_: self._engine_gone())
        if hasattr(client, "stateChanged"):
            client.stateChanged.connect(self._on_state)

    # ------------------------------------------------------------------ asking
    def request(self, msg: P.Message, on_reply: Callable, on_error: Callable | None = None, *,
                busy: str = "", timeout_s: float | None = None) -> Ticket:
        """Send `msg` (now, or when the engine says hello); exactly one of the callbacks follows."""
        t = Ticket(msg, on_reply, on_error, busy, _owner=self)
        if busy:
            self._set_busy(busy, +1)
        if timeout_s is not None:
            t._timer = QTimer(self, singleShot=True, interval=int(timeout_s * 1000))
            t._timer.timeout.connect(lambda: self._answer(t, P.Error(
                kind="timeout", message=f"The engine did not answer within {timeout_s:g} s.")))
            t._timer.start()
        if self.ready:
            self._send(t)
        else:
            self._queued.append(t)
            if not self.client.is_running():
                self.engineNeeded.emit()
        return t

    def is_busy(self, name: str | None = None) -> bool:
        return bool(self._busy.get(name)) if name else any(self._busy.values())

    def in_flight(self) -> list[Ticket]:
        return [*self._queued, *self._pending.values()]

    # ------------------------------------------------------------------ the engine's side
    def _send(self, t: Ticket) -> None:
        seq = self.client.request(t.msg)
        if seq is None or seq < 0:  # not running: answer as if it had stopped, after this call returns
            QTimer.singleShot(0, lambda: self._answer(t, P.Error(kind="engine_stopped", message=NO_ENGINE)))
            return
        t.seq = seq
        self._pending[seq] = t

    def _on_ready(self, _hello) -> None:
        if self.ready:
            return  # a second hello (devices probed) changes nothing here
        self.ready = True
        queued, self._queued = self._queued, []
        for t in queued:
            if not t.done:
                self._send(t)

    def _on_state(self, state: str) -> None:
        if state == "starting":
            self.ready = False
        elif state in ("stopped", "crashed"):
            self._engine_gone()

    def _engine_gone(self) -> None:
        self.ready = False
        for t in sorted(self._pending.values(), key=lambda t: t.seq):
            self._answer(t, P.Error(kind="engine_stopped", request_seq=t.seq, message=NO_ENGINE))

    def _on_reply(self, seq: int, msg) -> None:
        t = self._pending.get(seq)
        if t is not None:
            self._answer(t, msg)

    def _answer(self, t: Ticket, msg) -> None:
        if t.done:
            return
        self._finish(t)
        if isinstance(msg, P.Error):
            (t.on_error or self.unhandledError.emit)(msg)
        else:
            t.on_reply(msg)

    def _finish(self, t: Ticket) -> None:
        t.done = True
        if t._timer is not None:
            t._timer.stop()
        if t.seq is not None:
            self._pending.pop(t.seq, None)
        elif t in self._queued:
            self._queued.remove(t)
        if t.busy:
            self._set_busy(t.busy, -1)

    def _set_busy(self, name: str, delta: int) -> None:
        before = bool(self._busy.get(name))
        self._busy[name] = max(0, self._busy.get(name, 0) + delta)
        after = bool(self._busy[name])
        if before != after:
            self.busyChanged.emit(name, after)
