"""`python -m engine` as a real child process: hello first, protocol-only stdout, liveness
while torch loads, and a prompt, clean exit when its stdin closes (the app went away)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import protocol
from engine.selftest import EngineProcess
from tests.test_server_resume import needs_training, tiny_image_folder

ROOT = Path(__file__).resolve().parents[1]


def test_claim_stdout_sends_stray_output_to_stderr():
    code = ("import os, sys\n"
            "from engine.__main__ import claim_stdout\n"
            "out = claim_stdout()\n"
            "print('stray print')\n"
            "os.write(1, b'c-level write\\n')\n"
            "subprocess = __import__('subprocess'); subprocess.run(['echo', 'child process'])\n"
            "out.write('protocol line\\n')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "protocol line\n"
    for text in ("stray print", "c-level write", "child process"):
        assert text in res.stderr


def test_engine_says_hello_probes_devices_and_exits_on_eof(tmp_path):
    with open(tmp_path / "stderr.txt", "wb") as err:
        eng = EngineProcess(stderr=err)
        try:
            first = eng.wait_for(protocol.Hello, timeout=60)
            assert first.pid == eng.proc.pid and first.protocol == protocol.PROTOCOL_VERSION
            assert first.device == "" and first.torch  # sent before torch was imported
            assert isinstance(eng.history[0], protocol.Hello)
            probed = eng.wait_for(protocol.Hello, lambda h: bool(h.device), timeout=120)
            assert probed.device in ("cpu", "cuda", "mps")
            assert any(d["kind"] == "cpu" and d["memory_bytes"] > 0 for d in probed.devices)
            eng.send(protocol.Ping())
            assert eng.wait_for(protocol.Heartbeat, timeout=30).rss_bytes > 0
            eng.proc.stdin.write(b"garbage\n")
            eng.proc.stdin.flush()
            assert eng.wait_for(protocol.Error, timeout=30).kind == "protocol"
        finally:
            code = eng.close(timeout=60)
        assert code == 0
        assert eng.wait_for(protocol.Bye, timeout=10).reason == "shutdown"
    assert eng.bad_lines == []
    assert "stdin closed" in (tmp_path / "stderr.txt").read_text()


def test_shutdown_request_exits_cleanly(tmp_path):
    with open(os.devnull, "wb") as err:
        eng = EngineProcess(stderr=err)
        eng.wait_for(protocol.Hello, timeout=60)
        eng.send(protocol.Shutdown())
        assert eng.wait_for(protocol.Bye, timeout=60).reason == "shutdown"
        assert eng.proc.wait(60) == 0


@pytest.mark.slow  # a real run, a bundle export and a prediction: ~30-60 s on 2 busy cores
@needs_training
def test_self_test_trains_saves_reloads_and_predicts(tmp_path):
    data = tiny_image_folder(tmp_path / "data")
    res = subprocess.run([sys.executable, "-m", "engine", "--self-test", "--data", str(data),
                          "--backbone", "test_tiny_cnn"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    for check in ("handshake", "torch and devices", "one short training run", "save bundle",
                  "reload bundle and predict", "clean exit"):
        assert f"PASS  {check}" in res.stdout, res.stdout
    assert "0 failed, 0 skipped" in res.stdout
