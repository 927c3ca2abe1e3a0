"""Test set-up: offscreen Qt, no network, fixed seeds, small shared fixtures."""
import os
import socket
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Tests never touch the user's real data dir (library, audit log) or settings.
import tempfile as _tempfile

_SESSION_DATA = _tempfile.mkdtemp(prefix="ts-test-data-")
os.environ.setdefault("TRANSFER_STUDIO_DATA", _SESSION_DATA)
os.environ.setdefault("TRANSFER_STUDIO_LIBRARY", os.path.join(_SESSION_DATA, "library"))
os.environ.setdefault("TRANSFER_STUDIO_CONFIG_DIR", os.path.join(_SESSION_DATA, "config"))

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEMO = ROOT / "resources" / "demo"


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open an internet socket fails the test loudly."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkBlocked(f"network access attempted: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(NetworkBlocked(f"create_connection{a!r}")))
    yield


@pytest.fixture
def demo_dir():
    return DEMO
