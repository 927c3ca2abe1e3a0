"""scan() on image trees with the mess real folders have: broken files, clutter, copies."""
import io
import threading

import numpy as np
import pytest
from PIL import Image

from engine import protocol
from engine.data import images as images_mod
from engine.data import scan
from engine.errors import Cancelled, DataError


def img(path, seed, size=(20, 16), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, fmt)
    return path


def good_class(root, name, n, start):
    for i in range(n):
        img(root / name / f"{i}.png", start + i)


def finding(report, code):
    hits = [f for f in report["findings"] if f["code"] == code]
    assert hits, f"no finding {code}: {[f['code'] for f in report['findings']]}"
    return hits[0]


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "data"
    good_class(root, "cat", 6, 0)
    good_class(root, "dog", 6, 100)
    # modes people have
    img(root / "bird" / "gray.png", 200, mode="L")
    img(root / "bird" / "pal.png", 201, mode="P")
    img(root / "bird" / "rgba.png", 202, mode="RGBA")
    img(root / "bird" / "cmyk.jpg", 203, mode="CMYK", fmt="JPEG")
    a16 = (np.arange(20 * 16, dtype=np.uint32).reshape(16, 20) * 200).astype(np.uint16)
    Image.fromarray(a16).save(root / "bird" / "deep.png")
    # broken files
    (root / "cat" / "zero.png").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(9).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    (root / "cat" / "cut.jpg").write_bytes(buf.getvalue()[:600])
    (root / "dog" / "fake.png").write_text("this is not a png")
    img(root / "dog" / "huge.png", 300, size=(60, 60))
    # clutter
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "cat" / "Thumbs.db").write_bytes(b"x")
    (root / ".ipynb_checkpoints").mkdir()
    img(root / ".ipynb_checkpoints" / "cat" / "0-checkpoint.png", 0)
    (root / "__MACOSX" / "cat").mkdir(parents=True)
    (root / "__MACOSX" / "cat" / "._0.png").write_bytes(b"junk")
    (root / "README.md").write_text("my data")
    (root / "dog" / "notes.pdf").write_bytes(b"%PDF-1.4")
    # duplicates: within class, across classes
    (root / "cat" / "copy_of_0.png").write_bytes((root / "cat" / "0.png").read_bytes())
    (root / "dog" / "stolen_cat_1.png").write_bytes((root / "cat" / "1.png").read_bytes())
    return root


def test_messy_tree_report(messy, monkeypatch):
    monkeypatch.setattr(images_mod, "MAX_IMAGE_PIXELS", 40 * 40)
    ds = scan([str(messy)])
    rep = ds.report.to_dict()
    assert ds.modality == "image" and ds.classes == ["bird", "cat", "dog"]
    counts = {c["name"]: c["count"] for c in rep["classes"]}
    # cat: 6 good + copy (dropped) - 1 conflict; dog: 6 good - conflict copy; bird: 5 modes
    assert counts == {"bird": 5, "cat": 5, "dog": 6}
    assert sum(counts.values()) == len(ds.items)
    for c in rep["classes"]:
        assert sum(c["splits"].values()) == c["count"]
    skipped = {s["path"].split("/data/")[1]: s["reason"] for s in rep["skipped"]}
    assert set(skipped) == {"cat/zero.png", "cat/cut.jpg", "dog/fake.png", "dog/huge.png"}
    assert "0 bytes" in skipped["cat/zero.png"]
    assert "truncated" in skipped["cat/cut.jpg"]
    assert "not an image" in skipped["dog/fake.png"]
    assert "decompression-bomb" in skipped["dog/huge.png"]
    ignored = {i["path"].split("/data/")[1]: i["reason"] for i in rep["ignored"]}
    for hidden in (".DS_Store", "cat/Thumbs.db", ".ipynb_checkpoints", "__MACOSX"):
        assert ignored[hidden].startswith("hidden"), hidden
    assert not any("checkpoint.png" in p for p in ignored)  # hidden folders are not descended
    assert "class folder" in ignored["README.md"]
    assert "unsupported" in ignored["dog/notes.pdf"]
    within = rep["duplicates"]["within_class"]
    assert [sorted(p.split("/data/")[1] for p in g) for g in within] == [["cat/0.png", "cat/copy_of_0.png"]]
    across = rep["duplicates"]["across_classes"]
    assert [sorted(p.split("/data/")[1] for p in g) for g in across] == [["cat/1.png", "dog/stolen_cat_1.png"]]
    used = {e.path.split("/data/")[1] for e in ds.items}
    assert not used & {"cat/1.png", "dog/stolen_cat_1.png", "cat/zero.png", "dog/huge.png"}
    assert len(used & {"cat/0.png", "cat/copy_of_0.png"}) == 1
    assert rep["image"]["count"] == len(ds.items) == 16  # the images that will be used
    assert rep["image"]["modes"]["CMYK"] == 1 and rep["image"]["modes"]["I;16"] == 1
    assert rep["image"]["width"]["median"] == 20
    for code in ("zero_byte", "truncated", "not_image", "too_large", "hidden_files", "stray_files",
                 "unsupported_files", "duplicates_within_class", "duplicates_across_classes"):
        f = finding(rep, code)
        assert f["message"] and f["advice"] and f["severity"] in ("info", "warning")
    assert rep["fatal"] is None


def test_progress_reported_and_cancel_honoured(messy):
    seen = []
    scan([messy], reporter=seen.append)
    prog = [m for m in seen if isinstance(m, protocol.Progress)]
    assert prog and all(m.phase == "scan" for m in prog)
    assert prog[-1].step == prog[-1].steps == 23  # every candidate file (9 cat, 9 dog, 5 bird) was checked
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        scan([messy], cancel=stop)


def test_presplit_tree_keeps_split_and_reports_leak(tmp_path):
    root = tmp_path / "ps"
    for split, n, base in (("train", 8, 0), ("valid", 3, 500), ("test", 3, 900)):
        for cls, off in (("a", 0), ("b", 50)):
            for i in range(n):
                img(root / split / cls / f"{i}.png", base + off + i)
    leak = root / "test" / "a" / "leak.png"
    leak.write_bytes((root / "train" / "a" / "0.png").read_bytes())
    ds = scan([root])
    assert ds.presplit and ds.report.presplit
    for e in ds.items:
        folder = e.path.split("/ps/")[1].split("/")[0]
        assert {"train": "train", "valid": "val", "test": "test"}[folder] == e.split
    groups = ds.report.to_dict()["duplicates"]["across_splits"]
    assert len(groups) == 1 and sorted(p.rsplit("/ps/")[1] for p in groups[0]) == ["test/a/leak.png", "train/a/0.png"]
    assert finding(ds.report.to_dict(), "duplicates_across_splits")["severity"] == "warning"
    assert len(ds.split("test")) == 7  # the leak is reported, not fixed


def test_presplit_without_val_carves_it_from_train(tmp_path):
    root = tmp_path / "ps"
    for split, n in (("train", 10), ("test", 2)):
        for cls, off in (("a", 0), ("b", 100)):
            for i in range(n):
                img(root / split / cls / f"{i}.png", off + i + (50 if split == "test" else 0))
    ds = scan([root], val_fraction=0.2)
    c = ds.counts()
    assert c["a"] == {"train": 8, "val": 2, "test": 2} and c["b"] == c["a"]
    assert all("/test/" in e.path for e in ds.split("test"))


def test_multiple_roots_merge_by_class_name(tmp_path):
    good_class(tmp_path / "r1", "cat", 3, 0)
    good_class(tmp_path / "r1", "dog", 3, 10)
    good_class(tmp_path / "r2", "cat", 2, 20)
    good_class(tmp_path / "r2", "fox", 3, 30)
    ds = scan([tmp_path / "r1", tmp_path / "r2"])
    assert ds.classes == ["cat", "dog", "fox"]
    assert {c: sum(v.values()) for c, v in ds.counts().items()} == {"cat": 5, "dog": 3, "fox": 3}
    assert len(ds.report.roots) == 2


@pytest.mark.parametrize("case, pattern", [
    ("missing", r"does not exist"),
    ("flat", r"has no class folders"),
    ("one_class", r"only one class \(cat\)"),
    ("tiny_class", r"'dog' \(1 usable, in .*dog\).*fewer than 2 usable examples"),
    ("unreadable", r"None of the 4 files .* could be read"),
    ("empty_classes", r"hold no image or text files"),
    ("mixed", r"mixes images \(4\) and texts \(4\)"),
    ("mixed_splits", r"mixes split folders"),
])
def test_fatal_problems_give_one_sentence(tmp_path, case, pattern):
    root = tmp_path / "d"
    if case == "flat":
        for i in range(3):
            img(root / f"{i}.png", i)
    elif case == "one_class":
        good_class(root, "cat", 3, 0)
    elif case == "tiny_class":
        good_class(root, "cat", 3, 0)
        good_class(root, "dog", 1, 10)
        (root / "dog" / "bad.png").write_bytes(b"")
    elif case == "unreadable":
        for cls in ("a", "b"):
            for i in range(2):
                (root / cls / f"{i}.png").parent.mkdir(parents=True, exist_ok=True)
                (root / cls / f"{i}.png").write_bytes(b"garbage" + bytes([i]) + cls.encode())
    elif case == "empty_classes":
        (root / "a").mkdir(parents=True)
        (root / "b").mkdir()
    elif case == "mixed":
        good_class(root, "a", 4, 0)
        (root / "b").mkdir()
        for i in range(4):
            (root / "b" / f"{i}.txt").write_text(f"text {i}")
    elif case == "mixed_splits":
        good_class(root / "train", "a", 2, 0)
        good_class(root / "val", "a", 2, 10)
        good_class(root, "b", 2, 20)
    with pytest.raises(DataError, match=pattern) as info:
        scan([root])
    msg = info.value.message
    assert str(tmp_path) in msg and msg.count(". ") == 0 and msg.endswith(".")
    assert info.value.report["fatal"] == msg
    assert info.value.kind == "data"


def test_a_few_text_files_in_an_image_tree_are_ignored_not_fatal(tmp_path):
    root = tmp_path / "d"
    good_class(root, "a", 10, 0)
    good_class(root, "b", 10, 50)
    (root / "a" / "notes.txt").write_text("where these came from")
    ds = scan([root])
    rep = ds.report.to_dict()
    assert ds.modality == "image" and len(ds.items) == 20
    assert any(i["path"].endswith("notes.txt") and "image dataset" in i["reason"] for i in rep["ignored"])
    assert finding(rep, "other_modality")


def test_symlink_loops_are_listed_and_never_followed(tmp_path):
    """The audit's symlink loops: a class folder that links back to the data folder made every file a
    'duplicate across classes' and the scan said none of the files could be read."""
    import os

    root = tmp_path / "data"
    good_class(root, "cat", 4, 0)
    good_class(root, "dog", 4, 100)
    good_class(tmp_path / "elsewhere", "birds", 4, 200)
    os.symlink(tmp_path / "elsewhere" / "birds", root / "bird")  # a linked class folder: followed
    os.symlink(".", root / "everything")  # a class folder that is the data folder itself
    os.symlink("..", root / "cat" / "up")  # inside a class folder: back to the data folder
    os.symlink(".", root / "dog" / "self")
    os.symlink("b.png", root / "cat" / "a.png")  # two files that point at each other
    os.symlink("a.png", root / "cat" / "b.png")

    ds = scan([root], val_fraction=0, test_fraction=0)

    rep = ds.report.to_dict()
    assert {c["name"]: c["count"] for c in rep["classes"]} == {"bird": 4, "cat": 4, "dog": 4}
    assert sorted(os.path.basename(i["path"]) for i in rep["ignored"] if i["code"] == "folder_links") == \
        ["everything", "self", "up"]
    loops = {os.path.basename(s["path"]): s["reason"] for s in rep["skipped"]}
    assert set(loops) == {"a.png", "b.png"} and all("symbolic links" in r for r in loops.values())
    assert finding(rep, "folder_links")["count"] == 3
    assert not [f for f in rep["findings"] if f["code"].startswith("duplicates")]
