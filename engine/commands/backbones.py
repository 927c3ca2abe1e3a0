"""`transfer-studio backbones`: list the registered backbones and whether their weights are here.

Fast by design: it reads the plain-data registry and looks at files; it imports no torch.
"""
from __future__ import annotations

import argparse
import json

from engine.backbones import library_root, list_backbones


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="also list the hidden test entries")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")


def _params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _input(item: dict) -> str:
    pre = item["preprocess"]
    if item["modality"] == "image":
        return f"{pre['input_size']} px" + (" (fixed)" if item["fixed_input_size"] else "")
    return f"{pre['max_length']} tokens"


def _weights(item: dict) -> str:
    status = item["weights_status"]
    if status["where"] == "random":
        return "random init (test entry)"
    if status["available"]:
        return f"found at {status['path']}"
    return "missing — bring them in with --weights FILE or the model library"


def format_table(items: list[dict]) -> str:
    header = ("id", "modality", "params", "input", "licence", "weights")
    rows = [header] + [(i["id"], i["modality"], _params(i["num_params"]), _input(i), i["license"], _weights(i))
                       for i in items]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    items = list_backbones(include_hidden=args.all)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    print(format_table(items))
    print(f"\nModel library: {library_root()}  (params count the backbone without its head)")
    return 0
