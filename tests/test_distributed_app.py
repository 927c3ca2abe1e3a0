"""The app's side of a multi-process run: "Use all N GPUs" on the Train page becomes `gpus` in the
config, and the engine process runs such a Start in several processes, relaying rank 0's messages
(2 CPU processes with gloo stand in for GPUs here)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine import protocol
from gui.train_model import RunState, TrainSettings, build_config

ROOT = Path(__file__).resolve().parents[1]
TWO_GPUS = [{"name": "NVIDIA H100", "kind": "cuda", "index": 0, "memory_bytes": 80 * 2 ** 30},
            {"name": "NVIDIA H100", "kind": "cuda", "index": 1, "memory_bytes": 80 * 2 ** 30},
            {"name": "x86_64", "kind": "cpu", "cores": 16, "memory_bytes": 0}]


def test_use_all_gpus_is_offered_when_the_engine_has_more_than_one(qtbot):
    from gui.train_page import ALL_GPUS, TrainPage

    page = TrainPage(RunState())
    qtbot.addWidget(page)
    page.set_devices("cuda", TWO_GPUS[:1] + TWO_GPUS[2:])
    assert page.device.findData(ALL_GPUS) < 0  # one GPU: nothing to spread over
    page.set_devices("cuda", TWO_GPUS)
    i = page.device.findData(ALL_GPUS)
    assert page.device.itemText(i) == "Use all 2 GPUs"
    assert page.device.findData("cuda:1") > 0  # and each GPU on its own
    page.device.setCurrentIndex(i)
    s = page.settings()
    assert (s.device, s.gpus) == ("cuda", 2)
    cfg = build_config(["/data"], "tiny", None, s, "/runs")
    assert (cfg["device"], cfg["gpus"]) == ("cuda", 2)
    page.device.setCurrentIndex(page.device.findData("cpu"))
    assert (page.settings().device, page.settings().gpus) == ("cpu", 1)
    page.set_settings(TrainSettings(device="cuda", gpus=2))  # a saved choice comes back
    assert page.device.currentData() == ALL_GPUS
    assert TrainSettings.from_dict({"gpus": 4}).gpus == 4 and TrainSettings.from_dict({"gpus": "x"}).gpus == 1


def test_gpus_the_machine_lacks_fail_the_start_in_one_sentence(monkeypatch):
    import torch

    from engine import server
    from tests.test_server import Capture, line

    if torch.cuda.device_count() >= 2:
        pytest.skip("this machine has the GPUs")
    out = Capture()
    srv = server.Server(out, heartbeat_s=3600, stop_grace_s=10, probe=False)
    srv.begin()
    try:
        srv.handle_line(line(protocol.Start(config={"data": ["/data"], "device": "cuda", "gpus": 2}), 5))
        bye = out.wait_for(protocol.Bye)
        err = out.of(protocol.Error)[0]
        assert bye.reason == "failed" and err.kind == "config" and "--gpus 2" in err.message
    finally:
        srv.close()


def _after(out, cls, after: int) -> list:
    return [m for m in out.messages[after:] if isinstance(m, cls)]


def _wait(out, cls, after: int = 0, timeout=400.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _after(out, cls, after)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {cls.__name__} within {timeout} s; got {[m.TYPE for m in out.messages][-20:]}")


@pytest.mark.slow
def test_the_engine_runs_a_start_in_two_processes_cancels_and_resumes_it(tmp_path, monkeypatch):
    from engine import server
    from tests.test_server import Capture, line
    from tests.test_train import make_images

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    data = make_images(tmp_path / "data", per_class=12)
    config = dict(data=[str(data)], backbone="test_tiny_cnn", freeze=0, epochs=30, batch_size=4, lr=3e-3,
                  input_size=32, augment="none", early_stopping_patience=None, runs_root=str(tmp_path / "runs"),
                  name="app", val_fraction=0.25, test_fraction=0.25, num_workers=0, compare_probe=False,
                  refit=False, device="cpu", gpus=2)
    out = Capture()
    srv = server.Server(out, heartbeat_s=3600, stop_grace_s=60, probe=False)
    srv.begin()
    try:
        srv.handle_line(line(protocol.Start(config=config), 5))
        first = _wait(out, protocol.EpochEnd)
        assert first.epoch == 1
        srv.handle_line(line(protocol.Cancel(), 6))
        assert _wait(out, protocol.Bye).reason == "cancelled"
        assert not out.of(protocol.Error)
        ends = [m.epoch for m in out.of(protocol.EpochEnd)]
        assert ends == sorted(set(ends))  # one process reports: each epoch once
        run_dir = tmp_path / "runs" / "app"
        assert (run_dir / "checkpoints" / "last" / "state.json").is_file()

        seen = len(out.messages)
        srv.handle_line(line(protocol.Start(config=config, resume_from=str(run_dir)), 7))
        result = _wait(out, protocol.Result, seen)
        assert result.run_dir == str(run_dir) and result.metrics.get("test")
        assert _wait(out, protocol.Bye, seen).reason == "completed"
        logs = " ".join(m.text for m in _after(out, protocol.Log, seen))
        assert "Resuming after epoch" in logs
    finally:
        srv.close()


@pytest.mark.slow
def test_a_failed_process_reaches_the_app_named_with_its_reason(tmp_path, monkeypatch):
    """Rank 0 cannot read the data: the other process, waiting for the run folder, is stopped by
    torchrun's agent, and the app gets one Error naming the process and the reason."""
    from engine import server
    from tests.test_server import Capture, line

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = Capture()
    srv = server.Server(out, heartbeat_s=3600, stop_grace_s=60, probe=False)
    srv.begin()
    try:
        config = {"data": [str(tmp_path / "missing")], "backbone": "test_tiny_cnn", "device": "cpu", "gpus": 2,
                  "runs_root": str(tmp_path / "runs")}
        srv.handle_line(line(protocol.Start(config=config), 5))
        assert _wait(out, protocol.Bye, timeout=240).reason == "failed"
        err = out.of(protocol.Error)[-1]
        assert err.kind == "rank_failed"
        assert err.message.startswith("Process 0 of 2 stopped (DataError: ") and str(tmp_path / "missing") in err.message
    finally:
        srv.close()
