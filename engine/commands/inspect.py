"""`transfer-studio inspect DIR [DIR...]`: check labeled data and print its health report."""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", metavar="DIR",
                   help="folders with one subfolder per class (or train/val/test split folders), "
                        "or CSV/TSV tables with text and label columns")
    p.add_argument("--json", action="store_true", help="print the full report as JSON instead of text")
    p.add_argument("--text-column", default=None, help="table column holding the text (default: detect)")
    p.add_argument("--label-column", default=None, help="table column holding the label (default: detect)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of each class held out for validation")
    p.add_argument("--test-fraction", type=float, default=0.15, help="share of each class held out for testing")
    p.add_argument("--seed", type=int, default=0, help="seed of the split")
    from .train import add_group_arguments

    add_group_arguments(p)


class _Progress:
    """A one-line progress counter on stderr, only when it is a terminal."""

    def __init__(self):
        self.shown = False

    def __call__(self, msg) -> None:
        if getattr(msg, "TYPE", "") == "progress" and sys.stderr.isatty():
            sys.stderr.write(f"\rChecking files: {msg.step}/{msg.steps}")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run(args) -> int:
    from engine.data import format_report, scan
    from engine.errors import DataError

    progress = _Progress()
    try:
        ds = scan(args.paths, val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed,
                  text_column=args.text_column, label_column=args.label_column, reporter=progress,
                  group_by=args.group_by, groups_file=args.groups, group_pattern=args.group_pattern)
    except DataError as exc:
        progress.done()
        if args.json and getattr(exc, "report", None):
            print(json.dumps(exc.report, indent=2))
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        raise
    progress.done()
    report = ds.report.to_dict()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        sys.stdout.write(format_report(report))
    return 0
