"""A scripted stand-in for `python -m engine`, for EngineClient tests and benchmarks.

Usage: fake_engine.py SCENARIO [heartbeat_s] [flood_s]. It speaks the real protocol
(engine.protocol) but misbehaves on purpose, as the scenario says:

  normal    answers like the engine: ping, list_backbones, start (a short run), cancel, shutdown
  split     hello written in three pieces with pauses between them
  garbage   a non-JSON line and a JSON non-message before a log "after-garbage"
  unknown   a message of an unknown type before a log "after-unknown"
  major     says hello with protocol major version 2
  silent    says hello and two heartbeats, then goes quiet (still reads stdin; exits on EOF)
  die       on start: status, progress, a metric, a line on stderr, then os._exit(3) mid-epoch
  patient   on start sends a metric, then waits (up to a minute) for cancel
  stubborn  on start never finishes; ignores cancel and SIGTERM
  longline  a 2 MiB line before a log "after-long"
  flood     on start: metrics at full rate for flood_s seconds (benchmark), then result and bye

Production code has no test hooks; all scripted behaviour lives here.
"""
from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import protocol  # noqa: E402

OUT = sys.stdout
SEND_LOCK = threading.Lock()
SEQ = itertools.count(1)


def send(msg: protocol.Message) -> None:
    with SEND_LOCK:
        OUT.write(protocol.encode(msg, next(SEQ)))
        OUT.flush()


def raw(text: str) -> None:
    with SEND_LOCK:
        OUT.write(text)
        OUT.flush()


def hello(version: str = protocol.PROTOCOL_VERSION) -> protocol.Hello:
    return protocol.Hello(protocol=version, engine_version="fake", python=sys.version.split()[0],
                          device="cpu", devices=[{"name": "fake cpu", "kind": "cpu", "memory_bytes": 1}],
                          pid=os.getpid())


def heartbeats(period: float, stop: threading.Event) -> None:
    while not stop.wait(period):
        send(protocol.Heartbeat(rss_bytes=1, busy=False))


def flood(cancel: threading.Event, duration: float) -> None:
    end, step = time.monotonic() + duration, 1
    while time.monotonic() < end and not cancel.is_set():
        step += 1
        send(protocol.Metric(global_step=step, epoch=step / 1000, values={"loss": 1.0 / step, "lr": 1e-3}))
    send(protocol.Result(run_dir="/tmp/fake-run", metrics={"steps": step}))
    send(protocol.Bye(reason="completed"))


def short_run(scenario: str, cancel: threading.Event, flood_s: float) -> None:
    send(protocol.Status(phase="training", detail="fake"))
    send(protocol.Progress(epoch=1, epochs=1, step=1, steps=4, global_step=1, total_steps=4))
    send(protocol.Metric(global_step=1, epoch=0.25, values={"loss": 1.0}))
    if scenario == "die":
        sys.stderr.write("fatal: simulated crash in epoch 1\n")
        sys.stderr.flush()
        os._exit(3)
    if scenario == "stubborn":
        while True:
            time.sleep(3600)
    if scenario == "flood":
        return flood(cancel, flood_s)
    if scenario == "patient":
        cancel.wait(60)
    for step in range(2, 5):
        if cancel.wait(0.02):
            send(protocol.Checkpoint(kind="last", path="/tmp/fake-run/checkpoints/last", epoch=0))
            send(protocol.Bye(reason="cancelled"))
            return
        send(protocol.Metric(global_step=step, epoch=step / 4, values={"loss": 1.0 / step}))
    send(protocol.EpochEnd(epoch=1, values={"val_accuracy": 0.5}, best=True, seconds=0.1))
    send(protocol.Checkpoint(kind="last", path="/tmp/fake-run/checkpoints/last", epoch=1))
    send(protocol.Result(run_dir="/tmp/fake-run", metrics={"test": {"accuracy": 0.5}}))
    send(protocol.Bye(reason="completed"))


def opening(scenario: str) -> None:
    if scenario == "split":
        line = protocol.encode(hello(), next(SEQ))
        third = len(line) // 3
        for part in (line[:third], line[third:2 * third], line[2 * third:]):
            raw(part)
            time.sleep(0.05)
        return
    send(hello("2.0" if scenario == "major" else protocol.PROTOCOL_VERSION))
    if scenario == "garbage":
        raw("this is not json\n")
        raw('{"no": "envelope"}\n')
        send(protocol.Log(text="after-garbage"))
    elif scenario == "unknown":
        raw('{"v": "1.0", "type": "frobnicate", "seq": 99, "t": 0, "x": 1}\n')
        send(protocol.Log(text="after-unknown"))
    elif scenario == "longline":
        raw('{"v": "1.0", "type": "log", "text": "' + "x" * (2 << 20) + '"}\n')
        send(protocol.Log(text="after-long"))


def main() -> int:
    scenario = sys.argv[1] if len(sys.argv) > 1 else "normal"
    period = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
    flood_s = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    if scenario == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop, cancel = threading.Event(), threading.Event()
    opening(scenario)
    if scenario == "silent":
        send(protocol.Heartbeat(rss_bytes=1))
        send(protocol.Heartbeat(rss_bytes=1))
    else:
        threading.Thread(target=heartbeats, args=(period, stop), daemon=True).start()
    for line in sys.stdin.buffer:
        env = protocol.decode(line)
        msg = env.message
        if isinstance(msg, protocol.Ping):
            send(protocol.Heartbeat(rss_bytes=1))
        elif isinstance(msg, protocol.ListBackbones):
            send(protocol.Backbones(items=[{"id": "fake_net"}], request_seq=env.seq))
        elif isinstance(msg, protocol.DescribeBackbone):
            send(protocol.Error(kind="config", message=f"Unknown backbone {msg.backbone!r}.", request_seq=env.seq))
        elif isinstance(msg, protocol.InspectData):
            pass  # never answered: if this engine dies, the client must answer in its place
        elif isinstance(msg, protocol.Start):
            cancel.clear()
            threading.Thread(target=short_run, args=(scenario, cancel, flood_s), daemon=True).start()
        elif isinstance(msg, protocol.Cancel):
            cancel.set()
        elif isinstance(msg, protocol.Shutdown):
            break
    stop.set()
    send(protocol.Bye(reason="shutdown"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
