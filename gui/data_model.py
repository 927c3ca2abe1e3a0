"""State of the Data step (Qt-free): chosen folders, the engine's health report, samples.

The scan itself runs in the engine (`InspectData`); this model only interprets the
reply so views and tests read the same facts: classes and counts, findings in plain
language with what to do, skipped files, and whether the data is good enough to train.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .events import EventGroup

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
TEXT_EXTS = {".txt", ".md", ".text"}
SPLIT_DIRS = ("train", "val", "valid", "validation", "test")
DATA_FILE_EXTS = {".csv", ".tsv", ".jsonl"}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
TITLES = {  # headings by the engine's finding codes; unknown codes get a cleaned-up code
    "fatal": "This data cannot be used yet",
    "corrupt": "Unreadable files",
    "unreadable": "Unreadable files",
    "zero_byte": "Empty files",
    "too_large": "Files too large to open safely",
    "text_too_large": "Text files too large to be one example",
    "long_texts": "Long texts: only their start is used",
    "not_image": "Files that are not really images",
    "empty_text": "Empty texts",
    "no_label": "Rows without a label",
    "bad_row": "Rows that could not be read",
    "wrong_fields": "Rows with more or fewer fields than the header",
    "guessed_column": "A column was chosen by elimination",
    "skipped": "Files that were skipped",
    "hidden_files": "Hidden system files",
    "stray_files": "Files outside the class folders",
    "folder_links": "Links to folders that were not followed",
    "unsupported_files": "Files of a type this app does not read",
    "other_modality": "Files of another kind",
    "duplicates_within_class": "Duplicate files within a class",
    "duplicates_across_classes": "The same file under two labels",
    "duplicates_across_splits": "The same file in training and testing",
    "imbalance": "Some classes are much smaller",
    "few_examples": "Very few examples",
    "no_val_split": "No validation examples",
    "no_test_split": "No separate test split",
    "undecodable_text": "Texts with broken characters",
}


@dataclass(frozen=True)
class ClassInfo:
    name: str
    count: int
    splits: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    severity: str  # error|warning|info
    title: str
    message: str  # what it means
    advice: str  # what to do
    paths: tuple = ()  # files it is about, if the report names them


def usable_drop_paths(paths: list[str]) -> list[str]:
    """Folders and tabular files from a drop or dialog, absolute, de-duplicated, in order."""
    out: list[str] = []
    for p in paths:
        if not p:
            continue
        ap = os.path.abspath(p)
        if (os.path.isdir(ap) or Path(ap).suffix.lower() in DATA_FILE_EXTS) and ap not in out:
            out.append(ap)
    return out


class DataModel:
    """Emits `changed` after every transition and `scan_progress(done, total)` while the engine reads."""

    def __init__(self) -> None:
        self.events = EventGroup(changed=(), scan_progress=("done", "total"))
        self.paths: list[str] = []
        self.report: dict | None = None
        self.scanning = False
        self.error: str | None = None  # plain sentence when the scan failed
        self.refit: bool | None = None  # whether the engine's recipe refits on train + validation (None: not known)

    # ---------------------------------------------------------------- transitions
    def begin_scan(self, paths: list[str]) -> None:
        self.paths = list(paths)
        self.report = None
        self.error = None
        self.refit = None
        self.scanning = True
        self.events.changed.emit()

    def on_scan_progress(self, done: int, total: int) -> None:
        if self.scanning:
            self.events.scan_progress.emit(int(done), int(total))

    def set_report(self, report: dict) -> None:
        self.report = report if isinstance(report, dict) else {}
        self.scanning = False
        self.error = None
        self.refit = None  # until the engine's recipe has seen this report
        self.events.changed.emit()

    def set_error(self, message: str) -> None:
        self.scanning = False
        self.error = message
        self.events.changed.emit()

    def set_refit(self, refit: bool | None) -> None:
        """What the engine's recipe says about refitting on train + validation (the health text names it)."""
        if refit != self.refit:
            self.refit = refit
            self.events.changed.emit()

    # ---------------------------------------------------------------- derived facts
    @property
    def modality(self) -> str | None:
        return (self.report or {}).get("modality")

    @property
    def classes(self) -> list[ClassInfo]:
        out = []
        for c in (self.report or {}).get("classes") or []:
            if isinstance(c, dict) and "name" in c:
                out.append(ClassInfo(str(c["name"]), int(c.get("count") or 0), dict(c.get("splits") or {})))
        return out

    @property
    def total(self) -> int:
        return sum(c.count for c in self.classes)

    @property
    def fatal(self) -> str | None:
        return (self.report or {}).get("fatal") or None

    @property
    def skipped(self) -> list[dict]:
        return [s for s in (self.report or {}).get("skipped") or [] if isinstance(s, dict)]

    @property
    def ready(self) -> bool:
        """Enough to move on to the Model step."""
        return bool(self.report) and not self.fatal and not self.error and len(self.classes) >= 2

    def findings(self, include_fatal: bool = True) -> list[Finding]:
        """The report's findings (worst first); skipped files and a fatal problem always appear
        (the fatal one is left out with include_fatal=False, for views that show it on its own)."""
        report = self.report or {}
        raw = [f for f in report.get("findings") or [] if isinstance(f, dict)]
        if not include_fatal:
            raw = [f for f in raw if f.get("code") != "fatal"]
        found: list[Finding] = []
        if include_fatal and self.fatal and not any(f.get("code") == "fatal" for f in raw):
            found.append(Finding("error", "This data cannot be used yet", str(self.fatal),
                                 "Fix the folder as described, then drop it again."))
        for f in raw:
            code = str(f.get("code", ""))
            title = f.get("title") or TITLES.get(code) or code.replace("_", " ").capitalize() or "Note"
            paths = tuple(f.get("paths") or ())
            found.append(Finding(str(f.get("severity", "info")), title, str(f.get("message", "")),
                                 str(f.get("advice", "")), paths))
        named = {p for f in found for p in f.paths}
        covered = {str(f.get("code", "")) for f in raw} & {"corrupt", "skipped", "unreadable"}
        missing = [s.get("path", "") for s in self.skipped if s.get("path") not in named]
        if missing and not covered:
            n = len(missing)
            found.append(Finding(
                "warning", TITLES["skipped"],
                f"{n} file{'s' if n != 1 else ''} could not be read and will be left out of training.",
                "Open the list below to see which; replace or delete them if they matter.", tuple(missing)))
        found.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
        return found

    def summary(self) -> str:
        if self.scanning:
            return "Reading your data…"
        if self.error:
            return self.error
        if not self.report:
            return "Drop one or more folders of labeled files anywhere on this window."
        kind = {"image": "images", "text": "texts"}.get(self.modality or "", "examples")
        n_cls = len(self.classes)
        ratio = (self.report or {}).get("imbalance_ratio")
        extra = f", largest class {ratio:.1f}× the smallest" if isinstance(ratio, (int, float)) and ratio >= 1.5 else ""
        return f"{self.total} {kind} in {n_cls} class{'es' if n_cls != 1 else ''}{extra}."

    def details(self) -> list[str]:
        """Plain facts under the health check: split sizes, image sizes / text lengths, ignored files."""
        r = self.report or {}
        out = []
        splits = {k: sum(int((c.splits or {}).get(k) or 0) for c in self.classes) for k in ("train", "val", "test")}
        if any(splits.values()):
            how = "from your train/val/test folders" if r.get("presplit") else "at random, the same way every time"
            # the engine's recipe says whether small data also learns from validation at the end (self.refit)
            job = ("to decide how long to train (then learned from too)" if self.refit and splits["val"] else
                   "to pick the best epoch")
            out.append(f"Split {how}: {splits['train']} to train on, {splits['val']} {job}, "
                       f"{splits['test']} kept aside for the final score.")
        img = r.get("image") if isinstance(r.get("image"), dict) else {}
        w, h = img.get("width") or {}, img.get("height") or {}
        if isinstance(w, dict) and w.get("median"):
            modes = img.get("modes") or {}
            kinds = {"L": "greyscale", "1": "black and white", "RGB": "colour", "RGBA": "colour with transparency",
                     "P": "palette colour", "CMYK": "CMYK colour"}
            mode_text = ", ".join(kinds.get(m, m) for m in sorted(modes, key=lambda m: -modes[m])[:3])
            size = f"{w['median']}×{h.get('median', '?')} px"
            spread = "" if w.get("min") == w.get("max") and h.get("min") == h.get("max") else \
                f" (from {w.get('min')}×{h.get('min')} to {w.get('max')}×{h.get('max')})"
            out.append(f"Images are typically {size}{spread}{', ' + mode_text if mode_text else ''}.")
        txt = r.get("text") if isinstance(r.get("text"), dict) else {}
        length = txt.get("length") if isinstance(txt.get("length"), dict) else {}
        if length.get("median"):
            out.append(f"Texts are {length.get('min')}–{length.get('max')} characters long "
                       f"(typically {length['median']}).")
        ignored = r.get("ignored") or []
        if ignored:
            n = len(ignored)
            out.append(f"{n} file{' was' if n == 1 else 's were'} ignored (see the checks above).")
        return out

    def sample_paths(self, per_class: int = 6) -> dict[str, list[str]]:
        """A few files per class to show: from the report if it lists them, else from disk."""
        report = self.report or {}
        out: dict[str, list[str]] = {}
        bad = {s.get("path") for s in self.skipped}
        for c in report.get("classes") or []:
            if isinstance(c, dict) and isinstance(c.get("examples"), list):
                out[str(c["name"])] = [p for p in c["examples"] if p not in bad][:per_class]
        missing = [c.name for c in self.classes if c.name not in out]
        if missing:
            exts = TEXT_EXTS if self.modality == "text" else IMAGE_EXTS
            roots = report.get("roots") or self.paths
            for name in missing:
                out[name] = _files_for_class(roots, name, exts, bad, per_class)
        return out


def _files_for_class(roots: list[str], name: str, exts: set, bad: set, limit: int) -> list[str]:
    """Files of class `name` under root/name or root/<split>/name, first by sorted name."""
    found: list[str] = []
    for root in roots:
        candidates = [Path(root) / name] + [Path(root) / s / name for s in SPLIT_DIRS]
        for d in candidates:
            if not d.is_dir():
                continue
            try:
                names = sorted(e.name for e in os.scandir(d) if e.is_file())
            except OSError:
                continue
            for n in names:
                p = str(d / n)
                if Path(n).suffix.lower() in exts and p not in bad:
                    found.append(p)
                    if len(found) >= limit:
                        return found
    return found


def read_snippet(path: str, limit: int = 240) -> str:
    """The start of a text file, one paragraph, for the sample strip."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit * 4)
    except OSError as exc:
        return f"(could not read: {exc.strerror})"
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    return text[:limit] + ("…" if len(text) > limit else "")
