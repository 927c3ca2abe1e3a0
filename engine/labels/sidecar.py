"""The labels sidecar: labels given in the app, kept beside the data and never in it.

A labeling project is two small files next to each other:
- `transfer-studio-labels.csv`: one row per file that was labeled or excluded
  (path relative to the data root in POSIX form, the file's sha256, the label or
  "excluded", the reason, who, when). Read back, the last row for a path wins, so the
  file is also a readable history; `compact()` rewrites it with one row per path.
- `transfer-studio-labels.json`: the class names in the order the user gave them (keys
  1-9 follow it) and whether sub-folder names are labels (`folder_labels`).

Both sit in the data root when it is writable, else in the app's data folder under
`labels/<hash of the root's path>/`: a read-only share (a PACS export, a CD) can be
labeled too. Every write is atomic (temp file, fsync, rename): a crash mid-labeling
loses at most the label being written. Originals are never opened for writing, moved or
renamed; the audit log gets each change as a hash, never content. Standard library
only: the GUI imports this module directly.
"""
from __future__ import annotations

import csv
import datetime as _dt
import getpass
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from engine.atomic import read_json, write_json, write_text
from engine.file_kinds import SPLIT_ALIASES, is_hidden, kind_of_file
from engine.library.manifest import sha256_file
from engine.library.paths import data_dir

CSV_NAME = "transfer-studio-labels.csv"
JSON_NAME = "transfer-studio-labels.json"
SIDECAR_NAMES = frozenset({CSV_NAME, JSON_NAME})
EXCLUDED = "excluded"
COLUMNS = ("path", "sha256", "label", "reason", "who", "when")
UNLABELED_FOLDERS = frozenset({"unlabeled", "unlabelled", "unsorted", "to_label", "to-label"})


@dataclass(frozen=True)
class LabelRow:
    path: str          # relative to the data root, POSIX separators
    sha256: str
    label: str         # a class name, or EXCLUDED
    reason: str = ""
    who: str = ""
    when: str = ""

    @property
    def excluded(self) -> bool:
        return self.label == EXCLUDED


@dataclass
class Project:
    classes: list[str] = field(default_factory=list)
    folder_labels: bool = True   # a file in <root>/<name>/ is class <name> unless a row says otherwise


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def fallback_dir(root: str | os.PathLike) -> Path:
    """Where a read-only data root's labels go: the app's data folder, one folder per root."""
    key = hashlib.sha256(str(Path(root).resolve()).encode("utf-8")).hexdigest()[:16]
    return data_dir() / "labels" / key


def sidecar_dir(root: str | os.PathLike) -> Path:
    """The folder holding the root's labels: an existing sidecar wins, then the root if writable."""
    root = Path(root)
    for folder in (root, fallback_dir(root)):
        if (folder / CSV_NAME).exists() or (folder / JSON_NAME).exists():
            return folder
    return root if _writable(root) else fallback_dir(root)


def has_sidecar(root: str | os.PathLike) -> bool:
    folder = sidecar_dir(root)
    return (folder / CSV_NAME).exists() or (folder / JSON_NAME).exists()


def relative(root: str | os.PathLike, path: str | os.PathLike) -> str:
    """`path` relative to `root`, POSIX separators; a path outside the root is refused."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if rel == os.curdir or rel.startswith(os.pardir):
        raise ValueError(f"{path} is not inside the data folder {root}")
    return PurePosixPath(*Path(rel).parts).as_posix()


def folder_label(rel: str, project: Project) -> str | None:
    """The label a file's place gives it: its top folder's name (below a train/val/test folder in a
    pre-split tree), unless that folder says 'unlabeled'."""
    parts = PurePosixPath(rel).parts
    if len(parts) >= 3 and parts[0].lower() in SPLIT_ALIASES:
        parts = parts[1:]
    if not project.folder_labels or len(parts) < 2 or parts[0].lower() in UNLABELED_FOLDERS:
        return None
    return parts[0]


def _parse(text: str) -> dict[str, LabelRow]:
    rows: dict[str, LabelRow] = {}
    for rec in csv.DictReader(io.StringIO(text)):
        path, label = (rec.get("path") or "").strip(), (rec.get("label") or "").strip()
        if not path:
            continue
        if not label:  # a cleared label: the file is unlabeled again
            rows.pop(path, None)
            continue
        rows[path] = LabelRow(path, (rec.get("sha256") or "").strip(), label, rec.get("reason") or "",
                              rec.get("who") or "", rec.get("when") or "")
    return rows


def data_files(root: str | os.PathLike) -> list[str]:
    """Every image or text file under `root` (recursively), absolute and sorted; hidden files,
    system folders and the labels sidecar are left out. (The Label mode and `label rename` list the same files.)"""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in files:
            path = os.path.join(folder, name)
            if name in SIDECAR_NAMES or is_hidden(name) or name.upper() == "DICOMDIR" or kind_of_file(path) is None:
                continue  # kind_of_file: by extension, or DICOM by content (PACS exports often have no extension)
            out.append(os.path.abspath(path))
    return sorted(out)


def _render(history: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for rec in history:
        w.writerow({k: rec.get(k, "") for k in COLUMNS})
    return buf.getvalue()


class LabelStore:
    """One data root's labels: read, change (each change saved at once), undo."""

    def __init__(self, root: str | os.PathLike, folder: str | os.PathLike | None = None):
        self.root = Path(root)
        self.folder = Path(folder) if folder else sidecar_dir(root)
        self.csv_path, self.json_path = self.folder / CSV_NAME, self.folder / JSON_NAME
        text = self.csv_path.read_text(encoding="utf-8") if self.csv_path.exists() else ""
        self._history = list(csv.DictReader(io.StringIO(text))) if text else []
        self.rows = _parse(text)
        meta = read_json(self.json_path) if self.json_path.exists() else {}
        self.project = Project(list(meta.get("classes", [])), bool(meta.get("folder_labels", True)))

    # reading -----------------------------------------------------------------
    def get(self, path: str | os.PathLike) -> LabelRow | None:
        return self.rows.get(self._rel(path))

    def label_of(self, path: str | os.PathLike) -> str | None:
        """The label that counts: the sidecar's row, else the folder's (None = unlabeled)."""
        rel = self._rel(path)
        row = self.rows.get(rel)
        return row.label if row else folder_label(rel, self.project)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows.values():
            out[row.label] = out.get(row.label, 0) + 1
        return out

    # changing ----------------------------------------------------------------
    def set_classes(self, classes: list[str], folder_labels: bool | None = None) -> None:
        _check_classes(classes)
        self.project.classes = list(classes)
        if folder_labels is not None:
            self.project.folder_labels = folder_labels
        self._save_meta()

    def rename_class(self, old: str, new: str, paths: Iterable = (), who: str | None = None) -> int:
        """Call class `old` `new` from now on; returns how many files it relabeled.

        Every file labeled `old`, by a row or by its folder (among `paths`: the store lists no files), gets a
        row labeled `new`; folders and files are never renamed. The rows are written first, in one atomic
        write, then the class list, so a crash between the two leaves the old name on a list that still
        has it and the new one on the files (a second rename finishes it)."""
        paths = [self._rel(p) for p in paths]
        # a tree labeled by its folders alone has named no classes yet: its folders are its classes
        known = self.project.classes or sorted({folder_label(rel, self.project) for rel in paths} - {None})
        if old not in known:
            raise ValueError(f"There is no class {old!r} to rename.")
        if new in known:
            raise ValueError(f"There is already a class {new!r}.")
        classes = [new if c == old else c for c in known]
        _check_classes(classes)
        rels = {rel for rel, row in self.rows.items() if row.label == old}
        rels |= {rel for rel in paths if rel not in self.rows and folder_label(rel, self.project) == old}
        who, when = who or _user(), _now()
        for rel in sorted(rels):
            previous = self.rows.get(rel)
            row = LabelRow(rel, previous.sha256 if previous else sha256_file(self.root / rel), new,
                           f"class renamed from {old}", who, when)
            self._history.append(row.__dict__.copy())
            self.rows[rel] = row
        if rels:
            self._save_csv()
        self.set_classes(classes)
        from engine import audit  # late, as _audit
        audit.record("rename_class", root_sha256=hashlib.sha256(str(self.root.resolve()).encode()).hexdigest(),
                     previous=old, label=new, files=len(rels))
        return len(rels)

    def label(self, path, label: str, reason: str = "", who: str | None = None) -> LabelRow | None:
        """Give `path` a label (a class name or EXCLUDED); returns the row it replaced, for undo."""
        if not label or "\n" in label:
            raise ValueError("A label cannot be empty or span lines.")
        rel = self._rel(path)
        digest = sha256_file(self.root / rel)
        row = LabelRow(rel, digest, label, reason, who or _user(), _now())
        return self._write(rel, row)

    def exclude(self, path, reason: str, who: str | None = None) -> LabelRow | None:
        if not reason.strip():
            raise ValueError("Say why the file is excluded (a reason is required).")
        return self.label(path, EXCLUDED, reason, who)

    def clear(self, path, who: str | None = None) -> LabelRow | None:
        """The file is unlabeled again (its folder label, if any, counts again)."""
        rel = self._rel(path)
        return self._write(rel, LabelRow(rel, "", "", "cleared", who or _user(), _now()))

    def restore(self, path, previous: LabelRow | None) -> None:
        """Undo: put back what `label`/`exclude`/`clear` returned."""
        rel = self._rel(path)
        if previous is None:
            self.clear(rel)
        else:
            self._write(rel, replace(previous, when=_now(), reason=previous.reason or "undo"))

    def compact(self) -> None:
        """Rewrite the CSV with one row per labeled path (history beyond that lives in the audit log)."""
        self._history = [row.__dict__.copy() for row in sorted(self.rows.values(), key=lambda r: r.path)]
        self._save_csv()

    # internals ---------------------------------------------------------------
    def _rel(self, path) -> str:
        p = Path(path)
        return relative(self.root, p) if p.is_absolute() else PurePosixPath(*p.parts).as_posix()

    def _write(self, rel: str, row: LabelRow) -> LabelRow | None:
        previous = self.rows.get(rel)
        rec = row.__dict__.copy()
        self._history.append(rec)
        self._save_csv()
        if row.label:
            self.rows[rel] = row
        else:
            self.rows.pop(rel, None)
        _audit(self.root, rel, row, previous)
        return previous

    def _save_csv(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_text(self.csv_path, _render(self._history))

    def _save_meta(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.json_path, {"version": 1, "classes": self.project.classes,
                                    "folder_labels": self.project.folder_labels,
                                    "root": str(self.root.resolve())})


def _check_classes(classes: list[str]) -> None:
    bad = [c for c in classes if not c.strip() or c == EXCLUDED or "/" in c or "\\" in c]
    if bad:
        raise ValueError(f"Class names cannot be empty, '{EXCLUDED}' or contain slashes: {bad}")
    if len(set(classes)) != len(classes):
        raise ValueError("Two classes have the same name.")


def _audit(root: Path, rel: str, row: LabelRow, previous: LabelRow | None) -> None:
    from engine import audit  # late: keeps importing this module cheap
    audit.record("label", root_sha256=hashlib.sha256(str(root.resolve()).encode()).hexdigest(),
                 file_sha256=row.sha256 or (previous.sha256 if previous else ""),
                 label=row.label or "(cleared)", previous=previous.label if previous else None,
                 reason=row.reason)
