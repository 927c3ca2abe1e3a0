"""Groups: one patient (or object) on one side of the split, recorded only as salted hashes."""
from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from engine.config import ConfigError
from engine.data import save_splits, scan
from engine.data.splits import load_splits
from tests.dicom_files import make_dicom_tree


def _png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(value).integers(0, 256, (16, 16, 3), dtype=np.uint8)  # every picture its own
    Image.fromarray(a).save(path)


def patient_tree(root, patients=8, per_patient=3, both_classes=(0,)):
    """patient_<n>_<i>.png files; patients in `both_classes` have images in both classes."""
    v = 0
    for p in range(patients):
        for i in range(per_patient):
            cls = "sick" if p % 2 else "well"
            if p in both_classes and i == 0:
                cls = "sick" if cls == "well" else "well"
            v += 1
            _png(root / cls / f"patient_{p}_{i}.png", v)
    return root


def splits_of_groups(ds):
    where = defaultdict(set)
    for e in ds.items:
        where[e.group].add(e.split)
    return where


@pytest.mark.parametrize("seed", range(6))
def test_a_pattern_keeps_each_patient_on_one_side_even_across_classes(tmp_path, seed):
    root = patient_tree(tmp_path / "d", patients=10)
    ds = scan(root, seed=seed, group_pattern=r"(?P<group>patient_\d+)_")
    where = splits_of_groups(ds)
    assert len(where) == 10 and all(len(s) == 1 for s in where.values())
    assert all(e.group for e in ds.items)
    g = ds.report.groups
    assert g["count"] == 10 and g["sources"] == {"pattern": 30} and g["spanning_classes"] == 1
    assert g["images_per_group"] == {"min": 3, "median": 3, "max": 3}
    assert {s for sp in where.values() for s in sp} == {"train", "val", "test"}


def test_without_groups_files_split_one_by_one_as_before(tmp_path):
    root = patient_tree(tmp_path / "d", patients=10)
    grouped = scan(root, group_pattern=r"(?P<group>patient_\d+)_")
    plain = scan(root, group_by="none")
    assert all(e.group is None for e in plain.items)
    assert plain.report.groups["count"] == 30 and plain.report.groups["sources"] == {"file": 30}
    assert any(len(s) > 1 for s in _patients_splits(plain).values())  # by file, patients do get divided
    assert all(len(s) == 1 for s in _patients_splits(grouped).values())


def _patients_splits(ds):
    out = defaultdict(set)
    for e in ds.items:
        out[e.path.rsplit("/", 1)[-1].rsplit("_", 1)[0]].add(e.split)
    return out


def test_a_groups_csv_comes_first_and_relative_paths_read_from_the_root(tmp_path):
    root = patient_tree(tmp_path / "d", patients=6, both_classes=())
    rows = ["path,group"] + [f"{p.relative_to(root).as_posix()},{'A' if int(p.stem.split('_')[1]) < 3 else 'B'}"
                             for p in sorted(root.rglob("*.png"))]
    csv = tmp_path / "groups.csv"
    csv.write_text("\n".join(rows) + "\n")
    ds = scan(root, groups_file=str(csv), group_pattern=r"(?P<group>patient_\d+)_")
    assert ds.report.groups["count"] == 2 and ds.report.groups["sources"] == {"csv": 18}


def test_dicom_patient_id_groups_automatically_and_only_hashes_are_written(tmp_path):
    root = make_dicom_tree(tmp_path / "d", patients=5)
    ds = scan(root)
    assert ds.report.groups["sources"] == {"patient": 30} and ds.report.groups["count"] == 10
    assert all(len(s) == 1 for s in splits_of_groups(ds).values())
    run = tmp_path / "run"
    run.mkdir()
    save_splits(ds, run)
    text = (run / "splits.json").read_text()
    assert "PIDQ" not in text and "PIDQ" not in json.dumps(ds.report.to_dict())
    saved = json.loads(text)
    assert saved["group_salt"] and all(len(row) == 4 and row[3].startswith("g") for row in saved["train"])
    again = load_splits(run)
    assert [e.group for e in again.items] == [e.group for e in ds.items]


def test_a_pre_split_tree_with_one_patient_in_train_and_test_is_a_leak(tmp_path):
    n = 0
    for split, p in (("train", 1), ("train", 2), ("test", 1), ("test", 3)):
        for cls in ("a", "b"):
            for i in range(2):
                n += 1
                _png(tmp_path / split / cls / f"patient_{p}_{cls}{i}.png", n)
    ds = scan(tmp_path, group_pattern=r"(?P<group>patient_\d+)_")
    assert ds.report.groups["leaks"] == 1
    leak = [f for f in ds.report.to_dict()["findings"] if f["code"] == "group_leak_across_splits"]
    assert leak and leak[0]["count"] == 8 and all("patient_1_" in p for p in leak[0]["paths"])


def test_a_class_found_only_in_other_classes_groups_still_trains(tmp_path):
    # 'rare' has 2 images, each inside a big group of another class
    root = patient_tree(tmp_path / "d", patients=8, both_classes=())
    _png(root / "rare" / "patient_0_9.png", 201)
    _png(root / "rare" / "patient_1_9.png", 202)
    for seed in range(5):
        ds = scan(root, seed=seed, group_pattern=r"(?P<group>patient_\d+)_")
        rare = {c["name"]: c for c in ds.report.classes}["rare"]
        assert rare["splits"]["train"] >= 1
        assert all(len(s) == 1 for s in splits_of_groups(ds).values())


def test_bad_group_settings_fail_in_one_sentence(tmp_path):
    root = patient_tree(tmp_path / "d", patients=4)
    with pytest.raises(ConfigError, match="named part"):
        scan(root, group_pattern=r"patient_\d+")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        scan(root, group_pattern=r"(?P<group>patient_\d+")
    with pytest.raises(ConfigError, match="groups file"):
        scan(root, group_by="csv")
