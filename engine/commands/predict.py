"""`transfer-studio predict`: top-k labels for files and folders with a bundle or run."""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, metavar="PATH", help="a saved bundle (.tsbundle) or a run directory")
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files or folders (searched recursively)")
    p.add_argument("--text", action="append", default=[], help="a text to classify (text models; repeatable)")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to list per input (default 3)")
    p.add_argument("--out", metavar="FILE.csv", help="write path, top-k labels and probabilities to a CSV file")
    p.add_argument("--json", action="store_true", help="print one JSON object per input")


def write_csv(path: str, rows: list[dict], k: int) -> None:
    """path, decision, label_1, probability_1, ..., error — one row per input, unreadable ones included (prediction_csv.py)."""
    from ..prediction_csv import write_csv as write

    write(path, rows, k)


def run(args) -> int:
    from ..bundle.reader import open_predictor
    from ..errors import BundleError

    if not args.inputs and not args.text:
        raise BundleError("Name at least one file or folder to predict (or --text for a text model).")
    k = max(1, int(args.top_k))
    predictor = open_predictor(args.model)
    rows = predictor.predict_paths(args.inputs, top_k=k) if args.inputs else []
    if args.text:
        probs = predictor.predict_texts(args.text)
        rows += [predictor.row(f"text: {t[:40]}", p, k) for t, p in zip(args.text, probs)]
    good = [r for r in rows if "top" in r]
    bad = [r for r in rows if "error" in r]
    if args.out:
        write_csv(args.out, rows, min(k, len(predictor.classes)))
    if args.json:
        for r in rows:
            print(json.dumps(r))
    else:
        width = max([len(r["path"]) for r in good] + [4])
        dw = max([len(r["decision"]) for r in good] + [len("decision")])
        if good:
            from ..bundle.decision import describe

            print(describe(predictor.rule, predictor.classes), file=sys.stderr)
            print(f"{'file':<{width}}  {'decision':<{dw}}  probabilities")
        for r in good:
            print(f"{r['path']:<{width}}  {r['decision']:<{dw}}  " + "  ".join(f"{label} {p:6.1%}" for label, p in r["top"]))
        if bad:
            print(f"\n{len(bad)} input(s) could not be read:", file=sys.stderr)
            for r in bad:
                print(f"  {r['path']}: {r['error']}", file=sys.stderr)
        if args.out:
            print(f"\nWrote {len(rows)} row(s) to {args.out}", file=sys.stderr)
    return 0 if good else 1
