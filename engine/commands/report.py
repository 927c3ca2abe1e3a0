"""`transfer-studio report`: one self-contained HTML evaluation report of a run or bundle."""
from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("model", metavar="RUN_OR_BUNDLE", help="a training run folder or a saved bundle (.tsbundle)")
    p.add_argument("--out", required=True, metavar="report.html", help="where to write the report")


def run(args) -> int:
    from ..report import write_report

    path = write_report(args.model, args.out)
    print(f"Wrote {path} (open it in a browser; print it to PDF from there or with the app's Save report…)")
    return 0
