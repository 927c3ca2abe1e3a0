"""`transfer-studio pack BACKBONE... --out DIR`: on a connected machine, download weights into a model pack.

This is the only command that uses the network. Carry DIR to the offline machine and
run `transfer-studio library import DIR`; every file is checked against the pack's
sha256 manifest before it is used.
"""
from __future__ import annotations

import sys


def add_arguments(p) -> None:
    p.add_argument("backbones", nargs="+", metavar="BACKBONE", help="registry ids (see `transfer-studio backbones`)")
    p.add_argument("--out", required=True, metavar="DIR", help="an empty folder for the pack")


def run(a) -> int:
    from engine.library.pack import build_pack

    manifest = build_pack(a.backbones, a.out, reporter=lambda text: print(text, file=sys.stderr))
    print(f"model pack written: {manifest.parent} (manifest {manifest.name}); on the offline machine run:\n"
          f"  transfer-studio library import {manifest.parent}")
    return 0
