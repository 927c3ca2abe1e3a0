"""Headless command line: `transfer-studio <command> ...`.

Each command lives in `engine/commands/<name>.py` with `add_arguments(parser)` and
`run(args) -> int`; this dispatcher imports only the one that is asked for, so
`transfer-studio --help` and argument errors never import torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "inspect": "Check a folder of labeled data and print its health report.",
    "train": "Fine-tune a backbone on a folder of labeled data.",
    "recipe": "Show what the auto recipe would choose for a folder of data, and why (trains nothing).",
    "evaluate": "Score a saved model on a labeled folder.",
    "predict": "Predict labels for files with a saved model.",
    "explain": "Show what a saved model looked at: Grad-CAM overlays (images) or word scores (text).",
    "backbones": "List the registered backbones and whether their weights are here.",
    "export": "Save a trained run as a self-describing model bundle.",
    "report": "Write a self-contained HTML evaluation report of a run or bundle.",
    "library": "Manage the offline model library (list, import, verify, remove).",
    "pack": "On a connected machine, download backbones into a model pack.",
    "label": "Label a folder with the model in the loop: 'suggest' what to label next, 'apply' labels from a CSV, 'rename' a class.",
    "lr-find": "Find a learning rate: the range test (Smith 2017) on your data, backbone and freezing.",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transfer-studio",
                                description="Transfer Studio: adapt a pretrained model to your labeled data, offline.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return p


def command_module(name: str) -> str:
    """The module that runs a command ("lr-find" -> engine.commands.lr_find)."""
    return f"engine.commands.{name.replace('-', '_')}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        if argv and argv[0] not in ("-h", "--help"):
            parser.error(f"unknown command {argv[0]!r}; choose from {', '.join(COMMANDS)}")
        parser.print_help()
        return 0
    name = argv[0]
    module = importlib.import_module(command_module(name))
    sub = argparse.ArgumentParser(prog=f"transfer-studio {name}", description=COMMANDS[name])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    args.argv = argv  # `train --gpus N` starts this same command again in N processes
    from engine.errors import EngineError
    from engine.config import ConfigError
    try:
        return int(module.run(args) or 0)
    except (EngineError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `transfer-studio backbones --json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
