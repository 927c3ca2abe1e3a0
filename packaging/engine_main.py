"""Entry point of the frozen `transfer-studio-engine` executable (a console program).

In development the app runs `python -m engine`; in the bundle there is no `python`, so
this one executable stands in for every way the project starts a Python process:

- no arguments, or engine options (`--self-test`, ...): the engine, as `python -m engine`;
- `-m MODULE ARGS`: one of the modules the engine itself starts as a subprocess with
  `[sys.executable, "-m", ...]` (e.g. the weights converter); others are refused;
- a CLI command (`train`, `inspect`, `predict`, ...): the headless command line, as
  `transfer-studio COMMAND` (the GUI executable is windowed: it has no console on Windows).

It is a console program on purpose: the engine speaks its protocol on the real stdout.
"""
from __future__ import annotations

import multiprocessing
import sys

# tests/test_packaging.py checks every `[sys.executable, "-m", ...]` in engine/ is listed here.
RUNNABLE_MODULES = ("engine", "engine.library.convert", "engine.cli")  # engine.cli: train --gpus N (train/launch.py)


def route(argv: list[str]) -> tuple[str, str, list[str]]:
    """(kind, target, args) for a command line: kind is "engine", "module", "cli" or "error"."""
    if argv[:1] == ["-m"]:
        if len(argv) < 2:
            return "error", "", ["-m needs a module name"]
        module = argv[1]
        if module not in RUNNABLE_MODULES:
            return "error", module, [f"this program runs only {', '.join(RUNNABLE_MODULES)} with -m, not {module!r}"]
        if module == "engine":
            return "engine", "engine", argv[2:]
        return "module", module, argv[2:]
    if argv and not argv[0].startswith("-"):
        return "cli", "engine.cli", argv
    return "engine", "engine", argv


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # DataLoader workers under the spawn start method (Windows, macOS)
    argv = sys.argv[1:] if argv is None else list(argv)
    kind, target, args = route(argv)
    if kind == "error":
        print(f"transfer-studio-engine: {args[0]}", file=sys.stderr)
        return 2
    if kind == "module":
        import runpy

        sys.argv = [target, *args]
        runpy.run_module(target, run_name="__main__", alter_sys=True)  # such modules end in sys.exit()
        return 0
    if kind == "cli":
        from engine.cli import main as cli_main

        return cli_main(args)
    from engine.__main__ import main as engine_main

    return engine_main(args)


if __name__ == "__main__":
    sys.exit(main())
