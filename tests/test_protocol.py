"""engine.protocol: every message survives the wire; garbage is refused, unknown types
decode to None, and the sender numbers messages once each even across threads."""
from __future__ import annotations

import dataclasses
import io
import json
import threading

import pytest

from engine import protocol


def sample(cls) -> protocol.Message:
    """An instance whose fields all differ from their defaults (so a dropped field shows)."""
    values = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if isinstance(default, bool):
            values[f.name] = not default
        elif isinstance(default, int) or f.name == "request_seq":
            values[f.name] = 7
        elif isinstance(default, float) or f.name == "eta_s":
            values[f.name] = 2.5
        elif isinstance(default, list):
            values[f.name] = [{"name": "x", "n": 1}]
        elif isinstance(default, dict):
            values[f.name] = {"loss": 0.25, "nested": {"a": [1, 2]}}
        else:
            values[f.name] = f"{f.name}-value"
    return cls(**values)


@pytest.mark.parametrize("cls", sorted(protocol.message_types().values(), key=lambda c: c.TYPE),
                         ids=lambda c: c.TYPE)
def test_every_message_round_trips(cls):
    msg = sample(cls)
    line = protocol.encode(msg, seq=42, run_id="run-1")
    assert line.endswith("\n") and "\n" not in line[:-1]
    env = protocol.decode(line.encode("utf-8"))
    assert (env.type, env.seq, env.run_id, env.v) == (cls.TYPE, 42, "run-1", protocol.PROTOCOL_VERSION)
    assert env.message == msg


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'{"type": "log"}', b'{"v": "1.0"}',
                                  b'{"v": "1.0", "type": "log", "seq": "x"}'])
def test_garbage_is_a_protocol_error(line):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(line)


def test_unknown_type_and_extra_fields_are_tolerated():
    env = protocol.decode(b'{"v": "1.3", "type": "from_the_future", "seq": 3, "t": 1}')
    assert env.message is None and env.type == "from_the_future"
    env = protocol.decode(b'{"v": "1.3", "type": "log", "seq": 4, "text": "hi", "new_field": 1}')
    assert env.message == protocol.Log(text="hi")


def test_overlong_line_is_refused():
    line = protocol.encode(protocol.Log(text="x" * protocol.MAX_LINE_BYTES), 1).encode()
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.decode(line)


def test_nan_is_never_written():
    with pytest.raises(ValueError):
        protocol.encode(protocol.Metric(values={"loss": float("nan")}), 1)


def test_major_version():
    assert protocol.major("1.9") == 1 and protocol.major("2") == 2
    with pytest.raises(ValueError):
        protocol.major("one")


def test_sender_numbers_each_message_once_across_threads():
    stream = io.StringIO()
    sender = protocol.Sender(stream, run_id="r")
    threads = [threading.Thread(target=lambda: [sender.send(protocol.Heartbeat()) for _ in range(200)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = stream.getvalue().splitlines()
    assert sorted(json.loads(line)["seq"] for line in lines) == list(range(1, 801))
    assert all(protocol.decode(line).run_id == "r" for line in lines)
