"""Runs that are hard to break: names that stay inside runs_root, weights checked before any
work, crashes and a full disk that leave a run resumable, two runs started at once."""
from __future__ import annotations

import json
import os

import pytest

from engine.config import ConfigError, RunConfig
from tests.test_train import make_images


def tiny_config(tmp_path, data, **kw) -> RunConfig:
    base = dict(data=[str(data)], backbone="test_tiny_cnn", freeze=0, epochs=2, batch_size=8, lr=3e-3,
                input_size=32, augment="light", early_stopping_patience=None, deterministic=True, device="cpu",
                runs_root=str(tmp_path / "runs"), name="run", val_fraction=0.25, test_fraction=0.25,
                num_workers=0, compare_probe=False)
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.parametrize("name", ["../escape", "/tmp/absolute", "a/b", "..", ".", ".hidden", "", " padded",
                                  "c:\\windows", "tab\there"])
def test_a_run_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="plain folder name"):
        RunConfig(data=["x"], name=name).validate()


def test_plain_run_names_are_accepted_and_a_refused_one_writes_nothing(tmp_path):
    for name in ("cats-v2", "Röntgen Lauf 3", "run_2026.01", None):
        RunConfig(data=["x"], name=name).validate()
    from engine.train import train

    data = make_images(tmp_path / "data")
    with pytest.raises(ConfigError):
        train(tiny_config(tmp_path, data, name="../escape"))
    assert not (tmp_path / "escape").exists() and not (tmp_path / "runs").exists()


def _weights(run_dir, kind="last"):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "checkpoints" / kind / "model.safetensors"))


def _same_weights(a_dir, b_dir) -> None:
    import torch

    for kind in ("last", "best"):
        a, b = _weights(a_dir, kind), _weights(b_dir, kind)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), kind


def _stop_after_epoch(n):
    import threading

    from engine import protocol

    cancel = threading.Event()

    def reporter(msg):
        if isinstance(msg, protocol.EpochEnd) and msg.epoch == n:
            cancel.set()

    return reporter, cancel


@pytest.mark.parametrize("left", ["old+temp", "old+new"])
def test_a_run_killed_between_the_two_renames_of_last_resumes_and_its_temp_folders_go(tmp_path, left):
    """Fault audit: a crash between `last -> .last.old` and the new copy's rename left no
    checkpoints/last/, and resume refused the run although both copies were complete."""
    import shutil
    import subprocess
    import sys

    from engine.train import train

    data = make_images(tmp_path / "data")
    straight = train(tiny_config(tmp_path, data, name="straight", epochs=3))
    reporter, cancel = _stop_after_epoch(1)
    assert train(tiny_config(tmp_path, data, name="split", epochs=3), reporter=reporter,
                 cancel=cancel)["stopped"] == "cancelled"
    ck = tmp_path / "runs" / "split" / "checkpoints"
    os.replace(ck / "last", ck / ".last.old")  # the state a kill -9 left: no last/ at all
    shutil.copytree(ck / ".last.old", ck / (".last.k3j9x2ab.tmp" if left == "old+temp" else ".last.new"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f".last.{dead.pid}-abcdefgh.tmp", ".last.0123abcd.tmp", f".best.{dead.pid}-zyxwvuts.tmp"):
        (ck / name).mkdir()  # what earlier kills during checkpoint writes left behind
        (ck / name / "model.safetensors").write_bytes(b"\0" * 1000)

    resumed = train(None, resume_from=str(ck.parent))

    assert resumed["stopped"] == "completed"
    assert straight["stopped"] == "completed"
    _same_weights(tmp_path / "runs" / "straight", ck.parent)
    assert not [p.name for p in ck.iterdir() if p.name.startswith(".")]


def test_a_new_run_removes_temp_folders_that_dead_runs_left(tmp_path):
    import subprocess
    import sys

    from engine.train import train

    data = make_images(tmp_path / "data")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "runs" / "old-run" / "checkpoints" / f".last.{dead.pid}-abcdefgh.tmp"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"\0" * 1000)
    train(tiny_config(tmp_path, data, epochs=1))
    assert not stale.exists()


@pytest.mark.slow  # one engine start-up and three tiny runs: ~15-40 s on a busy 2-core box
def test_an_engine_killed_with_sigkill_resumes_to_bit_identical_weights(tmp_path):
    """The audit killed a run with kill -9 and resumed it; the final weights must equal those of
    a run that was never interrupted, to the bit (the existing equality test covers a graceful cancel)."""
    import signal

    import torch

    from engine import protocol
    from engine.selftest import EngineProcess
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=12)
    cfg = tiny_config(tmp_path, data, name="killed", epochs=3)
    straight = train(cfg.replace(name="straight"))
    with open(tmp_path / "engine.log", "wb") as err:
        eng = EngineProcess(stderr=err, env={"OMP_NUM_THREADS": str(torch.get_num_threads())})
        try:
            eng.wait_for(protocol.Hello, timeout=120)
            eng.send(protocol.Start(config=cfg.to_dict()))
            eng.wait_for(protocol.Checkpoint, lambda c: c.kind == "last", timeout=300)
            os.kill(eng.proc.pid, signal.SIGKILL)
            assert eng.proc.wait(30) == -signal.SIGKILL
        finally:
            eng.close()
    run_dir = tmp_path / "runs" / "killed"
    assert not (run_dir / "metrics.json").exists()

    resumed = train(None, resume_from=str(run_dir))

    assert resumed["stopped"] == "completed"
    _same_weights(tmp_path / "runs" / "straight", run_dir)
    assert json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())["epoch"] == 3
    assert straight["stopped"] == "completed"


NO_SPACE = "Error while serializing: I/O error: No space left on device (os error 28)"  # safetensors' words


def _fill_disk_at_second_last_save(monkeypatch):
    """save_file as on a disk that fills up while the second checkpoints/last/ is written."""
    from safetensors import SafetensorError

    from engine.train import checkpoint

    real, seen = checkpoint.save_file, []

    def save_file(tensors, path, *a, **k):
        if os.path.basename(os.path.dirname(path)).startswith(".last."):
            seen.append(path)
            if len(seen) > 2:  # model + optimizer of the first epoch's checkpoint were written
                with open(path, "wb") as f:
                    f.write(b"\0" * 64)  # what fitted before the disk was full
                raise SafetensorError(NO_SPACE)
        return real(tensors, path, *a, **k)

    monkeypatch.setattr(checkpoint, "save_file", save_file)


def test_a_full_disk_stops_the_run_in_one_sentence_recorded_in_its_events_and_resume_works(tmp_path, monkeypatch):
    """Fault audit: a full disk printed a raw SafetensorError traceback, events.jsonl did not say why
    the run stopped, and the app would have said 'Something went wrong inside the engine'."""
    from engine.errors import DiskFullError
    from engine.train import train

    data = make_images(tmp_path / "data")
    _fill_disk_at_second_last_save(monkeypatch)
    run_dir = tmp_path / "runs" / "run"
    with pytest.raises(DiskFullError) as info:
        train(tiny_config(tmp_path, data, epochs=3))
    message = f"The disk holding {run_dir} is full; free some space there and resume the run."
    assert info.value.message == message
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert (events[-1]["type"], events[-1]["kind"], events[-1]["message"]) == ("error", "disk_full", message)
    ck = run_dir / "checkpoints"
    assert sorted(p.name for p in ck.iterdir() if p.name.startswith(".")) == []  # no half-written temp folder
    assert json.loads((ck / "last" / "state.json").read_text())["epoch"] >= 1  # the last checkpoint is intact

    monkeypatch.undo()  # space was freed
    assert train(None, resume_from=str(run_dir))["stopped"] == "completed"


def test_a_full_disk_reads_the_same_in_the_cli_the_engine_and_the_app(tmp_path, monkeypatch, capsys):
    import errno

    from engine import protocol
    from engine.cli import main
    from engine.server import error_message
    from gui.session import plain_error

    data = make_images(tmp_path / "data")
    _fill_disk_at_second_last_save(monkeypatch)
    code = main(["train", "--data", str(data), "--backbone", "test_tiny_cnn", "--epochs", "3", "--batch-size", "8",
                 "--input-size", "32", "--device", "cpu", "--runs-root", str(tmp_path / "runs"), "--name", "cli"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "SafetensorError" not in err
    assert f"The disk holding {tmp_path / 'runs' / 'cli'} is full; free some space there and resume the run." in err

    export_failed = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "model.tsbundle"))
    reply = error_message(export_failed, request_seq=4)
    assert (reply.kind, reply.request_seq) == ("disk_full", 4)
    assert reply.message == (f"The disk holding {tmp_path / 'model.tsbundle'} is full; free some space there "
                             "and try again.")
    shown = plain_error(protocol.Error(kind="disk_full", message=reply.message))
    assert shown.startswith("The disk is full: The disk holding") and "inside the engine" not in shown


def test_two_runs_started_at_once_with_the_same_name_get_a_folder_each(tmp_path, monkeypatch):
    import threading
    from pathlib import Path

    from engine.train import plan, train

    data = make_images(tmp_path / "data")
    runs = tmp_path / "runs"
    # the other run claims 'same' just after this one looked: looking first must not decide
    (runs / "same").mkdir(parents=True)
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self, *a, **k: False if self.parent == runs and
                        self.name.startswith("same") else real_exists(self, *a, **k))
    assert Path(train(tiny_config(tmp_path, data, name="same", epochs=1))["run_dir"]).name == "same-2"
    monkeypatch.undo()

    together, real_recipe, results = threading.Barrier(2, timeout=120), plan.recipe, []

    def recipe(*a, **k):  # both runs have scanned their data; they name their folders at the same moment
        out = real_recipe(*a, **k)
        together.wait()
        return out

    monkeypatch.setattr(plan, "recipe", recipe)

    def start():
        try:
            results.append(train(tiny_config(tmp_path, data, name="twin", epochs=1)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert all(isinstance(r, dict) and r["stopped"] == "completed" for r in results), results
    assert sorted(Path(r["run_dir"]).name for r in results) == ["twin", "twin-2"]
    for r in results:
        assert json.loads((Path(r["run_dir"]) / "config.json").read_text())["name"] == Path(r["run_dir"]).name
