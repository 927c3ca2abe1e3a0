"""EngineRequests, the one table of requests in flight, over a scripted client (no engine process)."""
from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QObject, Signal

from engine import protocol as P
from gui.events import EventGroup
from gui.requests import EngineRequests


class ScriptedClient(QObject):
    """Sends nothing anywhere: the test says when the engine is up and what it answers."""
    reply = Signal(int, object)
    ready = Signal(object)
    crashed = Signal(int, str)
    stateChanged = Signal(str)

    def __init__(self):
        super().__init__()
        self.hello = None
        self.running = True
        self.sent: list[tuple[int, object]] = []
        self._seq = itertools.count(1)

    def is_running(self):
        return self.running

    def request(self, msg):
        if not self.running:
            return -1
        seq = next(self._seq)
        self.sent.append((seq, msg))
        return seq

    def say_hello(self):
        self.hello = P.Hello()
        self.ready.emit(self.hello)


@pytest.fixture
def client(qtbot):
    return ScriptedClient()


def test_requests_wait_for_the_hello_then_go_in_order(client):
    r = EngineRequests(client)
    got = []
    r.request(P.ListBackbones(), got.append)
    r.request(P.Ping(), got.append)
    assert client.sent == []
    client.say_hello()
    assert [type(m).__name__ for _, m in client.sent] == ["ListBackbones", "Ping"]
    client.ready.emit(client.hello)  # a second hello (devices probed) sends nothing twice
    assert len(client.sent) == 2
    client.reply.emit(2, P.Backbones(items=[], request_seq=2))
    client.reply.emit(1, P.Backbones(items=[], request_seq=1))
    assert [type(m).__name__ for m in got] == ["Backbones", "Backbones"]


def test_each_request_is_answered_once_and_busy_is_counted_by_name(client):
    client.say_hello()
    r = EngineRequests(client)
    seen = []
    r.busyChanged.connect(lambda name, on: seen.append((name, on)))
    replies, errors = [], []
    a = r.request(P.Predict(model="m", paths=["a"]), replies.append, errors.append, busy="predict")
    b = r.request(P.Predict(model="m", paths=["b"]), replies.append, errors.append, busy="predict")
    assert r.is_busy("predict") and not r.is_busy("save") and seen == [("predict", True)]
    client.reply.emit(a.seq, P.Predictions(items=[], request_seq=a.seq))
    client.reply.emit(a.seq, P.Predictions(items=[], request_seq=a.seq))  # a repeat is not a second answer
    assert len(replies) == 1 and r.is_busy("predict")
    client.reply.emit(b.seq, P.Error(kind="io", message="no such file", request_seq=b.seq))
    assert [e.kind for e in errors] == ["io"] and seen == [("predict", True), ("predict", False)]
    assert r.in_flight() == []


def test_an_error_without_its_own_handler_goes_to_unhandled(client):
    client.say_hello()
    r = EngineRequests(client)
    unhandled = []
    r.unhandledError.connect(unhandled.append)
    t = r.request(P.Ping(), lambda m: pytest.fail("not a reply"))
    client.reply.emit(t.seq, P.Error(kind="internal", message="boom", request_seq=t.seq))
    assert [e.message for e in unhandled] == ["boom"]


def test_a_crash_answers_everything_in_flight_and_later_requests_wait_for_a_new_engine(client):
    client.say_hello()
    r = EngineRequests(client)
    errors = []
    r.request(P.Ping(), lambda m: None, errors.append, busy="x")
    r.request(P.ListBackbones(), lambda m: None, errors.append)
    client.running = False
    client.hello = None
    client.crashed.emit(-11, "segfault")
    assert [e.kind for e in errors] == ["engine_stopped", "engine_stopped"] and not r.is_busy()
    needed = []
    r.engineNeeded.connect(lambda: needed.append(True))
    r.request(P.Ping(), lambda m: errors.append("answered"))
    assert needed == [True] and len(client.sent) == 2  # queued, not sent into the void
    client.running = True
    client.stateChanged.emit("starting")
    client.say_hello()
    seq, msg = client.sent[-1]
    client.reply.emit(seq, P.Backbones(items=[], request_seq=seq))
    assert errors[-1] == "answered"


def test_cancel_forgets_a_request_and_timeout_answers_one(client, qtbot):
    client.say_hello()
    r = EngineRequests(client)
    got = []
    t = r.request(P.Ping(), got.append, got.append, busy="ping")
    t.cancel()
    assert not r.is_busy("ping")
    client.reply.emit(t.seq, P.Backbones(items=[], request_seq=t.seq))
    assert got == []
    slow = r.request(P.Ping(), got.append, got.append, timeout_s=0.05)
    qtbot.waitUntil(lambda: len(got) == 1, timeout=2000)
    assert got[0].kind == "timeout" and slow.done
    client.reply.emit(slow.seq, P.Backbones(items=[], request_seq=slow.seq))  # too late: not heard
    assert len(got) == 1


def test_events_check_their_arguments_and_reach_every_subscriber():
    events = EventGroup(changed=(), log=("level", "text"))
    seen = []
    events.log.connect(lambda level, text: seen.append((level, text)))
    cb = events.changed.connect(lambda: seen.append("changed"))
    events.changed.connect(cb)  # the same callback twice is called once
    events.log.emit("info", "hi")
    events.changed.emit()
    assert seen == [("info", "hi"), "changed"]
    with pytest.raises(TypeError, match="level, text"):
        events.log.emit("only one")
    events.changed.disconnect(cb)
    events.changed.emit()
    assert seen == [("info", "hi"), "changed"]
