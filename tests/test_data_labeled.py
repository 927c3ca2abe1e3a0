"""Scanning with a labels sidecar: the sidecar wins, loose files train, the rest is counted, never silent."""
from __future__ import annotations

import json

import pytest

from engine.data import scan
from engine.data.labeled import data_files, labels_meta
from engine.data.scan import health_report
from engine.errors import DataError
from engine.history.summary import read_summary
from engine.labels.sidecar import LabelStore


@pytest.fixture(autouse=True)
def _appdata(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "appdata"))


def _texts(folder, stem, n, words):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{stem}{i}.txt").write_text(f"{words} number {i} of {stem}")


def test_flat_folder_trains_on_what_the_sidecar_labels(tmp_path):
    root = tmp_path / "flat"
    _texts(root, "a", 8, "a cat purrs")
    _texts(root, "b", 8, "a dog barks")
    _texts(root, "u", 3, "something else")
    store = LabelStore(root)
    for i in range(8):
        store.label(f"a{i}.txt", "cats")
        store.label(f"b{i}.txt", "dogs")
    ds = scan([root])
    assert ds.classes == ["cats", "dogs"] and len(ds.items) == 16
    rep = ds.report.to_dict()
    assert rep["totals"]["ignored"] == 0  # the sidecar's own files are not stray data
    lab = rep["labels"]
    assert (lab["from_sidecar"], lab["unlabeled"], lab["excluded"], lab["overridden"]) == (16, 3, 0, 0)
    assert lab["examples"] == 16 and lab["sha256"] and lab["sidecar"].endswith("transfer-studio-labels.csv")
    assert "unlabeled_files" in {f["code"] for f in rep["findings"]}
    meta = labels_meta(ds)
    assert meta["examples"] == 16 and meta["sidecar_sha256"] == lab["sha256"]
    assert meta["train"] == sum(e.split == "train" for e in ds.items)


def test_sidecar_wins_over_folders_and_every_change_is_listed(tmp_path):
    root = tmp_path / "tree"
    _texts(root / "cats", "c", 6, "a cat purrs")
    _texts(root / "dogs", "d", 6, "a dog barks")
    _texts(root / "unlabeled", "u", 4, "who knows")
    store = LabelStore(root)
    store.label("cats/c0.txt", "dogs")  # a correction: a conflict with its folder
    store.exclude("dogs/d0.txt", "blurry")
    store.label("unlabeled/u0.txt", "cats")
    store.label("dogs/d1.txt", "dogs")
    (root / "dogs" / "d1.txt").write_text("changed after it was labeled")
    store.label("cats/c5.txt", "cats")
    (root / "cats" / "c5.txt").unlink()  # labeled, then deleted
    ds = scan([root])
    by_path = {e.path: ds.classes[e.label] for e in ds.items}
    assert by_path[str(root / "cats" / "c0.txt")] == "dogs"
    assert by_path[str(root / "unlabeled" / "u0.txt")] == "cats"
    assert str(root / "dogs" / "d0.txt") not in by_path
    assert ds.classes == ["cats", "dogs"]  # 'unlabeled' is not a class
    lab = ds.report.to_dict()["labels"]
    assert lab["conflicts"] == [{"path": str(root / "cats" / "c0.txt"), "folder": "cats", "label": "dogs"}]
    assert (lab["excluded"], lab["unlabeled"], lab["stale"], lab["missing"]) == (1, 3, 1, 1)
    assert lab["paths"]["stale"] == [str(root / "dogs" / "d1.txt")] and lab["paths"]["missing"] == ["cats/c5.txt"]
    codes = {f["code"]: f["severity"] for f in ds.report.to_dict()["findings"]}
    assert codes["labels_stale"] == "warning" and codes["label_conflicts"] == "info"
    assert {"labels_excluded", "unlabeled_files", "labels_missing", "labels_sidecar"} <= set(codes)


def test_presplit_tree_reads_folder_labels_below_the_split_folders(tmp_path):
    root = tmp_path / "split"
    for split in ("train", "test"):
        _texts(root / split / "cats", f"{split}c", 4, "a cat purrs")
        _texts(root / split / "dogs", f"{split}d", 4, "a dog barks")
    LabelStore(root).label("train/cats/trainc0.txt", "dogs")
    ds = scan([root])
    assert ds.presplit and ds.classes == ["cats", "dogs"]
    relabeled = [e for e in ds.items if e.path.endswith("trainc0.txt")][0]
    assert ds.classes[relabeled.label] == "dogs" and relabeled.split == "train"
    assert ds.report.to_dict()["labels"]["overridden"] == 1


def test_a_sidecar_without_labels_says_so(tmp_path):
    root = tmp_path / "new"
    _texts(root, "x", 5, "not yet labeled")
    LabelStore(root).set_classes(["cats", "dogs"], folder_labels=False)
    with pytest.raises(DataError, match="no labeled files yet .5 unlabeled"):
        scan([root])
    rep = health_report([root])
    assert rep["labels"]["unlabeled"] == 5 and rep["fatal"]


def test_folder_labels_off_leaves_folder_files_unlabeled(tmp_path):
    root = tmp_path / "off"
    _texts(root / "cats", "c", 3, "a cat purrs")
    _texts(root / "dogs", "d", 3, "a dog barks")
    store = LabelStore(root)
    store.set_classes(["cats", "dogs"], folder_labels=False)
    for i in range(3):
        store.label(f"cats/c{i}.txt", "cats")
    store.label("dogs/d0.txt", "dogs")
    store.label("dogs/d1.txt", "dogs")
    lab = scan([root]).report.to_dict()["labels"]
    assert (lab["from_sidecar"], lab["unlabeled"], lab["overridden"]) == (5, 1, 0)


def test_without_a_sidecar_nothing_changes(tmp_path):
    root = tmp_path / "plain"
    _texts(root / "cats", "c", 4, "a cat purrs")
    _texts(root / "dogs", "d", 4, "a dog barks")
    (root / "notes.txt").write_text("a stray note")
    rep = scan([root]).report.to_dict()
    assert rep["labels"] is None and rep["totals"]["ignored"] == 1
    files = {c.path.rsplit("/", 1)[-1]: label for c, label in data_files(str(root))}  # what label suggest ranks
    assert files["notes.txt"] is None and files["c0.txt"] == "cats" and len(files) == 9


def test_run_summary_carries_the_label_count(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "model.json").write_text("{}")
    (run / "recipe.json").write_text(json.dumps({"facts": {"n_train": 7, "n_val": 2, "n_test": 1}}))
    assert read_summary(run).labels == {"examples": 10, "train": 7, "sidecar_sha256": None}  # an older run
    (run / "labels.json").write_text(json.dumps({"examples": 12, "train": 8, "sidecar_sha256": "ab"}))
    assert read_summary(run).labels == {"examples": 12, "train": 8, "sidecar_sha256": "ab"}
