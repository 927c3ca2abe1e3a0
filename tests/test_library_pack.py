"""Model packs: manifest written on the connected side, every hash verified before import.

The real download (torchvision / timm / huggingface_hub APIs) needs internet and is not
exercised here; a fake downloader writes what they would write.
"""
import json

import pytest
import torch
from safetensors.torch import save_file

import engine.library as lib
from engine import audit
from engine.backbones import build_model, get_spec
from engine.errors import BackboneError, WeightsError
from engine.library.pack import build_pack, verify_pack
from tests.test_library import in_process_convert, lib_env  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _convert_here(in_process_convert):
    """These tests are about the pack; isolation of the converter is tested in test_library."""


def fake_download(spec, dest):
    torch.manual_seed(0)
    save_file(build_model(spec, 1000, weights=None).state_dict(), str(dest / "model.safetensors"))
    (dest / "LICENSE").write_text("Apache-2.0\n")


def test_pack_manifest_lists_every_file_with_its_sha256(lib_env, tmp_path):
    manifest_path = build_pack(["test_tiny_cnn"], tmp_path / "pack", downloader=fake_download)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == "transfer-studio-model-pack"
    (entry,) = manifest["entries"]
    assert entry["id"] == "test_tiny_cnn" and entry["kind"] == "safetensors" and entry["license"] == "Apache-2.0"
    folder = tmp_path / "pack" / "test_tiny_cnn"
    assert entry["files"] == {name: {"sha256": audit.sha256_file(folder / name),
                                     "bytes": (folder / name).stat().st_size}
                              for name in ("LICENSE", "model.safetensors")}
    assert (tmp_path / "pack" / "README.txt").is_file()
    with pytest.raises(WeightsError, match="already holds a model pack"):
        build_pack(["test_tiny_cnn"], tmp_path / "pack", downloader=fake_download)
    with pytest.raises(BackboneError, match="Unknown backbone"):
        build_pack(["no_such_net"], tmp_path / "pack2", downloader=fake_download)
    assert not (tmp_path / "pack2").exists()


def test_pack_imports_on_the_offline_side(lib_env, tmp_path):
    build_pack(["test_tiny_cnn"], tmp_path / "pack", downloader=fake_download)
    result = lib.import_path(tmp_path / "pack")
    assert [e["id"] for e in result["entries"]] == ["test_tiny_cnn"]
    entry = result["entries"][0]
    assert entry["source"]["type"] == "pack" and entry["license"] == "Apache-2.0"
    assert (lib_env / "test_tiny_cnn" / "model.safetensors").is_file()
    again = lib.import_path(tmp_path / "pack")
    assert again["entries"] == [] and again["skipped"][0]["id"] == "test_tiny_cnn"


def test_a_flipped_byte_refuses_the_pack_naming_the_file(lib_env, tmp_path):
    build_pack(["test_tiny_cnn"], tmp_path / "pack", downloader=fake_download)
    f = tmp_path / "pack" / "test_tiny_cnn" / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"test_tiny_cnn/model\.safetensors .*does not match its sha256"):
        lib.import_path(tmp_path / "pack")
    assert not lib_env.exists() or not list(lib_env.iterdir())
    assert not [r for r in audit.read_log() if r["event"] == "import"]


def test_missing_file_and_escaping_names_are_refused(tmp_path):
    build_pack(["test_tiny_cnn"], tmp_path / "pack", downloader=fake_download)
    (tmp_path / "pack" / "test_tiny_cnn" / "LICENSE").unlink()
    with pytest.raises(WeightsError, match=r"test_tiny_cnn/LICENSE is missing"):
        verify_pack(tmp_path / "pack")
    manifest = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    manifest["entries"][0]["files"] = {"../../etc/passwd": {"sha256": "0" * 64}}
    (tmp_path / "pack" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="outside its folder"):
        verify_pack(tmp_path / "pack")
