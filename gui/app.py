"""Entry point of the desktop app: `transfer-studio gui [--demo] [--engine CMD]`.

The window is shown first; the engine process starts on the next turn of the event loop
so torch warms up while the person looks at their data. Nothing here imports torch.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transfer-studio gui", description="Open the Transfer Studio window.")
    p.add_argument("--demo", action="store_true", help="open the bundled demo images at start")
    p.add_argument("--data", action="append", default=[], metavar="FOLDER", help="open this data folder at start")
    p.add_argument("--engine", metavar="CMD", help="command line of the engine (default: python -m engine)")
    p.add_argument("--no-engine", action="store_true", help="do not start the engine (start-up benchmarks)")
    return p


def make_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Transfer Studio")
    app.setOrganizationName("transfer-studio")
    app.setApplicationDisplayName("Transfer Studio")
    app.setStyle("Fusion")  # same look everywhere; follows the system's light/dark colour scheme
    from PySide6.QtGui import QIcon

    from .window import resources_dir

    icon = resources_dir() / "icons" / "app.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))  # title bar and task bar (Windows/Linux; the bundle has its own)
    return app


def build_window(engine_cmd: str | None = None, client=None):
    """The main window with its engine client (not started)."""
    from .window import MainWindow

    if client is None:
        from .engine_client import EngineClient

        client = EngineClient(program=shlex.split(engine_cmd) if engine_cmd else None)
    window = MainWindow(client)
    client.setParent(window)
    return window


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    from PySide6.QtCore import QTimer

    app = make_app()
    window = build_window(args.engine)
    window.show()
    if not args.no_engine:
        QTimer.singleShot(0, window.session.start_engine)
    if args.demo:
        QTimer.singleShot(0, lambda: window.open_demo("images"))
    elif args.data:
        QTimer.singleShot(0, lambda: window.load_data(args.data))
    if os.environ.get("TRANSFER_STUDIO_STARTUP_PROBE"):
        # benchmarks/bench_startup.py: the first event-loop turn after show() = window on screen
        def probe():
            print(f"window-shown {time.time():.6f}", flush=True)
            window.close()
            app.quit()

        QTimer.singleShot(0, probe)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
