"""`transfer-studio label`: label a folder with the model in the loop, from the command line.

`label suggest --model M DIR --out queue.csv` writes DIR's unlabeled files in the order to label
them (engine/labels/queue.py) with the model's guess and an empty `label` column; a person fills
in labels (or "excluded" with a reason) and `label apply queue.csv` writes them into DIR's labels
sidecar (engine/labels/sidecar.py) - the files themselves are never touched. `label rename DIR OLD
NEW` renames a class (a typo found after labeling). Every row that
cannot be applied is listed with why; nothing is dropped silently.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

QUEUE_COLUMNS = ("rank", "path", "guess", "confidence", "score", "label", "reason", "root")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("suggest", help="write a folder's unlabeled files, most useful first, to a CSV",
                       description="Order the unlabeled files of DIR for labeling, with the model's guess for each.")
    s.add_argument("--model", required=True, metavar="BUNDLE_OR_RUN", help="a saved bundle or a run directory")
    s.add_argument("dir", metavar="DIR", help="the data folder being labeled")
    s.add_argument("--out", required=True, metavar="FILE.csv",
                   help="the queue: rank, path (relative to DIR), guess, confidence, score, and an empty label "
                        "column to fill in")
    s.add_argument("--strategy", choices=("useful", "random"), default="useful",
                   help="useful (default): the model's least sure first, each batch of 50 spread out; random")
    s.add_argument("--seed", type=int, default=0, help="seed of the random order and of ties (default 0)")
    s.add_argument("--all", action="store_true", help="also rank files that already have a label (to review them)")
    a = sub.add_parser("apply", help="write the labels filled in a CSV into the data folder's labels sidecar",
                       description="Write the labels of a CSV (columns path and label, optional reason) into the "
                                   "data folder's labels sidecar; rows with an empty label are left alone.")
    a.add_argument("csv", metavar="LABELS.csv", help="e.g. the queue from 'label suggest' with labels filled in")
    a.add_argument("--root", metavar="DIR", help="the data folder (default: the CSV's 'root' column)")
    r = sub.add_parser("rename", help="rename a class: every file labeled OLD (by the sidecar or its folder) "
                                      "is labeled NEW; folders and files are left as they are",
                       description="Rename a class of a data folder's labels sidecar.")
    r.add_argument("dir", metavar="DIR", help="the data folder being labeled")
    r.add_argument("old", metavar="OLD", help="the class's name now")
    r.add_argument("new", metavar="NEW", help="its new name")


def run(args) -> int:
    return {"suggest": suggest, "apply": apply, "rename": rename}[args.action](args)


def rename(args) -> int:
    from ..errors import DataError
    from ..labels.sidecar import LabelStore, data_files

    root = Path(args.dir).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"The data folder {root} does not exist.")
    store = LabelStore(root)
    try:
        n = store.rename_class(args.old.strip(), args.new.strip(), data_files(root))
    except ValueError as exc:
        classes = ", ".join(store.project.classes) or "none named yet"
        raise DataError(f"{exc} The classes of {root}: {classes}.") from None
    print(f"{store.csv_path}: {args.old.strip()} is now {args.new.strip()} ({n} file{'s' if n != 1 else ''} "
          f"relabeled). Classes: {', '.join(store.project.classes)}.")
    return 0


def suggest(args) -> int:
    from ..labels.queue import suggest as order_files
    from ..labels.sidecar import relative
    from ..atomic import write_text

    root = Path(args.dir).expanduser().resolve()
    q = order_files(args.model, root, strategy=args.strategy, seed=args.seed, include_labeled=args.all,
                    send=_progress)
    rows = [{"rank": s.rank, "path": relative(root, s.path), "guess": s.guess, "confidence": f"{s.confidence:.4f}",
             "score": f"{s.score:.4f}", "label": "", "reason": "", "root": str(root)} for s in q.items]
    write_text(args.out, _csv(rows))
    print(file=sys.stderr)
    for r in rows[:10]:
        print(f"{r['rank']:>5}  {r['path']}  guess {r['guess']} ({float(r['confidence']):.0%})  score {r['score']}")
    if len(rows) > 10:
        print(f"  ... and {len(rows) - 10} more")
    _list("could not be ranked", [(s["path"], s["reason"]) for s in q.skipped])
    print(f"Wrote {len(rows)} file(s) to label to {args.out} ({args.strategy} order; {q.labeled} already labeled "
          f"left out). Fill in the label column, then: transfer-studio label apply {args.out}", file=sys.stderr)
    return 0 if rows or not q.skipped else 1


def apply(args) -> int:
    from ..errors import DataError
    from ..labels.sidecar import EXCLUDED, LabelStore, relative

    rows = _read(args.csv)
    roots = {r.get("root", "").strip() for r in rows} - {""}
    if args.root is None and len(roots) != 1:
        raise DataError(f"{args.csv} does not say which data folder its paths are in; add --root DIR.")
    root = Path(args.root or roots.pop()).expanduser().resolve()
    if not root.is_dir():
        raise DataError(f"The data folder {root} does not exist; check --root (or the CSV's root column).")
    store = LabelStore(root)
    known = set(store.project.classes)
    done = {"labeled": 0, "excluded": 0, "unchanged": 0, "empty": 0}
    problems: list[tuple[str, str]] = []
    for n, rec in enumerate(rows, 2):  # spreadsheet row numbers: the header is row 1
        path, label, reason = (rec.get("path") or "").strip(), (rec.get("label") or "").strip(), rec.get("reason") or ""
        label = EXCLUDED if label.lower() == EXCLUDED else label
        if not label:
            done["empty"] += 1
            continue
        where = f"row {n}: {path or '(no path)'}"
        why = _refusal(root, path, label, reason, known)
        if why:
            problems.append((where, why))
            continue
        rel = relative(root, path) if os.path.isabs(path) else Path(path).as_posix()
        row = store.get(rel)
        if row is not None and row.label == label and (label != EXCLUDED or row.reason == reason):
            done["unchanged"] += 1
            continue
        try:
            if label == EXCLUDED:
                store.exclude(rel, reason.strip())
                done["excluded"] += 1
            else:
                store.label(rel, label, reason.strip())
                done["labeled"] += 1
        except (OSError, ValueError) as exc:
            problems.append((where, str(exc)))
    _list("not applied", problems)
    print(f"{store.csv_path}: {done['labeled']} labeled, {done['excluded']} excluded, {done['unchanged']} already so, "
          f"{done['empty']} row(s) without a label left alone, {len(problems)} not applied.")
    counts = store.counts()
    if counts:
        print("Sidecar now: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if problems else 0


def _refusal(root: Path, path: str, label: str, reason: str, known: set[str]) -> str | None:
    """Why a filled-in row cannot be applied (None: it can)."""
    from ..labels.sidecar import EXCLUDED, SIDECAR_NAMES, relative

    if not path:
        return "no path"
    if "\n" in label or "/" in label or "\\" in label:
        return f"'{label}' is not a usable class name (no slashes or line breaks)"
    if label == EXCLUDED and not reason.strip():
        return "excluded without a reason; say why in the reason column"
    if label != EXCLUDED and known and label not in known:
        return f"'{label}' is not one of this project's classes ({', '.join(sorted(known))}); fix the spelling " \
               "or add the class in the app"
    target = Path(path) if os.path.isabs(path) else root / path
    try:
        rel = relative(root, target)
    except ValueError:
        return f"outside the data folder {root}"
    if Path(rel).name in SIDECAR_NAMES:
        return "the labels sidecar itself, not a data file"
    if not target.is_file():
        return "no such file in the data folder"
    return None


def _read(path: str) -> list[dict]:
    from ..errors import DataError

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in reader.fieldnames or []]
            rows = [{(k or "").strip(): v for k, v in rec.items()} for rec in reader]
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; give the CSV with path and label columns.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path} could not be read as a UTF-8 CSV file ({exc}).") from None
    missing = [c for c in ("path", "label") if c not in fields]
    if missing:
        raise DataError(f"{path} has no {' or '.join(missing)} column; it needs columns path and label "
                        "(and reason for excluded files).")
    return rows


def _csv(rows: list[dict]) -> str:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=QUEUE_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _list(what: str, items: list[tuple[str, str]]) -> None:
    if items:
        print(f"\n{len(items)} {what}:", file=sys.stderr)
        for where, why in items:
            print(f"  {where}: {why}", file=sys.stderr)


def _progress(msg) -> None:
    print(f"\rScoring files: {msg.done}/{msg.total}", end="", file=sys.stderr, flush=True)
