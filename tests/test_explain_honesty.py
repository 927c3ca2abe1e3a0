"""The maps are not decoration (issue 23): they change when the weights do, and they find a planted shortcut.

- Sanity check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): Grad-CAM maps of a
  trained network and of the same network with its weights re-initialised must differ: their
  rank correlation, averaged over images, stays well below 1.
- Shortcut tests: every example of one class carries a marker (a bright square in a corner; a
  planted word) and the classes are otherwise drawn from the same distribution, so the marker is
  the only thing to learn. After training, most of the class's Grad-CAM mass lies on the corner,
  and the planted word gets the highest attribution.
Both train small models here, on the CPU, through the run folder layout every explanation reads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import test_bundle_support as S

SIZE = 192  # test_efficientnet reduces by 32: a 6 x 6 grid of Grad-CAM cells, 32 pixels each
MARK = 20  # the marker's side in pixels, in the top-left corner
CORNER = 64  # "on the marker": its cell of the grid and the next ones, 2 x 2 cells (1/9 of the image)
IMAGE_CLASSES = ("marked", "plain")
TEXT_CLASSES = ("flagged", "plain")
TOKEN = "zebra"
VOCAB = ("report patient results normal review follow visit stable clinic history noted plan "
         "left right chest pain scan today mild change").split()


def _images(root: Path, per_class: int, seed: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name in IMAGE_CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(40, 140, size=(SIZE, SIZE, 3))
            for _ in range(3):  # a few dim blobs anywhere, so "bright somewhere" is not the marker's signature
                y, x = (int(v) for v in rng.integers(0, SIZE - 24, size=2))
                arr[y:y + 24, x:x + 24] = rng.integers(60, 170, size=3)
            if name == "marked":
                arr[2:2 + MARK, 2:2 + MARK] = 255
            Image.fromarray(arr.astype(np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def _texts(root: Path, per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for name in TEXT_CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            words = [str(w) for w in rng.choice(VOCAB, size=int(rng.integers(6, 12)))]
            if name == "flagged":
                words.insert(int(rng.integers(0, len(words) + 1)), TOKEN)
            (root / name / f"{i:02d}.txt").write_text(" ".join(words) + ".\n", encoding="utf-8")
    return root


def _image_run(base: Path, seed: int = 0) -> Path:
    import timm
    import torch

    from engine.bundle.preprocessing import preprocess_image
    from engine.data.images import load_image

    data = _images(base / "images", per_class=20, seed=seed)
    splits = S._splits(data, IMAGE_CLASSES, (".png",), "image")
    pp = {"input_size": SIZE, "mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bilinear", "crop_pct": 1.0}
    torch.manual_seed(seed)
    model = timm.create_model("test_efficientnet", pretrained=False, num_classes=2)
    x = torch.from_numpy(np.stack([preprocess_image(load_image(p), pp) for p, _, _ in splits["train"]]))
    y = torch.tensor([lbl for _, lbl, _ in splits["train"]])
    S._fit(model, lambda: torch.nn.functional.cross_entropy(model(x), y), 30)
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": "test_tiny_cnn", "source": "timm",
            "arch": "test_efficientnet", "modality": "image", "classes": list(IMAGE_CLASSES), "num_classes": 2,
            "freeze": 0, "preprocess": pp, "weights_origin": "random-init"}
    run = base / "runs" / "marker"
    S._write_run(run, model, meta, splits, S._config(data, "test_tiny_cnn", input_size=SIZE))
    return run


def _text_run(base: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    data = _texts(base / "texts", per_class=40, seed=seed)
    splits = S._splits(data, TEXT_CLASSES, (".txt",), "text")
    tok = AutoTokenizer.from_pretrained(S.minilm_dir(), local_files_only=True)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=2)
    model = AutoModelForSequenceClassification.from_config(cfg)
    texts = [Path(p).read_text(encoding="utf-8").strip() for p, _, _ in splits["train"]]
    enc = tok(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
    y = torch.tensor([lbl for _, lbl, _ in splits["train"]])
    S._fit(model, lambda: torch.nn.functional.cross_entropy(model(**enc).logits, y), 60)
    meta = {"format": "transfer-studio-run-model", "version": 1, "backbone": "test_tiny_bert",
            "source": "transformers", "arch": "bert (tiny, random init)", "modality": "text",
            "classes": list(TEXT_CLASSES), "num_classes": 2, "freeze": 0, "preprocess": {"max_length": 32},
            "weights_origin": "random-init"}
    run = base / "runs" / "token"
    S._write_run(run, model, meta, splits, S._config(data, "test_tiny_bert", max_length=32))
    tok.save_pretrained(str(run / "tokenizer"))
    (run / "hf_config.json").write_text(model.config.to_json_string())
    return run


@pytest.fixture(scope="module")
def marker_run(tmp_path_factory) -> Path:
    return _image_run(tmp_path_factory.mktemp("marker"))


def _held_out(run: Path, label: int) -> list[str]:
    import json

    splits = json.loads((run / "splits.json").read_text())
    return [p for s in ("val", "test") for p, lbl, _ in splits[s] if lbl == label]


def _ranks(a: np.ndarray) -> np.ndarray:
    r = np.empty(a.size)
    r[np.argsort(a.ravel(), kind="stable")] = np.arange(a.size)
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.slow  # training at 192 px: 10-15 s alone, over a minute when the 2 cores are shared
def test_the_marker_class_is_learned_and_its_maps_lie_on_the_marker(marker_run):
    from engine.explain import Explainer

    explainer = Explainer(marker_run)
    files = _held_out(marker_run, 0)
    shares = []
    for f in files:
        info = explainer.explain(f, target=0, use_cache=False)
        assert info["predicted_label"] == "marked", f"the model did not learn the marker ({f})"
        cam = np.load(info["map"])
        assert cam.shape == (SIZE, SIZE)
        shares.append(float(cam[:CORNER, :CORNER].sum() / cam.sum()))
    # chance: the corner is 1/9 of the image; "most of the map's mass lies on the marker"
    print(f"share of the map's mass on the marker's corner: median {np.median(shares):.2f} (chance 0.11)")
    assert np.median(shares) > 0.5, shares


@pytest.mark.slow  # shares the marker run above
def test_maps_of_the_trained_model_differ_from_a_reinitialised_one(marker_run):
    import torch

    from engine.backbones import build_model, get_spec
    from engine.explain import Explainer

    trained = Explainer(marker_run)
    spec = get_spec("test_tiny_cnn")
    torch.manual_seed(123)
    random_model = build_model(spec, 2, weights=None).eval()
    from engine.inference import Predictor

    shuffled = Explainer(marker_run, predictor=Predictor(random_model, list(IMAGE_CLASSES), "image",
                                                        trained.predictor.preprocess), spec=spec)
    rhos, same = [], []
    for f in _held_out(marker_run, 0) + _held_out(marker_run, 1):
        pixels = trained.predictor._prepare(f)
        a = trained.cam(pixels, 0)
        same.append(spearman(a, trained.cam(pixels, 0)))
        rhos.append(spearman(a, shuffled.cam(pixels, 0)))
    assert min(same) > 0.999  # the measure itself: a map against itself
    print(f"rank correlation, trained vs re-initialised: mean {np.mean(rhos):.2f}")
    assert np.mean(rhos) < 0.5, rhos  # Adebayo et al.: well below 1


def test_the_planted_word_gets_the_highest_attribution(tmp_path):
    from engine.explain import Explainer

    run = _text_run(tmp_path)
    explainer = Explainer(run)
    files = _held_out(run, 0)
    top = []
    for f in files:
        info = explainer.explain(f, target=0, use_cache=False)
        assert info["predicted_label"] == "flagged", f"the model did not learn the planted word ({f})"
        words = info["words"]
        assert TOKEN in [w for w, *_ in words]
        best = max(words, key=lambda w: w[1])
        top.append(best[0] == TOKEN)
        assert all(info["text"][s:e] == w for w, _, s, e in words)
    assert np.mean(top) >= 0.8, top
