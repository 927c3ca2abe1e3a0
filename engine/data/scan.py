"""`scan`: from folders and tables to a split, checked Dataset with its health report.

Order of work: list files (cheap; a labels sidecar decides their classes) -> refuse layouts that cannot work -> open every file
once in a thread pool (hash + decode) -> group keys (groups.py) -> drop duplicates by
policy -> join near-identical images' groups (neardupes.py) -> split by group -> report.
Problems with single files are listed and skipped; problems with the whole data set
raise DataError with one sentence, and the partial report rides on the exception
(`exc.report`) so a caller can still show what was found.
"""
from __future__ import annotations

import hashlib
import os
import time

from ..config import ConfigError
from ..errors import DataError
from .check import check_all
from .dedupe import Item, dedupe
from .dicom import DICOM_EXTS
from ..file_kinds import kind_of
from .discover import RootScan, walk_root
from .groups import group_keys, new_salt
from .health import add_findings, class_table, group_summary, image_summary, text_summary
from .images import IMAGE_EXTS
from .labeled import labels_block, mark_stale
from .neardupes import HashCache, join_near_duplicates
from .splits import assign_splits
from .tabular import TABLE_EXTS, TableRows, read_table
from .types import Dataset, HealthReport

MIXED_MINORITY = 0.10  # a few stray files of the other kind are ignored; more is a mixed data set
MIXED_STRAY_MAX = 3  # up to this many (a README.txt, notes.txt) are strays whatever the proportion


def _where(rep: HealthReport) -> str:
    return rep.roots[0] if len(rep.roots) == 1 else f"{rep.roots[0]} (and {len(rep.roots) - 1} more)"


def _open_roots(paths, rep: HealthReport, text_column, label_column, cancel):
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise DataError("No data given: name at least one folder with one subfolder per class.")
    roots: list[str] = []
    for p in paths:
        ap = os.path.abspath(os.path.expanduser(os.fspath(p)))
        if ap not in roots:
            roots.append(ap)
    rep.roots = roots
    trees: list[RootScan] = []
    tables: list[TableRows] = []
    for ap in roots:
        if os.path.isdir(ap):
            trees.append(walk_root(ap, cancel))
        elif os.path.isfile(ap):
            ext = os.path.splitext(ap)[1].lower()
            if ext in TABLE_EXTS:
                tables.append(read_table(ap, text_column, label_column))
            elif kind_of(ap):
                raise DataError(f"{ap} is a single file; give the folder that holds one subfolder per class "
                                "(or a CSV/TSV table with text and label columns).")
            else:
                raise DataError(f"{ap} is not a folder or a CSV/TSV table; give a folder with one subfolder "
                                "per class, or a table with text and label columns.")
        else:
            raise DataError(f"The folder {ap} does not exist; check the path for typos or choose it again.")
    return trees, tables


def _modality(trees: list[RootScan], tables: list[TableRows], rep: HealthReport) -> str | None:
    n_img = sum(c.kind == "image" for t in trees for c in t.candidates)
    n_txt = sum(c.kind == "text" for t in trees for c in t.candidates) + sum(len(t.rows) for t in tables)
    if not n_img and not n_txt:
        return None
    modality = "image" if n_img >= n_txt else "text"
    minority = min(n_img, n_txt)
    other = "text" if modality == "image" else "image"
    # a dropped folder (or table) holding only the other kind is a deliberate mix, never a stray
    whole_root = any(t.candidates and all(c.kind == other for c in t.candidates) for t in trees) or \
        (other == "text" and any(t.rows for t in tables))
    if minority and (whole_root or (minority > MIXED_STRAY_MAX and minority >= MIXED_MINORITY * max(n_img, n_txt))):
        raise DataError(f"The data in {_where(rep)} mixes images ({n_img}) and texts ({n_txt}); one run learns "
                        "from one kind of data, so put them in separate folders and train separate models.")
    for t in trees:
        keep = []
        for c in t.candidates:
            if c.kind == modality:
                keep.append(c)
            else:
                article = ("a", "an") if modality == "image" else ("an", "a")
                t.ignored.append({"path": c.path, "code": "other_modality",
                                  "reason": f"{article[0]} {c.kind} file in {article[1]} {modality} dataset"})
        t.candidates = keep
    return modality


def _say_guessed(tab: TableRows, rep: HealthReport) -> None:
    """Name a column that was taken only because it was the other of two."""
    for what in tab.guessed:
        column, other = (tab.label_column, tab.text_column) if what == "label" else (tab.text_column, tab.label_column)
        rep.add("info", "guessed_column", f"The {what} of {os.path.basename(tab.path)} was taken from its column "
                f"'{column}' (no column is named like a {what}; '{other}' is the "
                f"{'text' if what == 'label' else 'label'}).",
                f"If that is wrong, name the columns with --text-column and --label-column (or rename the "
                f"{what} column to '{what}').", [tab.path])


def _class_folders(trees, tables) -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for t in trees:
        for cls, dirs in t.class_dirs.items():
            where.setdefault(cls, []).extend(dirs)
    for tab in tables:
        for _, label, _, _ in tab.rows:
            if tab.path not in where.setdefault(label, []):
                where[label].append(tab.path)
    return where


def _fatal_layout(where: dict[str, list[str]], rep: HealthReport, modality: str | None, trees,
                  for_scoring: bool = False) -> None:
    root = _where(rep)
    if not where and not trees:
        raise DataError(f"{root} has no rows with both a text and a label; fill in those columns (see the "
                        "skipped rows for which ones are missing).")
    if not where:
        raise DataError(f"{root} has no class folders; put each class's files in its own subfolder "
                        f"(for example {os.path.join(rep.roots[0], 'cats')} and {os.path.join(rep.roots[0], 'dogs')}).")
    if len(where) == 1 and not for_scoring:
        only = next(iter(where))
        raise DataError(f"{root} has only one class ({only}); a classifier needs at least two, so add "
                        "examples of at least one more class.")
    if modality is None:
        exts = ", ".join(sorted(IMAGE_EXTS | DICOM_EXTS | {".txt"}))
        raise DataError(f"The class folders in {root} hold no image or text files; add examples ({exts}) "
                        "to each class folder.")


def _fatal_counts(rep: HealthReport, where: dict[str, list[str]], n_candidates: int,
                  for_scoring: bool = False) -> None:
    root = _where(rep)
    if not any(c["count"] for c in rep.classes):
        raise DataError(f"None of the {n_candidates} files in {root} could be read; see the skipped list for "
                        "why, then replace the files with working copies.")
    if for_scoring:  # scoring a model needs no minimum per class (one class, or one file, is fine)
        return
    low = [c for c in rep.classes if c["count"] < 2]
    if low:
        names = ", ".join(f"'{c['name']}' ({c['count']} usable, in {where[c['name']][0]})" for c in low[:5])
        raise DataError(f"{'The class' if len(low) == 1 else 'The classes'} {names} "
                        f"{'has' if len(low) == 1 else 'have'} fewer than 2 usable examples; add more examples "
                        "(or fix the skipped files), or remove the folder.")
    untrained = [c for c in rep.classes if c["splits"]["train"] == 0]
    if untrained:
        names = ", ".join(f"'{c['name']}'" for c in untrained[:5])
        raise DataError(f"The class{'es' if len(untrained) > 1 else ''} {names} in {root} "
                        f"{'have' if len(untrained) > 1 else 'has'} no training examples; add some to the train "
                        "folder or remove the class from the other splits.")


def _scan(paths, rep: HealthReport, val_fraction, test_fraction, seed, text_column, label_column,
          reporter, cancel, for_scoring=False, grouping: dict | None = None) -> Dataset:
    trees, tables = _open_roots(paths, rep, text_column, label_column, cancel)
    rep.presplit = any(t.presplit for t in trees)
    modality = _modality(trees, tables, rep)
    rep.modality = modality
    for t in trees:
        rep.ignored.extend(t.ignored)
    for tab in tables:
        rep.skipped.extend(tab.skipped)
        _say_guessed(tab, rep)
    where = _class_folders(trees, tables)
    sidecars = [t.labels for t in trees if t.labels is not None]
    rep.labels = labels_block(sidecars)
    if sidecars and not where:
        n = sum(len(lab.unlabeled) for lab in sidecars)
        raise DataError(f"{_where(rep)} has no labeled files yet ({n} unlabeled); label a few files of at least two "
                        "classes (in the app, or with 'transfer-studio label apply'), then train.")
    _fatal_layout(where, rep, modality, trees, for_scoring)
    candidates = [c for t in trees for c in t.candidates]
    cache = HashCache() if modality == "image" else None
    checked = check_all(candidates, reporter, cancel, known=cache.known if cache else None)
    if sidecars:
        mark_stale(sidecars, {ch.cand.path: ch.sha256 for ch in checked if ch.sha256})
        rep.labels = labels_block(sidecars)
    if cache is not None:
        cache.update({ch.sha256: ch.phash for ch in checked if ch.phash is not None and ch.sha256})
        cache.save()
    grouping = grouping or {}
    keys = group_keys([(ch.cand.path, ch.patient) for ch in checked if not ch.problem], rep.roots, **grouping)
    items: list[Item] = []
    text_facts: dict[str, tuple[int, int]] = {}  # path -> (characters, replaced characters)
    cut = {ch.cand.path for ch in checked if ch.cut} | {p for tab in tables for p in tab.cut}
    for ch in checked:
        if ch.problem:
            rep.skipped.append({"path": ch.cand.path, "reason": ch.problem, "code": ch.code})
            continue
        items.append(Item(ch.cand.path, ch.cand.class_name, ch.cand.given_split, ch.sha256,
                          group=keys[ch.cand.path][1] if ch.cand.path in keys else None))
        if modality == "text":
            text_facts[ch.cand.path] = (ch.chars, ch.replaced)
    for tab in tables:
        for row_path, label, text, n_bad in tab.rows:
            items.append(Item(row_path, label, None, hashlib.sha256(text.encode("utf-8")).hexdigest(), text))
            text_facts[row_path] = (len(text), n_bad)
    deduped = dedupe(items)
    if modality == "image":
        deduped.kept, deduped.near, deduped.look_alike_clusters = join_near_duplicates(
            deduped.kept, {ch.cand.path: ch.phash for ch in checked})
    classes = sorted(where)
    salt = new_salt()
    examples = assign_splits(deduped.kept, classes, val_fraction, test_fraction, seed, salt)
    rep.classes = class_table(classes, examples)
    counts = [c["count"] for c in rep.classes]
    rep.imbalance_ratio = round(max(counts) / min(counts), 2) if counts and min(counts) > 0 else None
    rep.duplicates = {"within_class": deduped.within_class, "across_classes": deduped.across_classes,
                      "across_splits": deduped.across_splits,
                      "near": [[a.path, b.path] for a, b, _ in deduped.near]}
    used = {e.path for e in examples}  # summaries describe what will be used, after duplicates
    undecodable: list[str] = []
    cut_used: list[str] = []
    if modality == "image":
        rep.image = image_summary(checked, used)
    else:
        facts = [(e.path, *text_facts[e.path]) for e in examples]
        rep.text = text_summary([n for _, n, _ in facts], [(p, r) for p, _, r in facts])
        undecodable = [p for p, _, r in facts if r > 0]
        cut_used = [p for p, _, _ in facts if p in cut]
        rep.text["cut_texts"] = len(cut_used)
    rep.groups = group_summary(examples, classes, keys, grouping.get("group_by", "auto"))
    if rep.labels is not None:
        rep.labels["examples"] = len(examples)
        rep.labels["train"] = sum(e.split == "train" for e in examples)
    add_findings(rep, deduped, modality, undecodable, cut_used)
    _fatal_counts(rep, where, len(candidates) + sum(len(t.rows) for t in tables), for_scoring)
    return Dataset(modality=modality, classes=classes, items=examples, report=rep, presplit=rep.presplit,
                   roots=list(rep.roots), group_salt=salt)


def scan(paths, *, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0,
         text_column: str | None = None, label_column: str | None = None, reporter=None,
         cancel=None, for_scoring: bool = False, group_by: str = "auto", groups_file: str | None = None,
         group_pattern: str | None = None) -> Dataset:
    """Check and split labeled data from folders and/or tables (see module docstring).

    group_by / groups_file / group_pattern: which examples belong together (groups.py);
    a group never spans two splits that this scan assigns.

    Raises DataError (one sentence; `.report` holds the partial report dict) when the data
    as a whole cannot be trained on, and errors.Cancelled when `cancel` is set. With
    for_scoring (evaluating a trained model) one class, or one example of a class, is enough.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(f"Validation and test fractions must each be in [0, 1) and sum to less than 1, "
                          f"not {val_fraction} and {test_fraction}.")
    t0 = time.monotonic()
    rep = HealthReport()
    try:
        grouping = {"group_by": group_by, "groups_file": groups_file, "group_pattern": group_pattern}
        return _scan(paths, rep, val_fraction, test_fraction, seed, text_column, label_column, reporter, cancel,
                     for_scoring, grouping)
    except DataError as exc:
        rep.seconds = time.monotonic() - t0
        rep.fatal = exc.message
        rep.add("error", "fatal", exc.message, "Fix the data as the message says, then check it again.")
        exc.report = rep.to_dict()
        raise
    finally:
        rep.seconds = time.monotonic() - t0


def health_report(paths, **kwargs) -> dict:
    """The report dict for `paths`, never raising for bad data: a fatal problem fills `fatal`."""
    try:
        return scan(paths, **kwargs).report.to_dict()
    except DataError as exc:
        return getattr(exc, "report", None) or {"roots": [str(p) for p in paths], "fatal": exc.message,
                                                "findings": [], "classes": []}
