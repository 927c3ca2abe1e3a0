"""Splitting: stratified, seeded, tiny classes handled, copies never straddle our splits."""
import json
from collections import Counter

import pytest

from engine.data import allocate, load_splits, save_splits, scan
from engine.errors import DataError


def text_tree(root, sizes, dup_every=0):
    """Class folders of distinct texts; every `dup_every`-th file repeats the previous one's bytes."""
    for cls, n in sizes.items():
        d = root / cls
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            body = f"{cls} example {i - 1 if dup_every and i % dup_every == 0 and i else i}"
            (d / f"{i:03d}.txt").write_text(body)
    return root


@pytest.mark.parametrize("n", range(1, 30))
def test_allocate_minimums(n):
    tr, va, te = allocate(n, 0.15, 0.15)
    assert tr + va + te == n and tr >= 1
    if n >= 3:
        assert va >= 1
    assert abs(te - n * 0.15) <= 1 and abs(va - n * 0.15) <= 1


def test_allocate_extremes():
    assert allocate(10, 0.0, 0.0) == (10, 0, 0)
    assert allocate(3, 0.5, 0.45) == (1, 1, 1)
    assert allocate(2, 0.5, 0.5) == (1, 1, 0)
    assert allocate(1, 0.5, 0.5) == (1, 0, 0)
    assert allocate(0, 0.15, 0.15) == (0, 0, 0)


def test_stratified_and_deterministic(tmp_path):
    root = text_tree(tmp_path / "t", {"a": 100, "b": 40, "c": 3, "d": 2})
    ds1 = scan([root], seed=7)
    ds2 = scan([root], seed=7)
    ds3 = scan([root], seed=8)
    assert [(e.path, e.split) for e in ds1.items] == [(e.path, e.split) for e in ds2.items]
    assert [(e.path, e.split) for e in ds1.items] != [(e.path, e.split) for e in ds3.items]
    c = ds1.counts()
    assert c["a"] == {"train": 70, "val": 15, "test": 15}
    assert c["b"] == {"train": 28, "val": 6, "test": 6}
    assert c["c"]["train"] >= 1 and c["c"]["val"] >= 1
    assert c["d"]["train"] >= 1
    for name in ("train", "val", "test"):
        assert ds1.split(name) == [e for e in ds1.items if e.split == name]


def test_identical_content_never_straddles_our_splits(tmp_path):
    root = text_tree(tmp_path / "t", {"a": 60, "b": 60}, dup_every=3)
    ds = scan([root], seed=1)
    by_hash = {}
    for e in ds.items:
        by_hash.setdefault(e.sha256, set()).add(e.split)
    assert all(len(s) == 1 for s in by_hash.values())
    assert len(ds.report.duplicates["within_class"]) == 2 * 19  # each repeated file is reported
    assert len(ds.items) == len({e.sha256 for e in ds.items})


def test_fractions_configurable(tmp_path):
    root = text_tree(tmp_path / "t", {"a": 50, "b": 50})
    c = scan([root], val_fraction=0.2, test_fraction=0.0).counts()
    assert c["a"] == {"train": 40, "val": 10, "test": 0}


def test_save_and_load_round_trip(tmp_path):
    root = text_tree(tmp_path / "t", {"a": 12, "b": 9})
    table = tmp_path / "x.csv"
    table.write_text("text,label\nfrom a table,a\nanother row,b\nthird one,a\n")
    ds = scan([root, table], seed=3)
    run = tmp_path / "run"
    run.mkdir()
    save_splits(ds, run)
    (run / "data_report.json").write_text(json.dumps(ds.report.to_dict()))
    saved = json.loads((run / "splits.json").read_text())
    assert saved["classes"] == ["a", "b"] and saved["modality"] == "text"
    # [path, label, sha256, group]: no group found here, so each example is its own (null)
    assert all(len(row) == 4 and row[3] is None for name in ("train", "val", "test") for row in saved[name])
    back = load_splits(run)
    assert back.items == ds.items  # Example is a frozen dataclass: path, label, split, sha256, text, group
    assert back.classes == ds.classes and back.modality == ds.modality and back.roots == ds.roots
    assert back.report.to_dict()["classes"] == ds.report.to_dict()["classes"]
    assert Counter(e.split for e in back.items) == Counter(e.split for e in ds.items)
    assert any(e.text == "from a table" for e in back.items)


def test_load_splits_errors(tmp_path):
    with pytest.raises(DataError, match="has no splits.json"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text('{"classes": ["a"], "train": [["p", 5, "h"]]}')
    with pytest.raises(DataError, match="labels outside"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text("{not json")
    with pytest.raises(DataError, match="damaged"):
        load_splits(tmp_path)


def test_missing_val_and_test_splits_are_explained(tmp_path):
    root = text_tree(tmp_path / "t", {"a": 20, "b": 20})
    codes = {f.code for f in scan([root], val_fraction=0.0, test_fraction=0.2).report.findings}
    assert "no_val_split" in codes
    assert "no_val_split" not in {f.code for f in scan([root]).report.findings}
    ps = tmp_path / "ps"
    for split in ("train", "val"):
        text_tree(ps / split, {"a": 4, "b": 4})
        for f in (ps / split).rglob("*.txt"):
            f.write_text(f"{split} {f.parent.name} {f.name}")
    ds = scan([ps])
    assert ds.presplit and "no_test_split" in {f.code for f in ds.report.findings}
    assert not ds.split("test")


def test_bad_fractions_refused(tmp_path):
    from engine.config import ConfigError

    root = text_tree(tmp_path / "t", {"a": 5, "b": 5})
    with pytest.raises(ConfigError, match="fractions"):
        scan([root], val_fraction=0.6, test_fraction=0.5)
