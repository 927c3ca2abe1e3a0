"""EngineClient against a scripted fake engine (tests/fake_engine.py): every way an
engine can misbehave ends in the right signal. No fixed sleeps: waitSignal/waitUntil."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import protocol
from gui.engine_client import EngineClient
from gui.requests import EngineRequests

FAKE = Path(__file__).with_name("fake_engine.py")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def make_client(qtbot):
    clients = []

    def make(scenario: str, **kwargs) -> EngineClient:
        kwargs.setdefault("heartbeat_ms", 5000)
        client = EngineClient(program=[sys.executable, str(FAKE), scenario, "0.05"], **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.is_running():
            client.shutdown(timeout_ms=2000, block=True)


def started(qtbot, client: EngineClient) -> protocol.Hello:
    with qtbot.waitSignal(client.ready, timeout=10000) as blocker:
        client.start()
    return blocker.args[0]


def collect(signal) -> list:
    seen = []
    signal.connect(lambda *args: seen.append(args if len(args) > 1 else args[0]))
    return seen


def test_run_streams_metrics_then_result_and_bye(qtbot, make_client):
    client = make_client("normal")
    states = collect(client.stateChanged)
    hello = started(qtbot, client)
    assert hello.engine_version == "fake" and client.hello is hello
    metrics, results = collect(client.metric), collect(client.result)
    with qtbot.waitSignal(client.bye, timeout=10000) as bye:
        client.start_run({"data": ["x"]})
        assert client.state == "busy"
    assert bye.args[0].reason == "completed"
    assert [m.global_step for m in metrics] == [1, 2, 3, 4]
    assert results and results[0].run_dir == "/tmp/fake-run"
    assert states == ["starting", "ready", "busy", "ready"]


def test_hello_split_across_writes_is_reassembled(qtbot, make_client):
    client = make_client("split")
    warnings = collect(client.protocolWarning)
    hello = started(qtbot, client)
    assert hello.pid > 0 and hello.devices[0]["name"] == "fake cpu"
    assert warnings == []


def test_garbage_lines_warn_and_are_skipped(qtbot, make_client):
    client = make_client("garbage")
    warnings = collect(client.protocolWarning)
    with qtbot.waitSignal(client.log, timeout=10000, check_params_cb=lambda m: m.text == "after-garbage"):
        client.start()
    assert len(warnings) == 2 and all("not a protocol message" in w for w in warnings)
    assert client.state == "ready"


def test_unknown_message_type_is_ignored(qtbot, make_client):
    client = make_client("unknown")
    warnings, messages = collect(client.protocolWarning), collect(client.message)
    with qtbot.waitSignal(client.log, timeout=10000, check_params_cb=lambda m: m.text == "after-unknown"):
        client.start()
    assert warnings == []
    assert "frobnicate" not in {env.type for env in messages}
    assert client.state == "ready"


def test_overlong_line_is_dropped_and_reading_goes_on(qtbot, make_client):
    client = make_client("longline")
    warnings = collect(client.protocolWarning)
    with qtbot.waitSignal(client.log, timeout=20000, check_params_cb=lambda m: m.text == "after-long"):
        client.start()
    assert len(warnings) == 1 and "longer than" in warnings[0]


def test_wrong_major_version_is_refused(qtbot, make_client):
    client = make_client("major")
    readies, crashes = collect(client.ready), collect(client.crashed)
    with qtbot.waitSignal(client.error, timeout=10000) as err:
        client.start()
    assert err.args[0].kind == "protocol" and "2.0" in err.args[0].message
    qtbot.waitUntil(lambda: client.state == "stopped", timeout=10000)
    assert readies == [] and crashes == [] and client.hello is None


def test_silence_shows_not_responding_but_does_not_kill(qtbot, make_client):
    client = make_client("silent", heartbeat_ms=100, missed_heartbeats=3)
    started(qtbot, client)
    with qtbot.waitSignal(client.notResponding, timeout=10000) as nr:
        pass
    assert nr.args == [True]
    assert client.state == "not_responding" and client.is_running()


def test_death_mid_epoch_reports_crash_and_answers_pending_requests(qtbot, make_client):
    client = make_client("die")
    requests = EngineRequests(client)
    started(qtbot, client)
    answers = []
    ticket = requests.request(protocol.InspectData(paths=["/nowhere"]), answers.append, answers.append,
                              busy="inspect")
    assert requests.is_busy("inspect")
    with qtbot.waitSignal(client.crashed, timeout=10000) as crash:
        client.start_run({"data": ["x"]})
    code, tail = crash.args
    assert code == 3 and "simulated crash in epoch 1" in tail
    assert client.state == "crashed" and not client.is_running()
    assert [(m.request_seq, m.kind) for m in answers] == [(ticket.seq, "engine_stopped")]
    assert not requests.is_busy() and requests.in_flight() == []


def test_cancel_honoured_ends_with_bye_cancelled(qtbot, make_client):
    client = make_client("patient")
    started(qtbot, client)
    with qtbot.waitSignal(client.metric, timeout=10000):
        client.start_run({"data": ["x"]})
    with qtbot.waitSignal(client.bye, timeout=10000) as bye:
        client.cancel()
    assert bye.args[0].reason == "cancelled" and client.state == "ready" and client.is_running()


def test_unhonoured_cancel_escalates_to_terminate_then_kill(qtbot, make_client):
    client = make_client("stubborn", cancel_timeout_ms=200, terminate_timeout_ms=200)
    started(qtbot, client)
    warnings = collect(client.protocolWarning)
    with qtbot.waitSignal(client.metric, timeout=10000):
        client.start_run({"data": ["x"]})
    with qtbot.waitSignal(client.crashed, timeout=10000) as crash:
        client.cancel()
    assert crash.args[0] == -9
    assert len(warnings) == 2 and "terminating" in warnings[0] and "killing" in warnings[1]


def test_replies_carry_the_request_seq(qtbot, make_client):
    client = make_client("normal")
    started(qtbot, client)
    with qtbot.waitSignal(client.reply, timeout=10000) as first:
        seq1 = client.request(protocol.ListBackbones())
    with qtbot.waitSignal(client.reply, timeout=10000) as second:
        seq2 = client.request(protocol.DescribeBackbone(backbone="nope"))
    assert first.args[0] == seq1 and isinstance(first.args[1], protocol.Backbones)
    assert second.args[0] == seq2 and second.args[1].kind == "config" and seq2 > seq1


def test_request_sent_before_hello_is_delivered(qtbot, make_client):
    client = make_client("normal")
    client.start()
    assert client.state == "starting"
    with qtbot.waitSignal(client.reply, timeout=10000) as reply:
        seq = client.request(protocol.ListBackbones())
    assert reply.args[0] == seq and reply.args[1].items == [{"id": "fake_net"}]


def test_shutdown_is_clean(qtbot, make_client):
    client = make_client("normal")
    started(qtbot, client)
    crashes, byes = collect(client.crashed), collect(client.bye)
    with qtbot.waitSignal(client.stateChanged, timeout=10000, check_params_cb=lambda s: s == "stopped"):
        client.shutdown()
    assert crashes == [] and [b.reason for b in byes] == ["shutdown"]


def test_engine_that_cannot_start_reports_crash(qtbot):
    client = EngineClient(program=[str(ROOT / "no-such-engine")])
    requests = EngineRequests(client)
    with qtbot.waitSignal(client.crashed, timeout=10000) as crash:
        client.start()
    assert crash.args[0] == -1 and "could not be started" in crash.args[1]
    assert client.request(protocol.Ping()) == -1  # nothing was sent
    errors, needed = [], []
    requests.engineNeeded.connect(lambda: needed.append("start one"))
    requests.request(protocol.Ping(), lambda m: pytest.fail(f"answered {m}"), errors.append)
    assert needed == ["start one"]  # the request waits for an engine; the app is asked to start one
    requests.ready = True  # as if a hello had come: sending finds no process, and says so
    requests.request(protocol.Ping(), lambda m: pytest.fail(f"answered {m}"), errors.append)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert errors[0].kind == "engine_stopped"


def test_gui_package_imports_no_torch():
    code = ("import importlib, pkgutil, sys, gui\n"
            "for m in pkgutil.walk_packages(gui.__path__, 'gui.'):\n"
            "    importlib.import_module(m.name)\n"
            "import gui.engine_client\n"
            "heavy = sorted(n for n in ('torch', 'torchvision', 'transformers', 'timm') if n in sys.modules)\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_framing_keeps_partial_tails_and_drops_overlong_lines(qtbot):
    """The same bytes give the same messages however the pipe happens to cut them."""
    lines = [protocol.encode(protocol.Log(text=f"m{i}"), i).encode() for i in range(5)]
    long_line = b'{"v":"1.0","type":"log","text":"' + b"x" * (1 << 20) + b'"}\n'
    stream = lines[0] + lines[1] + long_line + lines[2] + b"garbage\n" + lines[3] + long_line + lines[4]
    for cuts in ([len(stream)], [1] * 40 + [len(stream)], [7, 1 << 19, 1 << 19, 1 << 19, len(stream)]):
        client = EngineClient(program=["unused"])
        texts, warnings = collect(client.log), collect(client.protocolWarning)
        pos = 0
        for size in cuts:
            client._feed(stream[pos:pos + size])
            client._drain(budget_s=None)
            pos += size
        assert [m.text for m in texts] == [f"m{i}" for i in range(5)]
        assert sum("longer than" in w for w in warnings) == 2
        assert sum("not a protocol message" in w for w in warnings) == 1
