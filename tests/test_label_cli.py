"""`transfer-studio label suggest / apply`: a queue CSV a person fills in, written into the sidecar;
every row that cannot be applied is listed, the data files are never touched."""
from __future__ import annotations

import csv
import hashlib

import pytest

from engine.cli import main
from engine.labels.sidecar import EXCLUDED, LabelStore
from tests.test_bundle_support import image_run  # noqa: F401 - fixture
from tests.test_labels_queue import _to_label


@pytest.fixture(autouse=True)
def _appdata(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "appdata"))


def _digests(root):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.iterdir()
            if not p.name.startswith("transfer-studio-labels")}


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_suggest_then_apply_round_trip(tmp_path, image_run, capsys):
    root, labeled = _to_label(tmp_path)
    before = _digests(root)
    out = tmp_path / "queue.csv"
    assert main(["label", "suggest", "--model", str(image_run), str(root), "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert list(rows[0]) == ["rank", "path", "guess", "confidence", "score", "label", "reason", "root"]
    assert [int(r["rank"]) for r in rows] == list(range(1, 10)) and all(r["label"] == "" for r in rows)
    assert all("/" not in r["path"] and r["root"] == str(root) for r in rows)
    err = capsys.readouterr().err
    assert "2 could not be ranked" in err and "broken.png" in err and "3 already labeled left out" in err

    rows[0]["label"] = rows[0]["guess"]
    rows[1]["label"] = "excluded"  # no reason: refused
    rows[2]["label"], rows[2]["reason"] = "Excluded", "two objects"
    rows.append({**rows[3], "path": "missing.png", "label": "red"})
    rows.append({**rows[3], "path": str(tmp_path / "src" / "red" / "img_0.png"), "label": "red"})
    _write(out, rows)
    assert main(["label", "apply", str(out)]) == 1
    text = capsys.readouterr()
    assert "1 labeled, 1 excluded, 0 already so, 6 row(s) without a label left alone, 3 not applied" in text.out
    assert "excluded without a reason" in text.err and "no such file in the data folder" in text.err
    assert "outside the data folder" in text.err
    store = LabelStore(root)
    assert store.label_of(rows[0]["path"]) == rows[0]["guess"] and store.label_of(rows[1]["path"]) is None
    assert store.get(rows[2]["path"]).label == EXCLUDED and store.get(rows[2]["path"]).reason == "two objects"
    assert main(["label", "apply", str(out)]) == 1
    assert "0 labeled, 0 excluded, 2 already so" in capsys.readouterr().out
    assert _digests(root) == before  # originals untouched, nothing moved


def test_apply_checks_classes_columns_and_the_root(tmp_path, capsys):
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_text("a cat")
    LabelStore(root).set_classes(["cats", "dogs"])
    good = tmp_path / "labels.csv"
    _write(good, [{"path": "a.txt", "label": "cat"}])
    assert main(["label", "apply", str(good)]) == 2
    assert "add --root DIR" in capsys.readouterr().err
    assert main(["label", "apply", str(good), "--root", str(root)]) == 1
    assert "'cat' is not one of this project's classes (cats, dogs)" in capsys.readouterr().err
    _write(good, [{"path": "a.txt", "label": "cats"}])
    assert main(["label", "apply", str(good), "--root", str(root)]) == 0
    assert LabelStore(root).label_of("a.txt") == "cats"
    bad = tmp_path / "bad.csv"
    _write(bad, [{"file": "a.txt", "class": "cats"}])
    assert main(["label", "apply", str(bad), "--root", str(root)]) == 2
    assert "has no path or label column" in capsys.readouterr().err


def test_rename_a_class_from_the_command_line(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.txt").write_text("a cat")
    (root / "b.txt").write_text("a dog")
    store = LabelStore(root)
    store.set_classes(["cats", "dgos"])
    store.label("b.txt", "dgos")
    before = {p.name: p.read_bytes() for p in root.rglob("*.txt")}
    assert main(["label", "rename", str(root), "dgos", "cats"]) == 2
    assert "already a class 'cats'. The classes of" in capsys.readouterr().err
    assert main(["label", "rename", str(root), "dgos", "dogs"]) == 0
    assert "dgos is now dogs (1 file relabeled). Classes: cats, dogs." in capsys.readouterr().out
    assert main(["label", "rename", str(root), "cats", "felines"]) == 0  # labeled by its folder: gets a row
    again = LabelStore(root)
    assert again.label_of("b.txt") == "dogs" and again.label_of("cats/a.txt") == "felines"
    assert {p.name: p.read_bytes() for p in root.rglob("*.txt")} == before


def test_rename_works_on_a_tree_labeled_by_its_folders_alone(tmp_path, capsys):
    root = tmp_path / "photos"
    for c in ("Bag", "Sneaker"):
        (root / c).mkdir(parents=True)
        (root / c / "a.txt").write_text(c)
    assert main(["label", "rename", str(root), "Bag", "Bags"]) == 0
    assert "Bag is now Bags (1 file relabeled). Classes: Bags, Sneaker." in capsys.readouterr().out
    again = LabelStore(root)
    assert again.label_of("Bag/a.txt") == "Bags" and again.label_of("Sneaker/a.txt") == "Sneaker"
