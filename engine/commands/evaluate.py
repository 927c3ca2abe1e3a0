"""`transfer-studio evaluate`: score a bundle or run on a labeled folder (or a run on its own splits)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, metavar="PATH", help="a saved bundle (.tsbundle) or a run directory")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="labeled folder(s) or CSV to score; without it a run is scored on its validation/test splits")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="with --data: score only this split of a folder that has train/val/test subfolders")
    p.add_argument("--out", metavar="FILE", help="also write the metrics as JSON to FILE")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of tables")


def status_printer(msg) -> None:
    """Phase changes on stderr, so stdout holds only the results."""
    from .. import protocol

    if isinstance(msg, protocol.Status) and msg.detail:
        print(f"[{msg.phase}] {msg.detail}", file=sys.stderr)


def run(args) -> int:
    from ..atomic import write_json
    from ..errors import BundleError
    from ..evaluate import evaluate_folder, evaluate_run, format_score

    model = Path(args.model)
    if args.data:
        result = evaluate_folder(model, args.data, reporter=status_printer, split=args.split)
        sections = [("Scores on " + ", ".join(args.data), result["folder"])]
    elif (model / "model.json").is_file():
        result = evaluate_run(model, reporter=status_printer)
        sections = [("Validation", result["val"]), ("Test", result["test"])]
    elif (model / "manifest.json").is_file():
        from ..bundle import verify_bundle

        verify_bundle(model)
        result = json.loads((model / "metrics.json").read_text(encoding="utf-8"))
        sections = [("Validation (at export)", result.get("val")), ("Test (at export)", result.get("test"))]
    else:
        raise BundleError(f"{model} is neither a saved model bundle nor a training run; "
                          "pick a .tsbundle folder or a folder under runs/.")
    if args.out:
        write_json(args.out, result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n\n".join(format_score(s, title) for title, s in sections))
        for bad in result.get("unreadable") or []:
            print(f"not scored (unreadable): {bad['path']}: {bad['error']}", file=sys.stderr)
    return 0
