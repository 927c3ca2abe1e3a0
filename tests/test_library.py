"""Importing state-dict files into the model library: conversion, checks, refusals, removal, audit."""
import os
import pickle
import zipfile

import pytest
import torch
from safetensors.torch import load_file, save_file

import engine.library as lib
from engine import audit
from engine.backbones import build_model, get_spec
from engine.errors import WeightsError
from engine.library import convert, store


@pytest.fixture
def lib_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("TRANSFER_STUDIO_LIBRARY", str(tmp_path / "data" / "library"))
    return tmp_path / "data" / "library"


@pytest.fixture
def in_process_convert(monkeypatch):
    """Run the converter in this process (for tests about the library, not about isolation)."""
    from engine.library import importer

    def run(src, out_dir, *, out_name="model.safetensors", expect=None, check_only=False, timeout=None):
        try:
            return convert.convert(src, out_dir, out_name, expect, check_only)
        except convert.Refused as exc:
            raise WeightsError(str(exc)) from None

    monkeypatch.setattr(importer, "run_convert", run)


def tiny_state(num_classes=1000, seed=0):
    torch.manual_seed(seed)
    return build_model(get_spec("test_tiny_cnn"), num_classes, weights=None).state_dict()


class Payload:
    """Pickles as a call to os.system: what a booby-trapped weights file does."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


# ------------------------------------------------------------------ full import path (subprocess)
def test_pth_with_wrapper_and_prefix_imports_as_checked_safetensors(lib_env, tmp_path):
    sd = tiny_state(num_classes=7)
    src = tmp_path / "tiny.pth"
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in sd.items()}}, src)

    result = lib.import_path(src, "test_tiny_cnn")

    entry = result["entries"][0]
    folder = lib_env / "test_tiny_cnn"
    assert sorted(p.name for p in folder.iterdir()) == ["entry.json", "model.safetensors"]
    assert entry["files"]["model.safetensors"]["sha256"] == audit.sha256_file(folder / "model.safetensors")
    assert entry["source"]["type"] == "file" and entry["source_format"] == "pickle-zip"
    assert entry["fit"]["head_differs"] and entry["fit"]["file_num_classes"] == 7
    loaded = load_file(str(folder / "model.safetensors"))
    assert set(loaded) == set(sd)
    assert all(torch.equal(loaded[k], sd[k]) for k in sd)
    model = build_model(get_spec("test_tiny_cnn"), 7, weights=None)
    model.load_state_dict(loaded, strict=True)
    # the registry finds it in the library
    auto = build_model(get_spec("test_tiny_cnn"), 3, weights=str(folder / "model.safetensors"))
    assert torch.equal(auto.state_dict()["conv_stem.weight"], sd["conv_stem.weight"])
    rec = [r for r in audit.read_log() if r["event"] == "import"]
    assert len(rec) == 1 and rec[0]["id"] == "test_tiny_cnn" and rec[0]["user"]
    assert rec[0]["files"]["model.safetensors"] == entry["files"]["model.safetensors"]["sha256"]
    assert rec[0]["source_sha256"]["tiny.pth"] == audit.sha256_file(src)


@pytest.mark.parametrize("fmt", ["zip", "legacy", "raw-pickle"])
def test_reduce_payload_is_refused_and_never_runs(lib_env, tmp_path, fmt):
    sentinel = tmp_path / f"SENTINEL-{fmt}"
    evil = {"conv_stem.weight": torch.zeros(2), "x": Payload(f"touch {sentinel}")}
    src = tmp_path / f"evil-{fmt}.pt"
    if fmt == "zip":
        torch.save(evil, src)
    elif fmt == "legacy":
        torch.save(evil, src, _use_new_zipfile_serialization=False)
    else:  # a bare pickle (protocol 2, which the weights-only unpickler parses up to the global)
        src.write_bytes(pickle.dumps({"w": [1.0], "x": Payload(f"touch {sentinel}")}, protocol=2))

    with pytest.raises(WeightsError, match=r"asks to run code \(\w+\.system\).*never allows"):
        lib.import_path(src, "test_tiny_cnn")

    assert not sentinel.exists()
    assert not lib_env.exists() or not [p for p in lib_env.iterdir()]  # no entry, no staging leftovers
    assert not [r for r in audit.read_log() if r["event"] == "import"]


def test_the_payload_in_that_test_is_live(tmp_path):
    """Control: the same file loaded without weights_only really runs the command."""
    sentinel = tmp_path / "CONTROL"
    src = tmp_path / "evil.pt"
    torch.save({"x": Payload(f"touch {sentinel}")}, src)
    torch.load(src, weights_only=False)  # the unsafe way the app never uses
    assert sentinel.exists()


def test_file_for_another_architecture_is_refused_naming_tensors(lib_env, tmp_path):
    src = tmp_path / "other.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4, 2)).state_dict(), src)
    with pytest.raises(WeightsError, match=r"other\.pth does not fit test_tiny_cnn: .*not in it \(e\.g\. conv_stem"):
        lib.import_path(src, "test_tiny_cnn")
    assert not (lib_env / "test_tiny_cnn").exists()


def test_existing_entry_needs_replace_then_remove_is_audited(lib_env, tmp_path, in_process_convert):
    src = tmp_path / "tiny.safetensors"
    save_file(tiny_state(seed=1), str(src))
    lib.import_path(src, "test_tiny_cnn")
    first = store.get_entry("test_tiny_cnn")
    with pytest.raises(WeightsError, match="already in the model library.*--replace"):
        lib.import_path(src, "test_tiny_cnn")
    save_file(tiny_state(seed=2), str(src))
    lib.import_path(src, "test_tiny_cnn", replace=True)
    second = store.get_entry("test_tiny_cnn")
    assert second["files"]["model.safetensors"]["sha256"] != first["files"]["model.safetensors"]["sha256"]
    assert second["source_format"] == "safetensors"

    rows = lib.list_items(verify=True)
    assert [(r["id"], r["hashes_ok"], r["license"]) for r in rows] == [("test_tiny_cnn", True, "Apache-2.0")]
    assert rows[0]["size_bytes"] == (lib_env / "test_tiny_cnn" / "model.safetensors").stat().st_size

    lib.remove("test_tiny_cnn")
    assert not (lib_env / "test_tiny_cnn").exists()
    events = [r["event"] for r in audit.read_log()]
    assert events == ["import", "import", "delete"]
    assert audit.read_log()[-1]["files"]["model.safetensors"] == second["files"]["model.safetensors"]["sha256"]
    with pytest.raises(WeightsError, match="not in the model library"):
        lib.remove("test_tiny_cnn")


def test_tampered_library_file_is_reported(lib_env, tmp_path, in_process_convert):
    src = tmp_path / "tiny.safetensors"
    save_file(tiny_state(), str(src))
    lib.import_path(src, "test_tiny_cnn")
    f = lib_env / "test_tiny_cnn" / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[-1] ^= 1
    f.write_bytes(bytes(data))
    assert lib.list_items()[0]["hashes_ok"] is None  # quick listing: size unchanged, not re-hashed
    row = lib.list_items(verify=True)[0]
    assert row["hashes_ok"] is False and "model.safetensors" in row["problem"]
    assert "does not match its sha256" in lib.verify()["test_tiny_cnn"]


def test_unguessable_name_asks_for_the_backbone(lib_env, tmp_path):
    src = tmp_path / "weights.pth"
    src.write_bytes(b"whatever")
    with pytest.raises(Exception, match=r"Could not tell which backbone weights\.pth is for.*--as"):
        lib.import_path(src)


# ------------------------------------------------------------------ the converter's checks (in-process)
def _convert(src, tmp_path, **kw):
    return convert.convert(src, tmp_path / "out", **kw)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated, but such files exist
def test_torchscript_archive_is_refused_before_loading(tmp_path):
    src = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(src))
    with pytest.raises(convert.Refused, match="TorchScript archive"):
        _convert(src, tmp_path)


def test_whole_pickled_module_is_refused(tmp_path):
    src = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), src)
    with pytest.raises(convert.Refused, match=r"whole pickled model object \(torch\.nn\.modules\.linear\.Linear\)"):
        _convert(src, tmp_path)


def test_non_dict_contents_are_refused(tmp_path):
    src = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), src)
    with pytest.raises(convert.Refused, match="holds a Tensor, not a state dict"):
        _convert(src, tmp_path)


def test_nan_or_inf_is_refused_naming_the_tensor(tmp_path):
    sd = {"a.weight": torch.ones(3), "b.weight": torch.tensor([1.0, float("inf")])}
    src = tmp_path / "bad.pth"
    torch.save(sd, src)
    with pytest.raises(convert.Refused, match=r"NaN or infinite values in b\.weight"):
        _convert(src, tmp_path)


def test_other_zip_files_and_garbage_are_refused(tmp_path):
    z = tmp_path / "archive.pt"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "hello")
    with pytest.raises(convert.Refused, match="zip archive but not a PyTorch weights file"):
        _convert(z, tmp_path)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01not a pickle at all")
    with pytest.raises(convert.Refused, match=r"junk\.bin could not be read safely as plain weights"):
        _convert(junk, tmp_path)
    truncated = tmp_path / "cut.pth"
    torch.save({"w": torch.ones(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:-300])
    with pytest.raises(convert.Refused, match=r"cut\.pth"):
        _convert(truncated, tmp_path)


def test_nested_and_shared_tensors_are_saved_flat(tmp_path):
    w = torch.randn(4, 4)
    src = tmp_path / "nested.pt"
    torch.save({"model": {"enc": {"w": w, "tied": w}, "step": 5}}, src)
    report = _convert(src, tmp_path)
    assert report["wrapper"] == "model"
    out = load_file(report["file"])
    assert set(out) == {"enc.w", "enc.tied"} and torch.equal(out["enc.tied"], w)


def test_cli_import_verify_remove(lib_env, tmp_path, capsys, in_process_convert):
    from engine.cli import main

    src = tmp_path / "tiny.safetensors"
    save_file(tiny_state(), str(src))
    assert main(["library", "import", str(src), "--as", "test_tiny_cnn"]) == 0
    assert "imported test_tiny_cnn" in capsys.readouterr().out
    assert main(["library", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "test_tiny_cnn: hashes OK"
    (lib_env / "test_tiny_cnn" / "model.safetensors").write_bytes(b"tampered")
    assert main(["library", "verify", "test_tiny_cnn"]) == 1
    assert "test_tiny_cnn: model.safetensors in library entry test_tiny_cnn changed size" in capsys.readouterr().out
    assert main(["library", "remove", "test_tiny_cnn"]) == 0
    assert main(["library", "remove", "test_tiny_cnn"]) == 2
    assert "not in the model library" in capsys.readouterr().err
    assert main(["library", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(lib_env)
