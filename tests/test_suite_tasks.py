"""The accuracy suite's data side (benchmarks/suite_tasks.py): the sampling contract on every task
whose data package is installed here (the others skip, saying which package), on a small
made-up task that always runs, and the fixed tuning / confirmation split."""
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import suite_tasks as st


def _keys(items):
    return [e.key for e in items]


def _check_contract(items, per_class, test_per_class, seed, salt="", test_per_group=0):
    train, test = st.split(items, per_class, test_per_class, seed, salt=salt, test_per_group=test_per_group)
    classes = {e.label for e in items}
    assert not set(_keys(train)) & set(_keys(test)), "train and test share an example"
    assert not {e.group for e in train} & {e.group for e in test}, "a group straddles train and test"
    for c in classes:  # balanced test, N per class for training
        assert sum(e.label == c for e in test) == test_per_class
        assert sum(e.label == c for e in train) == per_class
    assert all(e.part != "train" for e in test) and all(e.part != "test" for e in train)
    if test_per_group:
        assert max(Counter(e.group for e in test).values()) <= test_per_group
    again = st.split(items, per_class, test_per_class, seed, salt=salt, test_per_group=test_per_group)
    assert (_keys(again[0]), _keys(again[1])) == (_keys(train), _keys(test)), "same seed, different sample"
    return train, test


def _fake(n_classes=3, groups=40, per_group=3):
    return [st.Example(f"c{c}", f"c{c}-g{g}", f"c{c}-g{g}-{i}", f"text {c} {g} {i}")
            for c in range(n_classes) for g in range(groups) for i in range(per_group)]


def test_split_contract_on_made_up_data():
    items = _fake()
    train, test = _check_contract(items, 20, 10, seed=0)
    other = st.split(items, 20, 10, seed=1)
    assert _keys(other[1]) != _keys(test), "another seed should draw another test set"
    # the test set does not depend on N, and a smaller sample is the start of a larger one
    big_train, big_test = st.split(items, 40, 10, seed=0)
    assert _keys(big_test) == _keys(test)
    for c in ("c0", "c1", "c2"):
        assert [e.key for e in train if e.label == c] == [e.key for e in big_train if e.label == c][:20]
    with pytest.raises(ValueError, match="c0"):
        st.split(items, 200, 10, seed=0)
    # at most 2 test examples per group: the 10 test examples come from 5 groups, all kept out of training
    train, test = _check_contract(items, 20, 10, seed=0, test_per_group=2)
    assert len({e.group for e in test if e.label == "c0"}) == 5


def test_split_keeps_a_shipped_split_and_imbalanced_counts():
    items = [e._replace(part="test" if int(e.group.split("-g")[1]) < 10 else "train") for e in _fake()]
    train, test = _check_contract(items, 15, 8, seed=3)
    assert all(e.part == "test" for e in test) and all(e.part == "train" for e in train)
    train, test = st.split(_fake(), 0, 10, seed=0, counts={"c0": 50, "c1": 5})
    assert sorted({e.label for e in train} | {e.label for e in test}) == ["c0", "c1"]
    assert [sum(e.label == c for e in train) for c in ("c0", "c1")] == [50, 5]
    assert [sum(e.label == c for e in test) for c in ("c0", "c1")] == [10, 10]


def test_halves_are_fixed_and_cover_every_task():
    assert set(st.HALVES) == set(st.TASKS)
    assert st.assign_halves(st.TASKS) == st.HALVES, "HALVES no longer follows the written rule"
    assert set(st.HALVES.values()) == {"tuning", "confirmation"}
    for name in st.ALREADY_TUNED_ON:
        assert st.HALVES[name] == "tuning"
    for modality in ("image", "text"):
        names = [n for n, t in st.TASKS.items() if t.modality == modality]
        halves = [st.HALVES[n] for n in names]
        assert abs(halves.count("tuning") - halves.count("confirmation")) <= 1
    image = sum(t.modality == "image" for t in st.TASKS.values())
    assert len(st.TASKS) >= 10 and image >= 5 and len(st.TASKS) - image >= 4
    assert (Path(st.__file__).parent / "SUITE.md").read_text().count("tuning") >= 1


def test_imbalanced_rows_are_about_one_to_ten():
    assert st.IMBALANCED
    for row in st.IMBALANCED:
        assert row["task"] in st.TASKS
        counts = sorted(row["counts"].values())
        assert counts[-1] / counts[0] == 10


@pytest.mark.parametrize("name", sorted(st.TASKS))
def test_task_sampling_contract(name, tmp_path):
    task = st.TASKS[name]
    try:
        items = st.examples(name)
    except st.Missing as e:
        pytest.skip(f"{name}: {e}")
    classes = sorted({e.label for e in items})
    assert len(classes) >= 2 and len({e.key for e in items}) == len(items)
    cap = st.capacity(items, task.test_per_class, salt=name, test_per_group=task.test_per_group)
    assert min(left for _, left in cap.values()) >= 10, f"{name} cannot give 10 per class: {cap}"
    for seed in (0, 1):
        _check_contract(items, 10, task.test_per_class, seed, salt=name, test_per_group=task.test_per_group)
    # the folders a benchmark trains on: root/<part>/<class>/<file>, the same bytes for the same seed
    a = st.materialise(name, tmp_path / "a", 2, seed=5, test_per_class=2)
    b = st.materialise(name, tmp_path / "b", 2, seed=5, test_per_class=2)
    for part_a, part_b in zip(a, b):
        assert sorted(p.name for p in part_a.iterdir()) == classes
        files_a = sorted(p.relative_to(part_a) for p in part_a.rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(part_b) for p in part_b.rglob("*") if p.is_file())
        assert files_a == files_b and len(files_a) == 2 * len(classes)
        assert all((part_a / f).read_bytes() == (part_b / f).read_bytes() for f in files_a)
        assert all((part_a / f).stat().st_size > 0 for f in files_a)
    if task.modality == "image":
        from PIL import Image

        for f in a[0].rglob("*.png"):
            with Image.open(f) as im:
                im.verify()


@pytest.mark.parametrize("row", st.IMBALANCED, ids=lambda r: r["name"])
def test_imbalanced_row_materialises(row, tmp_path):
    try:
        st.examples(row["task"])
    except st.Missing as e:
        pytest.skip(f"{row['task']}: {e}")
    train, test = st.materialise_imbalanced(row, tmp_path, seed=0, test_per_class=5)
    for cls, n in row["counts"].items():
        assert len(list((train / cls).iterdir())) == n
        assert len(list((test / cls).iterdir())) == 5
