"""`transfer-studio evaluate`: score a bundle or run on a labeled folder (or a run on its own splits)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..evaluate.operating import METHODS


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, metavar="PATH", help="a saved bundle (.tsbundle) or a run directory")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="labeled folder(s) or CSV to score; without it a run is scored on its validation/test splits")
    p.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="with --data: score only this split of a folder that has train/val/test subfolders")
    p.add_argument("--site", metavar="NAME", help="with --data: the second site's name in tables (default: the "
                   "folder's name)")
    p.add_argument("--subgroups", metavar="FILE.csv",
                   help="a CSV 'path,attribute,...' (sex, age band, site, scanner...): figures per subgroup of the "
                        "test split (a run) or of --data")
    g = p.add_argument_group("decision (binary models; chosen on the validation split, never on test)")
    g.add_argument("--positive", metavar="NAME", help="the positive class (default: a class named like normal/"
                   "negative/benign/healthy/control is the negative one, else the smaller class is positive)")
    g.add_argument("--threshold-method", choices=METHODS, default=None,
                   help="how the threshold is chosen on validation: youden (default), sensitivity or specificity "
                        "(reach --target), cost (--cost-ratio)")
    g.add_argument("--target", type=float, metavar="0.9", help="target sensitivity or specificity (default 0.9)")
    g.add_argument("--cost-ratio", type=float, metavar="R",
                   help="how many false alarms one missed positive costs (method cost; default 1)")
    g.add_argument("--no-calibration", action="store_true", help="do not fit a temperature on validation")
    p.add_argument("--out", metavar="FILE", help="also write the metrics as JSON to FILE")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of tables")


def status_printer(msg) -> None:
    """Phase changes on stderr, so stdout holds only the results."""
    from .. import protocol

    if isinstance(msg, protocol.Status) and msg.detail:
        print(f"[{msg.phase}] {msg.detail}", file=sys.stderr)


def options_from(args, run_dir: Path | None):
    """The decision Options the command line asks for, on top of the run's saved ones (None: unchanged)."""
    from ..evaluate.cached import read_options
    from ..evaluate.clinical import Options

    asked = {"positive": args.positive, "method": args.threshold_method, "target": args.target,
             "cost_ratio": args.cost_ratio}
    asked = {k: v for k, v in asked.items() if v is not None}
    if args.no_calibration:
        asked["calibrate"] = False
    if not asked:
        return None
    base = read_options(run_dir).to_dict() if run_dir is not None else {}
    return Options.from_dict({**base, **asked})


def run(args) -> int:
    from ..atomic import write_json
    from ..errors import BundleError
    from ..evaluate import evaluate_folder, evaluate_run, format_score
    from ..evaluate.cached import OPTIONS_FILE

    model = Path(args.model)
    if args.data:
        options = options_from(args, model) if (model / "model.json").is_file() else None
        if options is not None:
            from ..evaluate.cached import reconsider

            reconsider(model, options)  # the rule the second site is read under
        result = evaluate_folder(model, args.data, reporter=status_printer, split=args.split, site=args.site,
                                 subgroups=args.subgroups)
        sections = [("Scores on " + ", ".join(args.data), result["folder"])]
    elif (model / "model.json").is_file():
        options = options_from(args, model)
        if args.subgroups:
            from ..evaluate.audits import remember_subgroups
            from ..evaluate.subgroups import read_attributes

            read_attributes(args.subgroups)  # a clear sentence now if it cannot be read
            remember_subgroups(model, args.subgroups)
        result = evaluate_run(model, reporter=status_printer, options=options)
        if options is not None:
            write_json(model / OPTIONS_FILE, options.to_dict())  # export and the app use this rule
        sections = [("Validation", result["val"]), ("Test", result["test"])]
    elif (model / "manifest.json").is_file():
        from ..bundle import verify_bundle

        if args.subgroups or options_from(args, None) is not None:
            raise BundleError("A saved bundle keeps the rule it was exported with and no held-out predictions: give "
                              "--data FOLDER to score it (with --subgroups), or use the run to choose a new rule.")
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
        from ..evaluate.clinical_text import format_audits, format_clinical

        if result.get("clinical"):
            print("\n" + format_clinical(result["clinical"]))
        audits = format_audits(result)
        if audits:
            print("\n" + audits)
        for bad in result.get("unreadable") or []:
            print(f"not scored (unreadable): {bad['path']}: {bad['error']}", file=sys.stderr)
    return 0
