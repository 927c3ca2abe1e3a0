"""The runs folder as history (engine/history): summaries, how a run ended, notes, delete, curves,
settings side by side, and `train --config` replaying a run's settings."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from engine import protocol as P
from engine.history import (RunsError, delete_run, list_runs, read_curves, read_summary, set_notes,
                         settings_table)

T0 = 1_700_000_000.0


def make_run(root: Path, name: str, *, ending: str = "finished", epochs: int = 2, lr: float = 1e-3,
             last_checkpoint: bool = True, t0: float = T0) -> Path:
    run = root / name
    (run / "checkpoints" / "best").mkdir(parents=True)
    cfg = {"data": ["/data/pets"], "backbone": "tiny", "freeze": 1, "epochs": epochs, "lr": lr, "seed": 0,
           "runs_root": str(root), "name": name, "schema_version": 1, "monitor": "val_accuracy"}
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "model.json").write_text(json.dumps({"backbone": "tiny", "modality": "image", "num_classes": 2,
                                                "classes": ["cat", "dog"]}))
    (run / "recipe.json").write_text(json.dumps({"facts": {"device": "cpu", "n_train": 10, "n_val": 4, "n_test": 4,
                                                           "backbone_name": "Tiny net", "stages": 3}}))
    (run / "checkpoints" / "best" / "state.json").write_text(json.dumps(
        {"epoch": 2, "best_score": 0.75, "monitor": "val_accuracy"}))
    if last_checkpoint:
        (run / "checkpoints" / "last").mkdir()
        (run / "checkpoints" / "last" / "state.json").write_text("{}")
        (run / "checkpoints" / "last" / "model.safetensors").write_bytes(b"0")
    seq = 0

    def line(msg, t):
        nonlocal seq
        seq += 1
        d = json.loads(P.encode(msg, seq, name))
        d["t"] = t
        return json.dumps(d, separators=(",", ":")) + "\n"

    lines = [line(P.Status(phase="loading_model"), t0)]
    for ep in range(1, epochs + 1):
        lines.append(line(P.Metric(global_step=ep, epoch=ep - 0.5, values={"loss": 1.0 / ep, "lr": lr}), t0 + ep))
        lines.append(line(P.EpochEnd(epoch=ep, values={"val_accuracy": 0.5 + ep / 10, "val_loss": 1.0 / ep}), t0 + ep))
    end = t0 + epochs + 10
    if ending == "finished":
        lines.append(line(P.Log(text="Finished in 12.0 s (early_stopping)."), end))
        metrics = {"test": {"n": 4, "accuracy": 0.75, "ci95": {"accuracy": [0.3, 0.95]}}, "classes": ["cat", "dog"]}
        (run / "metrics.json").write_text(json.dumps(metrics))
        lines.append(line(P.Result(run_dir=str(run), metrics=metrics), end))
    elif ending == "cancelled":
        lines.append(line(P.Log(text="Cancelled: the last state is saved under checkpoints/."), end))
    elif ending == "failed":
        lines.append(line(P.Error(kind="out_of_memory", message="The model ran out of memory."), end))
    (run / "events.jsonl").write_text("".join(lines))
    old = time.time() - 3600
    os.utime(run / "events.jsonl", (old, old))
    return run


def test_each_way_a_run_ends_is_told_with_its_reason(tmp_path):
    make_run(tmp_path, "a", ending="finished", t0=T0)
    make_run(tmp_path, "b", ending="cancelled", t0=T0 + 100)
    make_run(tmp_path, "c", ending="failed", t0=T0 + 200)
    make_run(tmp_path, "d", ending="killed", t0=T0 + 300)
    make_run(tmp_path, "e", ending="killed", last_checkpoint=False, t0=T0 + 400)
    (tmp_path / "not-a-run").mkdir()
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert [r.name for r in list_runs(tmp_path)] == ["e", "d", "c", "b", "a"]  # newest first
    assert (runs["a"].status, runs["a"].reason, runs["a"].resumable) == (
        "finished", "stopped early: validation stopped improving", False)
    assert (runs["b"].status, runs["b"].reason, runs["b"].resumable) == ("stopped", "cancelled", True)
    assert (runs["c"].status, runs["c"].reason, runs["c"].resumable) == (
        "failed", "The model ran out of memory.", True)
    assert runs["d"].status == "stopped" and runs["d"].reason.startswith("interrupted") and runs["d"].resumable
    assert not runs["e"].resumable  # nothing saved to go on from


def test_summary_reads_data_model_figures_duration_and_device(tmp_path):
    r = read_summary(make_run(tmp_path, "a", epochs=3))
    assert r.data == ["/data/pets"] and r.counts == {"train": 10, "val": 4, "test": 4} and r.classes == 2
    assert (r.backbone, r.backbone_name, r.freeze, r.stages, r.device) == ("tiny", "Tiny net", 1, 3, "cpu")
    assert r.best == {"monitor": "val_accuracy", "score": 0.75, "epoch": 2}
    assert r.figures["split"] == "test" and r.figures["accuracy"] == 0.75 and r.figures["accuracy_ci"] == [0.3, 0.95]
    assert r.created == T0 and r.duration_s == pytest.approx(13.0)


def test_a_recently_written_log_without_an_ending_is_running(tmp_path):
    run = make_run(tmp_path, "a", ending="killed")
    os.utime(run / "events.jsonl")  # now
    assert read_summary(run).status == "running"


def test_a_resume_after_a_cancel_forgets_the_cancel(tmp_path):
    run = make_run(tmp_path, "a", ending="cancelled")
    with open(run / "events.jsonl", "a") as f:
        f.write(P.encode(P.Log(text="Resuming after epoch 2"), 99))
    old = time.time() - 3600
    os.utime(run / "events.jsonl", (old, old))
    assert read_summary(run).reason.startswith("interrupted")


def test_rename_and_note_live_in_the_run_folder_and_the_folder_keeps_its_name(tmp_path):
    run = make_run(tmp_path, "a")
    set_notes(run, display_name="  cats   v2 ")
    set_notes(run, note="lower lr")
    r = read_summary(run)
    assert (r.name, r.display_name, r.title, r.note) == ("a", "cats v2", "cats v2", "lower lr")
    assert json.loads((run / "notes.json").read_text()) == {"display_name": "cats v2", "note": "lower lr"}
    with pytest.raises(RunsError):
        set_notes(tmp_path, note="x")  # not a run folder


def test_delete_removes_only_a_run_folder_inside_the_runs_folder(tmp_path):
    run = make_run(tmp_path / "runs", "a")
    other = make_run(tmp_path / "elsewhere", "b")
    with pytest.raises(RunsError):
        delete_run(other, tmp_path / "runs")
    with pytest.raises(RunsError):
        delete_run(tmp_path / "runs", tmp_path)  # the runs folder itself is not a run
    delete_run(run, tmp_path / "runs")
    assert not run.exists() and other.exists()


def test_curves_come_from_the_event_log(tmp_path):
    c = read_curves(make_run(tmp_path, "a", epochs=3))
    assert c.epochs == [1, 2, 3]
    assert c.epoch_values["val_accuracy"] == pytest.approx([0.6, 0.7, 0.8])
    assert c.steps == [0.5, 1.5, 2.5] and c.step_values["lr"] == [1e-3] * 3
    assert read_curves(tmp_path / "missing").epochs == []


def test_settings_table_puts_differences_first():
    rows = settings_table([{"lr": 1e-3, "seed": 0, "name": "a"}, {"lr": 3e-4, "seed": 0, "name": "b"}])
    assert rows == [("lr", [1e-3, 3e-4], True), ("seed", [0, 0], False)]


def test_train_config_replays_a_runs_settings(tmp_path, monkeypatch):
    from engine import cli
    from engine.config import RunConfig
    import engine.train as train_pkg

    saved = RunConfig(data=[str(tmp_path)], backbone="test_tiny_cnn", freeze=2, epochs=3, lr=3e-4,
                      runs_root=str(tmp_path / "runs"), name="first")
    (tmp_path / "config.json").write_text(json.dumps(saved.to_dict()))
    seen = []
    monkeypatch.setattr(train_pkg, "train", lambda cfg, **kw: seen.append(cfg) or
                        {"run_dir": "x", "metrics": {}, "stopped": "completed"})
    assert cli.main(["train", "--config", str(tmp_path / "config.json"), "--epochs", "9"]) == 0
    assert seen[0] == saved  # the same RunConfig; other flags do not change a replay
    assert cli.main(["train", "--config", str(tmp_path / "config.json"), "--name", "again"]) == 0
    assert seen[1] == saved.replace(name="again")
    (tmp_path / "bad.json").write_text("[1]")
    assert cli.main(["train", "--config", str(tmp_path / "bad.json")]) == 2


# ---------------------------------------------------------------- the rebuildable index
def _same(a, b):
    return [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_the_index_gives_the_same_listing_and_is_used_for_unchanged_runs(tmp_path, monkeypatch):
    from engine.history import summary

    for i, ending in enumerate(("finished", "cancelled", "failed")):
        make_run(tmp_path, f"r{i}", ending=ending, t0=T0 + i)
    direct = list_runs(tmp_path, use_index=False)
    assert _same(list_runs(tmp_path), direct) and (tmp_path / ".runs-index.sqlite").is_file()
    monkeypatch.setattr(summary, "read_summary", lambda *a: pytest.fail("an unchanged run was read again"))
    assert _same(list_runs(tmp_path), direct)


def test_the_index_sees_every_change_a_summary_reads(tmp_path):
    run = make_run(tmp_path, "r", ending="cancelled")
    list_runs(tmp_path)
    set_notes(run, note="first")
    assert list_runs(tmp_path)[0].note == "first"
    set_notes(run, note="second")  # at once: same clock tick as the first write, a new inode
    assert list_runs(tmp_path)[0].note == "second"
    (run / "metrics.json").write_text(json.dumps({"test": {"n": 4, "accuracy": 0.5}}))
    assert list_runs(tmp_path)[0].status == "finished"
    with open(run / "events.jsonl", "a") as f:
        f.write(P.encode(P.Error(kind="internal", message="later"), 99))
    old = time.time() - 3600
    os.utime(run / "events.jsonl", (old, old))
    (run / "metrics.json").unlink()
    assert list_runs(tmp_path)[0].reason == "later"
    delete_run(run, tmp_path)
    assert list_runs(tmp_path) == []


def test_a_running_run_is_not_cached_and_a_damaged_index_is_rebuilt(tmp_path, monkeypatch):
    import types

    from engine.history import summary

    run = make_run(tmp_path, "r", ending="killed")
    os.utime(run / "events.jsonl")  # written just now: "running"
    assert list_runs(tmp_path)[0].status == "running"
    later = time.time() + 3600  # an hour on, nothing written: the clock alone makes it "stopped"
    monkeypatch.setattr(summary, "time", types.SimpleNamespace(time=lambda: later))
    assert list_runs(tmp_path)[0].status == "stopped"
    monkeypatch.undo()
    old = time.time() - 3600
    os.utime(run / "events.jsonl", (old, old))
    (tmp_path / ".runs-index.sqlite").write_bytes(b"not a database at all" * 100)
    assert list_runs(tmp_path)[0].status == "stopped"
    assert list_runs(tmp_path)[0].status == "stopped"
