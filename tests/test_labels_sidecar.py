"""The labels sidecar: labels beside the data, originals untouched, each change saved at once, undo."""
from __future__ import annotations

import csv
import hashlib

import pytest

from engine import audit
from engine.labels.sidecar import CSV_NAME, EXCLUDED, LabelStore, fallback_dir, sidecar_dir


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "appdata"))
    r = tmp_path / "data"
    (r / "cats").mkdir(parents=True)
    (r / "unlabeled").mkdir()
    (r / "cats" / "a.txt").write_text("a cat")
    (r / "unlabeled" / "b.txt").write_text("a dog")
    (r / "c.txt").write_text("a bird")
    return r


def _digests(r):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in r.rglob("*.txt")}


def test_folder_labels_sidecar_wins_and_originals_are_untouched(root):
    before = _digests(root)
    store = LabelStore(root)
    assert store.label_of("cats/a.txt") == "cats"
    assert store.label_of("unlabeled/b.txt") is None and store.label_of("c.txt") is None
    store.label(root / "unlabeled" / "b.txt", "dogs")
    store.label("cats/a.txt", "dogs", reason="relabelled from the error gallery")
    store.exclude("c.txt", "not a photo")
    again = LabelStore(root)  # what a new process reads
    assert again.label_of("unlabeled/b.txt") == "dogs"
    assert again.label_of("cats/a.txt") == "dogs"
    assert again.get("c.txt").label == EXCLUDED and again.get("c.txt").reason == "not a photo"
    assert again.counts() == {"dogs": 2, EXCLUDED: 1}
    assert _digests(root) == before
    assert sorted(p.name for p in root.rglob("*.txt")) == ["a.txt", "b.txt", "c.txt"]
    rows = list(csv.DictReader(open(root / CSV_NAME)))
    assert rows[0]["sha256"] == hashlib.sha256(b"a dog").hexdigest()


def test_undo_puts_back_the_previous_state(root):
    store = LabelStore(root)
    prev = store.label("unlabeled/b.txt", "dogs")
    assert prev is None
    prev2 = store.label("unlabeled/b.txt", "cats")
    assert prev2.label == "dogs"
    store.restore("unlabeled/b.txt", prev2)
    assert LabelStore(root).label_of("unlabeled/b.txt") == "dogs"
    store.restore("unlabeled/b.txt", prev)
    assert LabelStore(root).label_of("unlabeled/b.txt") is None


def test_audit_log_holds_hashes_not_paths_or_content(root):
    LabelStore(root).label("c.txt", "birds")
    rec = [r for r in audit.read_log() if r["event"] == "label"][-1]
    text = str(rec)
    assert rec["file_sha256"] == hashlib.sha256(b"a bird").hexdigest()
    assert "c.txt" not in text and "a bird" not in text


def test_read_only_data_root_labels_go_to_the_app_folder(root, monkeypatch):
    from engine.labels import sidecar
    monkeypatch.setattr(sidecar, "_writable", lambda folder: False)  # CI runs as root: chmod would not stop it
    assert sidecar_dir(root) == fallback_dir(root)
    store = LabelStore(root)
    store.label("c.txt", "birds")
    assert (fallback_dir(root) / CSV_NAME).exists() and not (root / CSV_NAME).exists()
    assert LabelStore(root).label_of("c.txt") == "birds"


def test_classes_and_folder_labels_switch(root):
    store = LabelStore(root)
    store.set_classes(["cats", "dogs"], folder_labels=False)
    again = LabelStore(root)
    assert again.project.classes == ["cats", "dogs"]
    assert again.label_of("cats/a.txt") is None  # folder names are not labels in this project
    with pytest.raises(ValueError):
        store.set_classes(["cats", "cats"])
    with pytest.raises(ValueError):
        store.label(root.parent / "x.txt", "cats")
    with pytest.raises(ValueError):
        store.exclude("c.txt", "  ")


def test_a_pre_split_tree_labels_by_the_class_folder_below_the_split():
    from engine.labels.sidecar import Project, folder_label

    assert folder_label("train/cats/a.png", Project()) == "cats"
    assert folder_label("Validation/dogs/b.png", Project()) == "dogs"
    assert folder_label("train/a.png", Project()) == "train"  # a class that happens to be called train
    assert folder_label("test/unlabeled/c.png", Project()) is None


def test_renaming_a_class_relabels_rows_and_folder_labels_never_the_files(root):
    """A typo found after labeling: every file of the class, labeled by a row or by its folder, gets a row
    with the new name; folders, files and other classes stay as they were."""
    before = _digests(root)
    store = LabelStore(root)
    store.set_classes(["cats", "dogs"])
    store.label("unlabeled/b.txt", "cats")
    store.label("c.txt", "dogs")
    paths = [root / "cats" / "a.txt", root / "unlabeled" / "b.txt", root / "c.txt"]
    with pytest.raises(ValueError, match="already a class"):
        store.rename_class("cats", "dogs", paths)
    with pytest.raises(ValueError, match="no class"):
        store.rename_class("birds", "fish", paths)
    with pytest.raises(ValueError, match="slashes"):
        store.rename_class("cats", "felines/cats", paths)
    assert store.rename_class("cats", "felines", paths) == 2
    again = LabelStore(root)
    assert again.project.classes == ["felines", "dogs"]
    assert again.label_of("cats/a.txt") == "felines" and again.label_of("unlabeled/b.txt") == "felines"
    assert again.label_of("c.txt") == "dogs"
    assert again.get("cats/a.txt").sha256 == hashlib.sha256(b"a cat").hexdigest()
    assert _digests(root) == before and (root / "cats").is_dir()
    assert audit.read_log()[-1]["event"] == "rename_class"
