"""`transfer-studio export`: save a trained run as a self-describing, verified bundle folder."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run's folder under runs/")
    p.add_argument("--out", metavar="NAME.tsbundle", help="bundle folder to write (default: ./<run name>.tsbundle)")
    p.add_argument("--which", choices=("best", "last"), default="best", help="which checkpoint to save")


def run(args) -> int:
    from ..bundle import save_bundle
    from .evaluate import status_printer

    out = Path(args.out) if args.out else Path.cwd() / f"{Path(args.run_dir).resolve().name}.tsbundle"
    path = save_bundle(args.run_dir, out, which=args.which, reporter=status_printer)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    parity = manifest["onnx"]["parity"]
    print(f"Saved {path}")
    print(f"  ONNX check: largest probability difference {parity['max_abs_prob_diff']:.1e} over "
          f"{parity['examples']} {parity['split']} examples (limit {parity['limit']:.0e})")
    print(f"  Model card: {path / 'MODEL_CARD.md'}")
    print(f"  Predict without the app: python {path / 'predict.py'} FILE_OR_FOLDER", file=sys.stdout)
    return 0
