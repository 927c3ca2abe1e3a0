"""`python -m engine`: the engine process the app talks to over stdin/stdout.

The first thing it does is take file descriptor 1 for the protocol alone: the real
stdout is duplicated to a private descriptor and fd 1 is pointed at stderr, before torch
or any other library is imported. A stray `print`, a C library's chatter, or a forked
DataLoader worker therefore lands on stderr and can never corrupt the protocol stream.

`python -m engine --self-test` checks an installation end to end instead (see selftest).
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys


def claim_stdout() -> io.TextIOWrapper:
    """Return a private text stream on the original stdout; fd 1 now writes to stderr."""
    if sys.stdout is not None:
        sys.stdout.flush()
    proto_fd = os.dup(1)  # not inheritable: child processes never see the protocol pipe
    os.dup2(2, 1)
    if sys.stdout is not None:
        sys.stdout.reconfigure(line_buffering=True)
    return io.TextIOWrapper(io.FileIO(proto_fd, "w"), encoding="utf-8", newline="\n", write_through=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine",
                                     description="Transfer Studio's engine: JSON Lines on stdin/stdout.")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation end to end (handshake, a one-epoch run, save, reload, predict)")
    parser.add_argument("--data", help="labeled folder for --self-test (default: the bundled demo data)")
    parser.add_argument("--backbone", default="auto", help="backbone for --self-test (default: the starter)")
    args = parser.parse_args(argv)

    from .offline import enforce_offline_env

    enforce_offline_env()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # library warnings reach stderr and the run's log.txt
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test(data=args.data, backbone=args.backbone)

    out = claim_stdout()
    from .server import serve

    code = serve(out, sys.stdin.buffer)
    # Exit now, without waiting for a run thread stuck in a library call: no orphan keeps the GPU.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
