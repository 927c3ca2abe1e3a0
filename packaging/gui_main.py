"""Entry point of the frozen `transfer-studio` executable (windowed): the desktop app.

Same options as `transfer-studio gui` (`--demo`, `--data FOLDER`, ...); a leading `gui`
is accepted so scripts written for the development command work unchanged. The engine
is found next to this executable (gui/engine_client.py `default_program`).

With TRANSFER_STUDIO_SMOKE_PROBE=SECONDS in the environment (packaging/smoke_test.py),
the app reports its own view of the engine on stdout: `probe: engine-ready ...` once the
engine it started has loaded torch, then it keeps running SECONDS longer and quits with
exit code 0, or quits at once with a non-zero code if the engine crashes or reports an
error; either way it closes the window first, which stops the engine as usual.
Nothing changes without that variable.
"""
from __future__ import annotations

import multiprocessing
import os
import sys

PROBE_ENV = "TRANSFER_STUDIO_SMOKE_PROBE"


def install_smoke_probe(app, linger_s: float) -> None:
    """Watch the window's engine client; print what it sees and end the app (see module doc)."""
    from PySide6.QtCore import QTimer

    from gui.engine_client import EngineClient

    def say(text: str, code: int | None = None) -> None:
        print(f"probe: {text}", flush=True)
        if code is not None:
            for window in app.topLevelWidgets():  # the normal way out: the window stops its engine
                window.close()
            app.exit(code)

    def attach() -> None:  # runs on the first turn of the event loop: the window exists by then
        client = next((c for w in app.topLevelWidgets() for c in [w.findChild(EngineClient)] if c), None)
        if client is None:
            say("no engine client in the window", 5)
            return

        def on_ready(hello) -> None:
            if getattr(hello, "device", ""):  # the second hello: torch loaded, devices probed
                say(f"engine-ready device={hello.device} torch={hello.torch} pid={hello.pid}")
                QTimer.singleShot(int(linger_s * 1000), lambda: say("done", 0))

        client.ready.connect(on_ready)
        client.crashed.connect(lambda code, tail: say(f"engine-crashed code={code}: {tail[-600:]}", 3))
        client.error.connect(lambda err: say(f"engine-error {getattr(err, 'kind', '')}: "
                                             f"{getattr(err, 'message', err)}", 4))

    QTimer.singleShot(0, attach)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # never starts workers itself; harmless, and safe if a library does
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["gui"], ["--gui"]):
        argv = argv[1:]
    from gui.app import main as gui_app_main

    probe = os.environ.get(PROBE_ENV)
    if probe:
        from gui.app import make_app

        install_smoke_probe(make_app(), float(probe))
    return gui_app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
