"""State of the Data step (Qt-free): chosen folders, the engine's health report, samples.

The scan itself runs in the engine (`InspectData`); this model only interprets the
reply so views and tests read the same facts: classes and counts, findings in plain
language with what to do, skipped files, and whether the data is good enough to train.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import GROUP_BY, GROUP_SOURCE_WORDS
from engine.dicom_windows import CT_PRESETS, WINDOW_TITLES, WINDOWS, preset_applies
from engine.file_kinds import IMAGE_EXTS, SPLIT_ALIASES, TEXT_EXTS
from engine.file_kinds import TABLE_EXTS as DATA_FILE_EXTS

from .finding_titles import TITLES

from .events import EventGroup


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
GROUP_CHOICES = {"auto": "Automatic (CSV, pattern, else DICOM patient)", "none": "None (each file on its own)",
                 "patient": "Patient (DICOM PatientID)", "pattern": "File-name pattern", "csv": "CSV file (path,group)"}
assert set(GROUP_CHOICES) == set(GROUP_BY) and set(WINDOW_TITLES) == set(WINDOWS)


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
    code: str = ""  # the engine's finding code (near-duplicate pairs are shown side by side)


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
        self.events = EventGroup(changed=(), scan_progress=("done", "total"), grouping_changed=(),
                                 window_changed=(), previews_changed=())
        self.paths: list[str] = []
        # how the data is read (RunConfig fields): groups need a new scan, a window only new previews
        self.group_by, self.group_pattern, self.groups_file = "auto", "", ""
        self.window = "file"
        self.previews: dict[str, bytes] = {}  # path -> PNG the engine drew (DICOM: Qt cannot decode it)
        self.preview_window = "file"  # the window `previews` were drawn in
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
        self.previews = {}
        self.scanning = False
        self.error = None
        self.refit = None  # until the engine's recipe has seen this report
        self.events.changed.emit()

    def set_error(self, message: str) -> None:
        self.scanning = False
        self.error = message
        self.events.changed.emit()

    def set_grouping(self, group_by: str, pattern: str = "", groups_file: str = "") -> None:
        """A new way to group examples (GROUP_BY); the page then asks for a new scan."""
        if group_by not in GROUP_CHOICES:
            raise ValueError(f"unknown grouping {group_by!r}")
        new = (group_by, pattern.strip(), groups_file.strip())
        if new != (self.group_by, self.group_pattern, self.groups_file):
            self.group_by, self.group_pattern, self.groups_file = new
            self.events.grouping_changed.emit()

    def set_window(self, window: str) -> None:
        if window not in WINDOW_TITLES:
            raise ValueError(f"unknown DICOM window {window!r}")
        if window != self.window:
            self.window = window
            self.events.window_changed.emit()

    def set_previews(self, items: list, window: str) -> None:
        """PNG previews from the engine's `images` reply (base64 in JSON)."""
        import base64

        if window != self.window:
            return  # drawn for a window the person has already left
        self.preview_window = window
        for item in items or []:
            if isinstance(item, dict) and item.get("png"):
                self.previews[str(item.get("path"))] = base64.b64decode(item["png"])
        self.events.previews_changed.emit()

    def grouping(self) -> dict:
        """The scan's grouping (protocol InspectData.grouping; RunConfig fields)."""
        return {"group_by": self.group_by, "group_pattern": self.group_pattern or None,
                "groups_file": self.groups_file or None}

    def run_options(self) -> dict:
        """The RunConfig fields this page decides: grouping and the DICOM window."""
        return {**self.grouping(), "dicom_window": self.window}

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
    def dicom(self) -> dict:
        """The report's DICOM summary ({} for data without DICOM files)."""
        image = (self.report or {}).get("image")
        return dict(image.get("dicom") or {}) if isinstance(image, dict) else {}

    @property
    def groups(self) -> dict:
        g = (self.report or {}).get("groups")
        return g if isinstance(g, dict) else {}

    @property
    def groups_named(self) -> bool:
        """Whether a source (CSV, pattern, PatientID) named any group, beyond copies kept together."""
        return any(k != "file" for k in (self.groups.get("sources") or {}))

    def groups_text(self) -> str:
        """How many groups the scan found, from what, and how they spread over classes."""
        g = self.groups
        if not g:
            return ""
        named = {k: n for k, n in (g.get("sources") or {}).items() if k != "file"}
        if not named:
            return ("No groups found: each file is its own group (exact and near-identical copies are still kept "
                    "together).")
        by = ", ".join(f"{n} image{'s' if n != 1 else ''} by {GROUP_SOURCE_WORDS.get(k, k)}" for k, n in named.items())
        ipg = g.get("images_per_group") or {}
        per_class = ", ".join(f"{c} {n}" for c, n in (g.get("per_class") or {}).items())
        leak = f" {g['leaks']} group(s) sit in two of your split folders." if g.get("leaks") else \
            " Each group stays on one side of the split."
        return (f"{g.get('count', 0)} groups ({by}); {ipg.get('min', 0)}–{ipg.get('max', 0)} images per group "
                f"(typically {ipg.get('median', 0)}); groups per class: {per_class}.{leak}")

    def window_note(self) -> str:
        """Said under the window choice when a CT preset meets files that are not (all) CT."""
        if self.window not in CT_PRESETS or not self.dicom:
            return ""
        mods = dict(self.dicom.get("modalities") or {})
        other = {m: n for m, n in mods.items() if not preset_applies(self.window, m)}
        if not other:
            return ""
        listed = ", ".join(f"{m} {n}" for m, n in other.items())
        return (f"CT presets apply to CT files only: the others ({listed}) keep their own window.")

    def group_preview(self, limit: int = 6) -> list[str]:
        """The largest groups, one line each: salted id, size, classes, split (never a patient's key)."""
        out = []
        for p in (self.groups.get("preview") or [])[:limit]:
            if isinstance(p, dict):
                out.append(f"{str(p.get('group', ''))[:9]}…  {p.get('images', 0)} images, "
                           f"{', '.join(p.get('classes') or [])} → {', '.join(p.get('splits') or [])}")
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
                                 str(f.get("advice", "")), paths, code))
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

    def labels_text(self) -> str:
        """What the labels file beside the data changed, from the report's `labels` block ("" if nothing)."""
        b = (self.report or {}).get("labels")
        b = {k: v for k, v in b.items() if isinstance(v, int) and v > 0} if isinstance(b, dict) else {}
        parts = [f"{b[k]:,} {t}" for k, t in (("from_sidecar", "labeled in the app"), ("overridden", "overriding "
                 "a folder's label"), ("excluded", "excluded"), ("unlabeled", "not labeled yet (left out)")) if k in b]
        return f"Labels file: {', '.join(parts)}. The files themselves are unchanged." if parts else ""

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
        dicom = self.dicom
        if dicom:
            mods = ", ".join(f"{m} {n}" for m, n in (dicom.get("modalities") or {}).items())
            frames = f"; {dicom['multi_frame_files']} multi-frame ({dicom.get('frame_policy')})" \
                if dicom.get("multi_frame_files") else ""
            out.append(f"{dicom.get('files', 0)} DICOM files ({mods}){frames}.")
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
        candidates = [Path(root) / name] + [Path(root) / s / name for s in SPLIT_ALIASES]
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
