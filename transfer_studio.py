"""`transfer-studio` dispatcher: no arguments opens the GUI, a subcommand runs headless.

It imports neither torch nor Qt until it knows which side it needs.
"""
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("gui", "--gui"):
        from gui.app import main as gui_main
        return gui_main(argv[1:] if argv else [])
    from engine.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
