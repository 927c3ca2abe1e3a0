"""The saved-model bundle: layout, no pickle, verification, atomic save, and parity.

The plain-consumer tests run in a fresh process with sockets blocked and the project
off sys.path (tests/test_bundle_support.run_isolated), as a person without the app would.
"""
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import load_bundle, verify_bundle
from engine.bundle.manifest import FORBIDDEN_SUFFIXES, sha256_file
from engine.errors import BundleError
from tests.test_bundle_support import (IMAGE_CLASSES, ROOT, TEXT_CLASSES, image_bundle, image_run,  # noqa: F401
                                       make_images, run_isolated, text_bundle, text_run)

IMAGE_FILES = {"manifest.json", "model.safetensors", "model.onnx", "labels.json", "preprocess.json", "training.json",
               "decision.json",
               "metrics.json", "MODEL_CARD.md", "README.md", "predict.py"}
TEXT_FILES = IMAGE_FILES | {"config.json", "tokenizer.json", "tokenizer_config.json"}


def _copy(bundle, tmp_path):
    return shutil.copytree(bundle, tmp_path / bundle.name)


def _manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text())


def test_image_bundle_layout_and_manifest(image_bundle):
    assert {p.name for p in image_bundle.iterdir()} == IMAGE_FILES
    m = _manifest(image_bundle)
    assert (m["format"], m["format_version"], m["modality"], m["num_classes"]) == ("transfer-studio-bundle", 1, "image", 3)
    assert m["backbone"]["id"] == "test_tiny_cnn" and m["backbone"]["arch"] == "test_efficientnet"
    assert m["backbone"]["license"] == "Apache-2.0"
    for pkg in ("torch", "torchvision", "transformers", "onnxruntime"):
        assert m["versions"][pkg]
    assert set(m["files"]) == IMAGE_FILES - {"manifest.json"}
    assert all(sha256_file(image_bundle / f) == h for f, h in m["files"].items())
    parity = m["onnx"]["parity"]
    assert parity["examples"] == 6 and parity["split"] == "test"
    assert 0 <= parity["max_abs_prob_diff"] <= 1e-4 and parity["top1_agreement"] == 1.0
    assert json.loads((image_bundle / "labels.json").read_text())["classes"] == list(IMAGE_CLASSES)
    pp = json.loads((image_bundle / "preprocess.json").read_text())
    assert (pp["input_size"], pp["interpolation"], pp["crop_pct"], pp["resize_shorter_side_to"]) == (48, "bicubic", 0.9, 53)
    training = json.loads((image_bundle / "training.json").read_text())
    assert training["splits"]["test"]["examples"] == 6 and len(training["splits"]["train"]["sha256"]) == 64
    assert training["config"]["backbone"] == "test_tiny_cnn" and training["freeze"] == 0
    assert training["final_metrics"]["test"]["n"] == 6
    umask = int(next(l for l in open("/proc/self/status") if l.startswith("Umask:")).split()[1], 8)
    assert stat.S_IMODE(image_bundle.stat().st_mode) == 0o777 & ~umask  # shareable, not owner-only temp modes
    assert {stat.S_IMODE(p.stat().st_mode) for p in image_bundle.iterdir()} == {0o666 & ~umask}


def test_text_bundle_is_a_hugging_face_folder_without_pickle(text_bundle):
    assert {p.name for p in text_bundle.iterdir()} == TEXT_FILES
    config = json.loads((text_bundle / "config.json").read_text())
    assert config["id2label"] == {str(i): c for i, c in enumerate(TEXT_CLASSES)}
    assert config["label2id"] == {c: i for i, c in enumerate(TEXT_CLASSES)}
    m = _manifest(text_bundle)
    assert m["onnx"]["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert m["onnx"]["parity"]["max_abs_prob_diff"] <= 1e-4


@pytest.mark.parametrize("fixture", ["image_bundle", "text_bundle"])
def test_no_file_can_hold_pickle(fixture, request):
    bundle = request.getfixturevalue(fixture)
    from safetensors import safe_open

    names = [p.name for p in bundle.rglob("*") if p.is_file()]
    assert not [n for n in names if n.lower().endswith(FORBIDDEN_SUFFIXES)]
    with safe_open(str(bundle / "model.safetensors"), "np") as f:  # a real safetensors file
        assert len(list(f.keys())) > 10
    for n in names:
        assert n.endswith((".json", ".md", ".py", ".safetensors", ".onnx")), n


def test_loaded_bundle_predicts_like_the_run(image_bundle, image_run):
    from engine.data import load_splits
    from engine.inference import Predictor

    test = load_splits(image_run).split("test")
    from_bundle = load_bundle(image_bundle)
    assert from_bundle.classes == list(IMAGE_CLASSES)
    np.testing.assert_allclose(from_bundle.predict_proba(test), Predictor.from_run(image_run).predict_proba(test),
                               atol=1e-6)


def test_changed_file_is_refused_by_name(image_bundle, tmp_path):
    bundle = _copy(image_bundle, tmp_path)
    labels = bundle / "labels.json"
    labels.write_text(labels.read_text().replace('"blue"', '"navy"'))
    with pytest.raises(BundleError, match=r"labels\.json .* has changed since it was saved"):
        verify_bundle(bundle)
    with pytest.raises(BundleError, match=r"labels\.json"):
        load_bundle(bundle)
    done = subprocess.run([sys.executable, str(bundle / "predict.py"), str(tmp_path)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "labels.json has changed" in done.stderr


def test_missing_added_and_future_files_are_refused(image_bundle, tmp_path):
    bundle = _copy(image_bundle, tmp_path)
    (bundle / "model.onnx").unlink()
    with pytest.raises(BundleError, match=r"missing model\.onnx"):
        verify_bundle(bundle)
    bundle = _copy(image_bundle, tmp_path / "b")
    (bundle / "pytorch_model.bin").write_bytes(b"\x80\x04 not welcome")
    (bundle / ".DS_Store").write_bytes(b"finder clutter is ignored")
    with pytest.raises(BundleError, match=r"pytorch_model\.bin .* was not part of the saved model"):
        verify_bundle(bundle)
    bundle = _copy(image_bundle, tmp_path / "c")
    m = _manifest(bundle)
    m["format_version"] = 2
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="newer Transfer Studio"):
        verify_bundle(bundle)
    with pytest.raises(BundleError, match="no manifest.json"):
        verify_bundle(tmp_path)


def test_interrupted_save_leaves_no_half_bundle(image_run, image_bundle, tmp_path, monkeypatch):
    from engine.bundle import save_bundle, writer

    def crash(*a, **k):
        raise KeyboardInterrupt  # Ctrl+C during the ONNX export, after the weights and JSON files were written

    monkeypatch.setattr(writer, "export_onnx", crash)
    with pytest.raises(KeyboardInterrupt):
        save_bundle(image_run, tmp_path / "new.tsbundle")
    assert list(tmp_path.iterdir()) == []  # no final folder, no temp folder left behind
    existing = _copy(image_bundle, tmp_path)
    before = {p.name: sha256_file(p) for p in existing.iterdir()}
    with pytest.raises(KeyboardInterrupt):
        save_bundle(image_run, existing)
    assert {p.name: sha256_file(p) for p in existing.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing.name]


def test_save_refuses_to_replace_a_folder_that_is_not_a_bundle(image_run, tmp_path):
    from engine.bundle import save_bundle

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "keep.jpg").write_bytes(b"precious")
    with pytest.raises(BundleError, match="not a model bundle; choose a new name"):
        save_bundle(image_run, tmp_path / "photos")
    assert (tmp_path / "photos" / "keep.jpg").read_bytes() == b"precious"


def test_parity_gap_fails_loudly(image_bundle):
    from engine.bundle.onnx_export import check_parity

    pred = load_bundle(image_bundle)
    rng = np.random.default_rng(0)
    batch = {"pixel_values": rng.normal(size=(2, 3, 48, 48)).astype(np.float32)}
    assert check_parity(pred, image_bundle / "model.onnx", [batch])["max_abs_prob_diff"] < 1e-4
    pred.model.classifier.bias.data[0] += 2.0  # the PyTorch side drifts from the exported graph
    with pytest.raises(BundleError, match="ONNX export disagrees"):
        check_parity(pred, image_bundle / "model.onnx", [batch])


def test_predict_script_carries_the_app_preprocessing_verbatim(image_bundle, text_bundle):
    def body(rel):
        return (ROOT / rel).read_text().replace("from __future__ import annotations\n", "", 1).rstrip()

    image_script = (image_bundle / "predict.py").read_text()
    assert body("engine/bundle/preprocessing.py") in image_script
    assert body("engine/data/images.py") in image_script and "from engine" not in image_script
    text_script = (text_bundle / "predict.py").read_text()
    assert body("engine/data/text.py") in text_script and "from engine" not in text_script


def test_predict_script_standalone_matches_the_app(image_bundle, tmp_path):
    """predict.py with only onnxruntime/numpy/Pillow, network blocked, project off the path."""

    folder = make_images(tmp_path / "new", per_class=3, seed=11)
    (folder / "green" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    app = {r["path"]: r for r in load_bundle(image_bundle).predict_paths([str(folder)], top_k=3)}
    code = (f"import runpy, sys\nsys.argv = ['predict.py', {str(folder)!r}, '--json', '--csv', 'out.csv']\n"
            f"runpy.run_path({str(image_bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 9 and "broken.jpg" in done.stderr and "error" in app[str(folder / "green" / "broken.jpg")]
    for row in rows:
        ours = app[row["path"]]["top"]
        assert [c for c, _ in row["top"]] == [c for c, _ in ours]
        np.testing.assert_allclose([p for _, p in row["top"]], [p for _, p in ours], atol=1e-4)
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 11  # header + 9 + the unreadable one


def test_plain_torch_and_onnxruntime_load_the_image_bundle(image_bundle, image_run, tmp_path):
    from engine.data import load_splits
    from engine.inference import Predictor

    app = Predictor.from_run(image_run)
    x = np.stack([app._prepare(e) for e in load_splits(image_run).split("test")])
    np.save(tmp_path / "x.npy", x)
    app_probs = app._forward({"pixel_values": x})
    code = f"""
import json, numpy as np, torch, timm, onnxruntime
from safetensors.torch import load_file
b = {str(image_bundle)!r}
m = json.load(open(b + "/manifest.json"))["backbone"]
classes = json.load(open(b + "/labels.json"))["classes"]
model = timm.create_model(m["arch"], pretrained=False, num_classes=len(classes))
model.load_state_dict(load_file(b + "/model.safetensors"))
x = np.load("x.npy", allow_pickle=False)
with torch.inference_mode():
    p_torch = torch.softmax(model.eval()(torch.from_numpy(x)), -1).numpy()
s = onnxruntime.InferenceSession(b + "/model.onnx", providers=["CPUExecutionProvider"])
logits = s.run(["logits"], {{"pixel_values": x}})[0]
p_onnx = np.exp(logits - logits.max(1, keepdims=True)); p_onnx /= p_onnx.sum(1, keepdims=True)
print(json.dumps({{"torch": p_torch.tolist(), "onnx": p_onnx.tolist()}}))
"""
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for key in ("torch", "onnx"):
        np.testing.assert_allclose(out[key], app_probs, atol=1e-4)
        assert (np.argmax(out[key], 1) == app_probs.argmax(1)).all()


def test_plain_transformers_and_predict_script_load_the_text_bundle(text_bundle, tmp_path, capsys):
    texts = ["The jury heard the appeal.", "Spicy tomato soup with bread.", "The server crashed with a bug."]
    app = load_bundle(text_bundle).predict_texts(texts)
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
b = {str(text_bundle)!r}
model = AutoModelForSequenceClassification.from_pretrained(b, local_files_only=True).eval()
tok = AutoTokenizer.from_pretrained(b, local_files_only=True)
max_length = json.load(open(b + "/preprocess.json"))["max_length"]
enc = tok({texts!r}, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
with torch.inference_mode():
    p = torch.softmax(model(**enc).logits, -1).numpy()
print(json.dumps({{"probs": p.tolist(), "labels": [model.config.id2label[i] for i in p.argmax(1)]}}))
"""
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    np.testing.assert_allclose(out["probs"], app, atol=1e-5)
    assert out["labels"] == [TEXT_CLASSES[i] for i in app.argmax(1)]

    from engine.cli import main

    capsys.readouterr()
    assert main(["predict", "--model", str(text_bundle), "--text", texts[0], "--json", "--top-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["top"][0][0] == TEXT_CLASSES[app[0].argmax()]

    (tmp_path / "one.txt").write_text(texts[0] + "\n")
    script = (f"import runpy, sys\nsys.argv = ['predict.py', 'one.txt', '--json', '--top-k', '3', "
              f"'--text', {texts[1]!r}, '--text', {texts[2]!r}]\n"
              f"runpy.run_path({str(text_bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(script, tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 3
    calibrated = load_bundle(text_bundle).decided(app)[0]  # predict.py applies the bundle's temperature too
    for row, p in zip(rows, calibrated):
        assert [c for c, _ in row["top"]] == [TEXT_CLASSES[i] for i in np.argsort(-p)]
        np.testing.assert_allclose([q for _, q in row["top"]], np.sort(p)[::-1], atol=1e-4)


def test_model_card_reads_well(image_bundle, text_bundle):
    card = (image_bundle / "MODEL_CARD.md").read_text()
    for needle in ("an image classifier with 3 classes", "**blue**, **green**, **red**", "| blue | 4 | 2 | 2 | 8 |",
                   "Few training examples: blue (4), green (4) and red (4)", "The test split holds only 6 images",
                   "random weights", "Licence of the backbone: Apache-2.0", "95% CI", "## Intended use", "## Limitations",
                   "largest difference in any class probability was"):
        assert needle in card, needle
    for leftover in ("None", "nan", "{", "}", "_ ", "  "):
        assert leftover not in card.replace("  |", "").replace("| ", "").replace(" |", ""), leftover
    data_root = json.loads((image_bundle / "training.json").read_text())["data_roots"][0]
    assert str(Path(data_root).parent) not in card  # no local folders in a card meant to be shared
    assert "| True \\ predicted | blue | green | red |" in card
    text_card = (text_bundle / "MODEL_CARD.md").read_text()
    assert "a text classifier with 3 classes" in text_card and "tokenizers" in text_card
    readme = (text_bundle / "README.md").read_text()
    assert "python predict.py --text" in readme and "local_files_only=True" in readme


def test_model_card_says_when_training_crops_were_smaller_than_the_input():
    from engine.bundle.model_card import _recipe

    cfg = {"epochs": 4, "augment": "light", "input_size": 128, "train_input_size": 112}
    assert "128-pixel inputs (trained on random 112-pixel crops" in _recipe({"epoch": 4, "config": cfg}, "image")
    for same in ({**cfg, "train_input_size": 128}, {**cfg, "train_input_size": None}, {**cfg, "augment": "none"}):
        card = _recipe({"epoch": 4, "config": same}, "image")
        assert "128-pixel inputs" in card and "crops" not in card


def test_model_card_says_when_the_weights_are_a_blend():
    from engine.bundle.model_card import _recipe

    blended = _recipe({"finetune_blend": 0.5, "epoch": 3, "config": {"epochs": 5}}, "image")
    assert "50% the fine-tuned network and 50% the network it started from" in blended
    assert "WiSE" not in _recipe({"finetune_blend": 1.0, "epoch": 3, "config": {"epochs": 5}}, "image")
    assert "WiSE" not in _recipe({"epoch": 3, "config": {"epochs": 5}}, "image")  # runs from before the blend
