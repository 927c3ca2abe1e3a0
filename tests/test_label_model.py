"""The Label mode's model (Qt-free): the queue, labels written at once, undo, exclude, order, crash safety."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from engine.labels.sidecar import CSV_NAME, EXCLUDED, LabelStore
from gui.label_model import RANDOM, USEFUL, LabelModel, data_files, is_labeling_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "appdata"))
    root = tmp_path / "scans"
    root.mkdir()
    for i in range(6):
        (root / f"img{i}.png").write_bytes(b"\x89PNG fake " + bytes([i]))
    (root / ".hidden.png").write_bytes(b"x")
    (root / "notes.doc").write_bytes(b"x")
    return root


def digests(root: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
            and p.name not in (CSV_NAME, "transfer-studio-labels.json")}


def test_files_queue_and_which_folders_open_for_labeling(folder, tmp_path):
    assert [Path(f).name for f in data_files(folder)] == [f"img{i}.png" for i in range(6)]
    assert is_labeling_folder(folder)
    labeled = tmp_path / "labeled"
    for c in ("a", "b"):
        (labeled / c).mkdir(parents=True)
        (labeled / c / "x.png").write_bytes(b"x")
    assert not is_labeling_folder(labeled)
    (labeled / "unlabeled").mkdir()
    (labeled / "unlabeled" / "y.png").write_bytes(b"y")
    assert is_labeling_folder(labeled)  # partly labeled
    m = LabelModel()
    m.open(str(labeled))
    assert m.proposed_classes() == ["a", "b"] and [Path(p).name for p in m.queue] == ["y.png"]


def test_label_undo_exclude_and_originals_untouched(folder):
    before = digests(folder)
    m = LabelModel()
    seen = []
    m.events.labels.connect(lambda: seen.append("labels"))
    m.open(str(folder))
    assert not m.ready and m.current_path() is not None
    with pytest.raises(ValueError):
        m.set_classes(["only"])
    m.set_classes(["normal", "abnormal"])
    first = m.current_path()
    assert m.label_key(1) and m.label_of(first) == "normal"
    second = m.current_path()
    assert second != first
    assert m.label_key(2) and m.label_of(second) == "abnormal"
    assert not m.label_key(3)  # no third class: nothing happens
    third = m.current_path()
    m.exclude_current("blurred")
    assert m.label_of(third) == EXCLUDED and m.reason_of(third) == "blurred"
    assert m.counts() == {"normal": 1, "abnormal": 1, EXCLUDED: 1, "unlabeled": 3}
    assert m.progress() == (3, 6)
    assert m.undo() and m.label_of(third) is None and m.current_path() == third
    assert m.undo() and m.label_of(second) is None and m.current_path() == second
    m.skip()
    assert m.current_path() != second
    m.move(-1)
    assert m.current_path() == second
    assert LabelStore(folder).label_of(first) == "normal"  # each label is on disk at once
    while any(m.label_of(p) is None for p in m.queue):
        m.label_key(1)
    assert "every file in the queue has a label" in m.position_text() and m.progress() == (6, 6)
    assert digests(folder) == before and "labels" in seen


def test_order_useful_follows_the_engine_queue_and_random_is_seeded(folder):
    a, b = LabelModel(seed=3), LabelModel(seed=3)
    a.open(str(folder))
    b.open(str(folder))
    assert a.queue == b.queue and a.order == RANDOM
    a.set_classes(["x", "y"])
    a.set_order(USEFUL)
    assert "needs a trained model" in a.order_note()
    files = sorted(a.files)
    items = [{"path": f, "label": "x", "confidence": 0.5 + i / 20} for i, f in enumerate(reversed(files))]
    a.set_suggestions("/runs/r1", items)
    assert a.queue == list(reversed(files)) and a.current_path() == files[-1]
    assert a.suggestion().label == "x" and a.suggestion().confidence == pytest.approx(0.5)
    a.set_order(RANDOM)
    assert sorted(a.queue) == files


def test_a_crash_mid_labeling_loses_no_saved_label(folder, tmp_path):
    """A separate process labels three files and is killed (SIGKILL) while labeling more: the three
    are read back by a new model, as the next app start would."""
    script = tmp_path / "label_then_die.py"
    script.write_text(
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from gui.label_model import LabelModel\n"
        "m = LabelModel()\n"
        f"m.open({str(folder)!r})\n"
        "m.set_classes(['normal', 'abnormal'])\n"
        "done = []\n"
        "for k in (1, 2, 1):\n"
        "    done.append(m.current_path())\n"
        "    m.label_key(k)\n"
        "print('\\n'.join(done), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9, out.stderr
    labeled = out.stdout.split()
    m = LabelModel()
    m.open(str(folder))
    assert m.classes == ["normal", "abnormal"]
    assert [m.label_of(p) for p in labeled] == ["normal", "abnormal", "normal"]
    assert m.progress() == (3, 6) and not set(labeled) & set(m.queue)


def test_the_data_page_line_and_the_curve_sentence():
    from gui.data_model import DataModel
    from gui.label_chart import curve_note

    d = DataModel()
    d.set_report({"classes": [], "labels": {"from_sidecar": 40, "overridden": 2, "excluded": 1, "unlabeled": 0,
                                            "conflicts": []}})
    assert d.labels_text() == ("Labels file: 40 labeled in the app, 2 overriding a folder's label, 1 excluded. "
                               "The files themselves are unchanged.")
    d.set_report({"classes": []})
    assert d.labels_text() == ""
    assert "Train on your labels" in curve_note([])
    assert "more labels still help" in curve_note([(20, 0.6), (40, 0.8)])
    assert "changed little" in curve_note([(20, 0.8), (40, 0.802)])


def test_classes_can_be_added_and_reordered_not_removed_once_used(folder):
    m = LabelModel()
    m.open(str(folder))
    m.set_classes(["normal", "abnormal"])
    m.label_key(2)
    m.set_classes(["abnormal", "normal", "unclear"])  # key 1 is now abnormal
    assert m.classes == ["abnormal", "normal", "unclear"] and m.counts()["abnormal"] == 1
    m.set_classes(["abnormal", "unclear"])  # 'normal' has no label yet: it may go
    with pytest.raises(ValueError, match="1 file is labeled abnormal"):
        m.set_classes(["unclear", "other"])  # abnormal dropped, not renamed: its place holds a class it had
    assert LabelStore(folder).project.classes == ["abnormal", "unclear"]


def test_a_used_class_renamed_in_its_place_relabels_its_files_and_undo_follows(folder):
    m = LabelModel()
    m.open(str(folder))
    m.set_classes(["normal", "abnormal"])
    first = m.current_path()
    m.label_key(2)
    m.label_key(2)
    m.label_key(1)
    assert m.renames(["normal", " anomaly ", "unclear"]) == [("abnormal", "anomaly", 2)]
    m.set_classes(["normal", " anomaly ", "unclear"])
    assert m.classes == ["normal", "anomaly", "unclear"]
    assert m.counts()["anomaly"] == 2 and "abnormal" not in m.counts()
    again = LabelStore(folder)  # what training reads
    assert again.project.classes == ["normal", "anomaly", "unclear"]
    assert again.label_of(first) == "anomaly" and again.get(first).reason == "class renamed from abnormal"
    assert m.undo() and m.undo()  # the second label undone: the file is unlabeled again, not 'abnormal'
    assert m.counts()["anomaly"] == 1 and m.counts()["unlabeled"] == 5
    assert LabelStore(folder).label_of(first) == "anomaly"


def test_extensionless_dicom_files_are_listed_for_labeling_and_dicomdir_is_not(tmp_path):
    """PACS exports often name files by UID with no extension: the Label mode lists them by content, as the
    engine's scan does; the DICOMDIR index (it has the marker too) is not an image."""
    root = tmp_path / "export"
    root.mkdir()
    dicom_bytes = b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00"
    (root / "1.2.840.113619.2.55.3").write_bytes(dicom_bytes)
    (root / "IM000001").write_bytes(dicom_bytes)
    (root / "DICOMDIR").write_bytes(dicom_bytes)
    (root / "README").write_bytes(b"not an image, no extension")
    (root / "scan.dcm").write_bytes(dicom_bytes)
    assert [Path(f).name for f in data_files(root)] == ["1.2.840.113619.2.55.3", "IM000001", "scan.dcm"]
