"""The Label mode's state (Qt-free): one data root, its queue, the current file, counts, undo.

Every change goes through `engine.labels.sidecar.LabelStore`, which writes it to the
sidecar at once (atomically): the model keeps no label the disk does not hold, so a crash
mid-labeling loses nothing that was saved, and the originals are never opened for writing.
The queue is the files that had no label when it was built, in random order (seeded) or,
once a model exists, in the order the engine's labeling queue gave ("most useful first":
the files the current model is least sure of, with some diversity). Labeled files stay in
the queue, so Left goes back to them; labeling moves on to the next unlabeled file.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace
from pathlib import Path

from engine.file_kinds import is_hidden
from engine.file_kinds import TABLE_EXTS as DATA_FILE_EXTS
from engine.labels.sidecar import EXCLUDED, UNLABELED_FOLDERS, LabelRow, LabelStore, data_files

from .events import EventGroup

RANDOM, USEFUL = "random", "useful"
ORDER_TEXT = {RANDOM: "Random", USEFUL: "Most useful first"}
MAX_KEYS = 9  # classes 1-9 have a key; more classes are labeled with the buttons


def folder_classes(root: str | os.PathLike) -> list[str]:
    """Class names the folder already suggests: its sub-folders holding files, 'unlabeled' and the like left out."""
    root = Path(root)
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p.name))
    except OSError:
        return []
    return [p.name for p in subs if p.name.lower() not in UNLABELED_FOLDERS and any(p.iterdir())]


def is_labeling_folder(path: str | os.PathLike) -> bool:
    """A dropped folder to label rather than to train on: it holds an 'unlabeled' folder, or files
    but no class folder and no table (a CSV of texts and labels is data already; a single class
    folder is a mistake the Data page explains)."""
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        children = list(p.iterdir())
    except OSError:
        return False
    if any(c.is_dir() and c.name.lower() in UNLABELED_FOLDERS for c in children):
        return True
    if any(c.is_file() and c.suffix.lower() in DATA_FILE_EXTS for c in children):
        return False
    return not folder_classes(p) and bool(data_files(p))


@dataclass(frozen=True)
class Suggestion:
    label: str
    confidence: float  # the model's probability for `label`, 0..1


@dataclass(frozen=True)
class Change:
    """One undoable step: the file, what it held before, where the queue stood."""
    path: str
    previous: LabelRow | None
    index: int


class LabelModel:
    """Events: `opened()` a root was opened or its classes set, `current()` the file shown changed,
    `labels()` a label was written (counts and progress), `suggestions()` the model's guesses or the
    queue order changed, `problem(text)` something the person should read."""

    def __init__(self, seed: int = 0) -> None:
        self.events = EventGroup(opened=(), current=(), labels=(), suggestions=(), problem=("text",))
        self.seed = seed
        self.root: str | None = None
        self.store: LabelStore | None = None
        self.files: list[str] = []
        self.queue: list[str] = []
        self.index = 0
        self.order = RANDOM
        self.suggestions: dict[str, Suggestion] = {}
        self.useful_order: list[str] = []  # the engine's queue, most useful first
        self.model_run: str | None = None  # the run whose model made the suggestions
        self.undo_stack: list[Change] = []
        self._labels: dict[str, str | None] = {}  # file -> the label that counts (None: unlabeled)

    # ---------------------------------------------------------------- opening
    def open(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.store = LabelStore(self.root)
        self.files = data_files(self.root)
        self._labels = {f: self.store.label_of(f) for f in self.files}  # read once; kept in step with each change
        self.suggestions, self.useful_order, self.model_run = {}, [], None
        self.undo_stack = []
        self._build_queue()
        self.events.opened.emit()
        self.events.labels.emit()
        self.events.current.emit()

    @property
    def is_open(self) -> bool:
        return self.store is not None

    @property
    def classes(self) -> list[str]:
        return list(self.store.project.classes) if self.store else []

    def proposed_classes(self) -> list[str]:
        """What the class-naming box starts with: the classes given before, else the folder's sub-folders."""
        if not self.store:
            return []
        return self.classes or folder_classes(self.root)

    def renames(self, names: list[str]) -> list[tuple[str, str, int]]:
        """(old, new, files) for each class whose place in `names` holds a new name: the list edited in place
        ("cat, dog" -> "kitty, dog") renames, rather than drops, a class."""
        names = [n.strip() for n in names if n.strip()]
        counts = self.counts()
        return [(old, new, counts.get(old, 0)) for old, new in zip(self.classes, names)
                if old != new and old not in names and new not in self.classes]

    def set_classes(self, names: list[str]) -> None:
        """Name the classes (keys 1-9 follow this order), renaming those `renames` finds; raises ValueError
        with a sentence."""
        names = [n.strip() for n in names if n.strip()]
        if len(names) < 2:
            raise ValueError("Name at least two classes.")
        renames = self.renames(names)
        renamed = {old for old, _, _ in renames}
        counts = self.counts()
        dropped = [c for c in self.classes if c not in names and c not in renamed and counts.get(c)]
        if dropped:
            c = dropped[0]
            raise ValueError(f"{counts[c]} file{'s are' if counts[c] != 1 else ' is'} labeled {c}: keep the class "
                             "or rename it in its place (a class once used is not removed).")
        for old, new, _ in renames:
            self.store.rename_class(old, new, self.files)
            self._labels = {f: (new if label == old else label) for f, label in self._labels.items()}
            self.undo_stack = [Change(c.path, replace(c.previous, label=new), c.index)
                               if c.previous is not None and c.previous.label == old else c for c in self.undo_stack]
        self.store.set_classes(names)
        self.events.opened.emit()
        self.events.labels.emit()
        self.events.current.emit()

    # ---------------------------------------------------------------- reading
    @property
    def ready(self) -> bool:
        """Classes are named: labeling can begin."""
        return bool(self.store and len(self.classes) >= 2)

    def current_path(self) -> str | None:
        return self.queue[self.index] if 0 <= self.index < len(self.queue) else None

    def label_of(self, path: str | None) -> str | None:
        if not self.store or not path:
            return None
        return self._labels[path] if path in self._labels else self.store.label_of(path)

    def reason_of(self, path: str | None) -> str:
        row = self.store.get(path) if self.store and path else None
        return row.reason if row else ""

    def suggestion(self, path: str | None = None) -> Suggestion | None:
        return self.suggestions.get(path or self.current_path() or "")

    def counts(self) -> dict[str, int]:
        """Files per class (folder labels and the sidecar's), plus 'excluded' and 'unlabeled'."""
        out = {c: 0 for c in self.classes}
        out[EXCLUDED] = out["unlabeled"] = 0
        for label in self._labels.values():
            key = "unlabeled" if label is None else label
            out[key] = out.get(key, 0) + 1
        return out

    def progress(self) -> tuple[int, int]:
        """(files with a label or excluded, all files)."""
        c = self.counts()
        return len(self.files) - c["unlabeled"], len(self.files)

    def position_text(self) -> str:
        if not self.queue:
            return "Nothing left to label."
        left = sum(self._labels.get(p) is None for p in self.queue)
        done = " (every file in the queue has a label now: train on them)" if not left else ""
        return f"{self.index + 1} of {len(self.queue)} in the queue{done}"

    # ---------------------------------------------------------------- labeling
    def label_current(self, label: str) -> bool:
        path = self.current_path()
        if path is None or not self.ready:
            return False
        if label != EXCLUDED and label not in self.classes:
            raise ValueError(f"{label!r} is not one of the classes.")
        previous = self.store.label(path, label)
        self._labels[path] = self.store.label_of(path)
        self.undo_stack.append(Change(path, previous, self.index))
        self.events.labels.emit()
        self._advance()
        return True

    def label_key(self, key: int) -> bool:
        """Key 1-9: the class at that place in the class list."""
        if 1 <= key <= min(MAX_KEYS, len(self.classes)):
            return self.label_current(self.classes[key - 1])
        return False

    def exclude_current(self, reason: str) -> bool:
        path = self.current_path()
        if path is None or not self.ready:
            return False
        previous = self.store.exclude(path, reason)  # raises ValueError without a reason
        self._labels[path] = self.store.label_of(path)
        self.undo_stack.append(Change(path, previous, self.index))
        self.events.labels.emit()
        self._advance()
        return True

    def undo(self) -> bool:
        """Put back what the last label or exclusion replaced, and show that file again."""
        if not self.undo_stack:
            return False
        change = self.undo_stack.pop()
        self.store.restore(change.path, change.previous)
        self._labels[change.path] = self.store.label_of(change.path)
        if change.path in self.queue:
            self.index = self.queue.index(change.path)
        self.events.labels.emit()
        self.events.current.emit()
        return True

    def skip(self) -> None:
        self.move(+1)

    def move(self, delta: int) -> None:
        if self.queue:
            self.index = max(0, min(len(self.queue) - 1, self.index + delta))
            self.events.current.emit()

    def _advance(self) -> None:
        """On to the next file without a label (after the current one, then from the start)."""
        n = len(self.queue)
        for step in range(1, n + 1):
            i = (self.index + step) % n
            if self._labels.get(self.queue[i]) is None:
                self.index = i
                break
        else:
            self.index = min(self.index + 1, n - 1)
        self.events.current.emit()

    # ---------------------------------------------------------------- order and suggestions
    def set_order(self, order: str) -> None:
        if order not in ORDER_TEXT or order == self.order:
            return
        self.order = order
        self._build_queue()
        self.events.suggestions.emit()
        self.events.current.emit()

    def set_suggestions(self, run_dir: str, items: list[dict]) -> None:
        """The engine's labeling queue: [{path, label, confidence}, ...] most useful first."""
        self.model_run = run_dir
        self.suggestions, self.useful_order = {}, []
        ours = {os.path.realpath(f): f for f in self.files}  # the engine resolves links (/var -> /private/var)
        for item in items:
            if not isinstance(item, dict) or not item.get("path"):
                continue
            path = ours.get(os.path.realpath(str(item["path"])), os.path.abspath(str(item["path"])))
            self.useful_order.append(path)
            conf = item.get("confidence")
            if item.get("label") is not None and isinstance(conf, (int, float)):
                self.suggestions[path] = Suggestion(str(item["label"]), float(conf))
        if self.order == USEFUL:
            self._build_queue()
        self.events.suggestions.emit()
        self.events.current.emit()

    def order_note(self) -> str:
        if self.order == USEFUL and not self.useful_order:
            return "Most useful first needs a trained model: random order until then."
        if self.order == USEFUL:
            return "The files the model is least sure of come first."
        return ""

    def _build_queue(self) -> None:
        if not self.store:
            self.queue, self.index = [], 0
            return
        unlabeled = [f for f in self.files if self._labels.get(f) is None]
        if self.order == USEFUL and self.useful_order:
            rank = {p: i for i, p in enumerate(self.useful_order)}
            unlabeled.sort(key=lambda p: (rank.get(p, len(rank)), p))
        else:
            random.Random(self.seed).shuffle(unlabeled)
        self.queue, self.index = unlabeled, 0
