"""Train/val/test assignment and its record in the run directory.

Groups, not files, are dealt out: one patient (groups.py), or the copies of one file,
always land in one split, so our split never creates a leak. Per class (a group counts
for the class most of its examples have) and seeded, so the split is stratified at the
group level and the same seed gives the same split. Small classes get special care that
a fractional rule would miss: every class keeps at least one training group, and a class
with 3 or more groups gets at least one validation group. (scikit-learn's
StratifiedGroupKFold / GroupShuffleSplit refuse classes of one group and cannot
guarantee these minimums, hence this short allocation.) A class whose examples all sit
in groups of another class that went to val/test gets one of those groups moved back to
training. A pre-split tree keeps its split; if it has no validation split at all, one is
carved from its training data the same way.
"""
from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from pathlib import Path

from ..atomic import read_json, write_json
from ..errors import DataError
from .dedupe import Item
from .groups import salted
from .types import SPLITS, Dataset, Example, HealthReport

SPLITS_FORMAT = "transfer-studio-splits"


def allocate(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) counts for a class of `n` groups."""
    if n <= 0:
        return 0, 0, 0
    n_test = math.floor(n * test_fraction + 0.5)
    n_val = math.floor(n * val_fraction + 0.5)
    if val_fraction > 0 and n >= 3:
        n_val = max(n_val, 1)
    while n - n_val - n_test < 1:  # training comes first: shrink the larger held-out part
        if n_test >= n_val:
            n_test -= 1
        else:
            n_val -= 1
    return n - n_val - n_test, n_val, n_test


def _deal(groups: list[list[Item]], rng: random.Random, val_fraction: float, test_fraction: float):
    """Shuffle a class's groups and deal them out: (train, val, test) lists of groups."""
    groups = sorted(groups, key=lambda g: min(i.path for i in g))
    rng.shuffle(groups)
    _, n_val, n_test = allocate(len(groups), val_fraction, test_fraction)
    return groups[n_test + n_val:], groups[n_test:n_test + n_val], groups[:n_test]


def group_id(it: Item) -> tuple:
    """The unit a split deals: the item's group, or (with none) its class and content."""
    return ("group", it.group) if it.group else ("file", it.class_name, it.sha256)


def majority_class(group: list[Item]) -> str:
    """The class most of a group's examples have (ties: the first name in sort order)."""
    counts = Counter(i.class_name for i in group)
    return min(counts, key=lambda c: (-counts[c], c))


def assign_splits(items: list[Item], classes: list[str], val_fraction: float, test_fraction: float,
                  seed: int, salt: str | None = None) -> list[Example]:
    """Examples for `items` (labels index `classes`), ordered by split, label, path.

    Each Example.group is the salted hash of its item's group key (None without a key)."""
    label = {c: i for i, c in enumerate(classes)}
    by_group: dict[tuple, list[Item]] = defaultdict(list)
    for it in items:
        by_group[group_id(it)].append(it)
    split_of: dict[str, str] = {}  # path -> split
    free: dict[str, list[list[Item]]] = defaultdict(list)  # class -> groups with no given split
    for group in by_group.values():
        given = [i.given_split for i in group if i.given_split]
        if not given:
            free[majority_class(group)].append(group)
            continue
        for i in group:  # a copy without a split follows the group's (first) given split
            split_of[i.path] = i.given_split or min(given, key=SPLITS.index)
    for cls in sorted(free):
        rng = random.Random(f"{seed}:{cls}")
        for name, part in zip(SPLITS, _deal(free[cls], rng, val_fraction, test_fraction)):
            for g in part:
                for i in g:
                    split_of[i.path] = name
    _every_class_trains(free, split_of)
    if val_fraction > 0 and split_of and "val" not in split_of.values():
        _carve_val(items, split_of, val_fraction, seed)
    examples = [Example(i.path, label[i.class_name], split_of[i.path], i.sha256, i.text,
                        salted(i.group, salt) if i.group and salt else None) for i in items]
    examples.sort(key=lambda e: (SPLITS.index(e.split), e.label, e.path))
    return examples


def _every_class_trains(free: dict[str, list[list[Item]]], split_of: dict[str, str]) -> None:
    """A class seen only in groups of other classes that went to val/test: its largest such
    group moves to training (a class with no training example cannot be learned)."""
    groups = [g for gs in free.values() for g in gs]
    trained = {i.class_name for g in groups for i in g if split_of[i.path] == "train"}
    for cls in sorted({i.class_name for g in groups for i in g} - trained):
        held = [g for g in groups if any(i.class_name == cls for i in g)]
        best = min(held, key=lambda g: (-sum(i.class_name == cls for i in g), min(i.path for i in g)))
        for i in best:
            split_of[i.path] = "train"


def _carve_val(items: list[Item], split_of: dict[str, str], val_fraction: float, seed: int) -> None:
    """A pre-split tree without validation data: move a stratified share of train groups to val."""
    by_group: dict[tuple, list[Item]] = defaultdict(list)
    for i in items:
        if split_of[i.path] == "train":
            by_group[group_id(i)].append(i)
    groups: dict[str, list[list[Item]]] = defaultdict(list)
    for g in by_group.values():
        groups[majority_class(g)].append(g)
    for cls in sorted(groups):
        rng = random.Random(f"{seed}:{cls}:val")
        _, val, _ = _deal(list(groups[cls]), rng, val_fraction, 0.0)
        for g in val:
            for i in g:
                split_of[i.path] = "val"


def save_splits(ds: Dataset, run_dir: str | Path) -> Path:
    """Write `run_dir/splits.json`: classes, modality, roots, [path, label, sha256, group] per split
    (group: the salted hash of the example's group key, or null), and the salt.

    Table rows also store their text under "texts" (path -> text), so a resumed run or an
    evaluation needs neither the table nor its column names again.
    """
    out: dict = {"format": SPLITS_FORMAT, "version": 1, "classes": list(ds.classes), "modality": ds.modality,
                 "roots": list(ds.roots), "presplit": bool(ds.presplit), "group_salt": ds.group_salt}
    for name in SPLITS:
        out[name] = [[e.path, e.label, e.sha256, e.group] for e in ds.items if e.split == name]
    out["texts"] = {e.path: e.text for e in ds.items if e.text is not None}
    path = Path(run_dir) / "splits.json"
    write_json(path, out)
    return path


def load_splits(run_dir: str | Path) -> Dataset:
    """Rebuild the Dataset saved by `save_splits` (no rescan; report from data_report.json)."""
    run_dir = Path(run_dir)
    path = run_dir / "splits.json"
    try:
        d = read_json(path)
        classes = [str(c) for c in d["classes"]]
        texts = d.get("texts") or {}
        items = [Example(str(row[0]), int(row[1]), name, str(row[2]), texts.get(row[0]),
                         row[3] if len(row) > 3 else None)
                 for name in SPLITS for row in d.get(name) or []]
    except FileNotFoundError:
        raise DataError(f"The run folder {run_dir} has no splits.json; it was not created by a training "
                        "run, so start a new run on the data instead.") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"The split record {path} is damaged ({exc}); start a new run on the data "
                        "instead.") from None
    if any(not 0 <= e.label < len(classes) for e in items):
        raise DataError(f"The split record {path} names labels outside its class list; start a new run "
                        "on the data instead.")
    report_path = run_dir / "data_report.json"
    report = None
    if report_path.is_file():
        try:
            report = HealthReport.from_dict(read_json(report_path))
        except (ValueError, TypeError):
            report = None
    if report is None:
        report = HealthReport(roots=list(d.get("roots") or []), modality=d.get("modality"))
    return Dataset(modality=str(d.get("modality")), classes=classes, items=items, report=report,
                   presplit=bool(d.get("presplit", False)), roots=list(d.get("roots") or []),
                   group_salt=d.get("group_salt"))
