"""Predictor and the shared preprocessing: same inputs as training, per-file errors, folders."""
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import preprocessing as pre
from engine.errors import BundleError
from tests.test_bundle_support import (IMAGE_CLASSES, TEXT_CLASSES, image_run, make_images, minilm_dir,  # noqa: F401
                                       text_run)


def _images(rng):
    from PIL import Image

    smooth = np.zeros((53, 37, 3), np.uint8)
    smooth[..., 0] = np.linspace(0, 255, 37)[None, :]
    smooth[..., 1] = np.linspace(0, 255, 53)[:, None]
    return [Image.fromarray(smooth), Image.fromarray(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)),
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))]


@pytest.mark.parametrize("interpolation,crop_pct", [("bicubic", 0.875), ("bilinear", 1.0)])
def test_preprocess_agrees_with_training_eval_transform(interpolation, crop_pct):
    """The bundle's numpy/PIL path and engine.data.transforms' eval path give the same pixels.

    torchvision's antialiased tensor resize may round a pixel differently from PIL, so
    the tolerance is one grey level; geometry, crop and normalisation must match exactly.
    """
    from engine.data.transforms import image_transform

    pp = {"input_size": 40, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3],
          "interpolation": interpolation, "crop_pct": crop_pct}
    std = np.asarray(pp["std"]).reshape(3, 1, 1)
    for img in _images(np.random.default_rng(0)):
        ours = pre.preprocess_image(img, pp)
        theirs = image_transform(pp, train=False)(img).numpy()
        assert ours.shape == theirs.shape == (3, 40, 40) and ours.dtype == np.float32
        grey_levels = np.abs(ours - theirs) * std * 255
        assert grey_levels.max() <= 1.01
        assert grey_levels.mean() < 0.1


def test_preprocess_resizes_the_shorter_side_then_centre_crops():
    from PIL import Image

    arr = np.zeros((20, 60, 3), np.uint8)
    arr[:, :20] = 255  # left third white: outside a centre crop of the resized image
    pp = {"input_size": 10, "mean": [0, 0, 0], "std": [1, 1, 1], "interpolation": "nearest", "crop_pct": 1.0}
    x = pre.preprocess_image(Image.fromarray(arr), pp)
    assert x.shape == (3, 10, 10)
    assert x.max() == 0.0  # the crop came from the black middle
    assert pre.resize_size({"input_size": 224, "crop_pct": 0.875}) == 256


def test_encode_texts_matches_the_training_tokenizer():
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
    tok = pre.load_tokenizer(f"{minilm_dir()}/tokenizer.json")
    texts = ["Short.", "A somewhat longer sentence, with punctuation & symbols: 42!", "word " * 80]
    pp = {"max_length": 24, "pad_id": hf.pad_token_id, "input_names": ["input_ids", "attention_mask", "token_type_ids"]}
    ours = pre.encode_texts(tok, texts, pp)
    theirs = hf(texts, truncation=True, max_length=24, padding=True, return_tensors="np")
    for name in pp["input_names"]:
        np.testing.assert_array_equal(ours[name], theirs[name])
    assert ours["input_ids"].shape == (3, 24) and ours["input_ids"].dtype == np.int64


def test_top_k_and_softmax():
    p = pre.softmax(np.array([[1.0, 3.0, 2.0]]))[0]
    assert p.sum() == pytest.approx(1.0)
    assert [c for c, _ in pre.top_k(p, ["a", "b", "c"], 2)] == ["b", "c"]


def test_image_predictor_from_run(image_run, tmp_path):
    from engine.data import load_splits
    from engine.inference import Predictor

    pred = Predictor.from_run(image_run)
    assert pred.classes == list(IMAGE_CLASSES) and pred.modality == "image"
    test = load_splits(image_run).split("test")
    probs = pred.predict_proba(test)
    assert probs.shape == (len(test), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert (probs.argmax(1) == [e.label for e in test]).mean() >= 0.5  # it learned the colours

    folder = make_images(tmp_path / "new", per_class=2, seed=7)
    (folder / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "notes.md").write_text("not an image")
    out = pred.predict_paths([str(folder), str(tmp_path / "missing.jpg")], top_k=2)
    good = [r for r in out if "top" in r]
    bad = {r["path"]: r["error"] for r in out if "error" in r}
    assert len(good) == 6
    assert all(len(r["top"]) == 2 and r["top"][0][1] >= r["top"][1][1] for r in good)
    assert str(folder / "red" / "broken.png") in bad
    assert bad[str(tmp_path / "missing.jpg")] == "no such file or folder"
    assert not any(p.endswith("notes.md") for p in bad)


def test_text_predictor_matches_hugging_face_pipeline(text_run, tmp_path):
    import torch
    from transformers import AutoTokenizer

    from engine.inference import Predictor

    pred = Predictor.from_run(text_run)
    assert pred.classes == list(TEXT_CLASSES)
    assert pred.preprocess["input_names"] == ["input_ids", "attention_mask", "token_type_ids"]
    texts = ["The judge read the verdict to the jury.", "  Soup and bread for dinner.  ", "compiler bug"]
    ours = pred.predict_texts(texts)
    tok = AutoTokenizer.from_pretrained(str(text_run / "tokenizer"), local_files_only=True)
    enc = tok([t.strip() for t in texts], truncation=True, max_length=32, padding=True, return_tensors="pt")
    with torch.inference_mode():
        theirs = torch.softmax(pred.model(**enc).logits, -1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)

    # files are read like training reads them (UTF-16 with a BOM, surrounding space dropped)
    (tmp_path / "a.txt").write_text(texts[0] + "\n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe" + texts[1].encode("utf-16-le"))
    (tmp_path / "c.txt").write_text(texts[2], encoding="utf-8")
    pred.batch_size = 2  # texts run shortest first, over two batches; results come back in file order
    out = pred.predict_paths([str(tmp_path)], top_k=3)
    assert [Path(r["path"]).name for r in out] == ["a.txt", "b.txt", "c.txt"]
    for row, p in zip(out, ours):
        assert [c for c, _ in row["top"]] == [TEXT_CLASSES[i] for i in np.argsort(-p)]
        assert row["top"][0][1] == pytest.approx(p.max(), abs=1e-6)


def test_open_refuses_a_folder_that_is_no_model(tmp_path):
    from engine.bundle.reader import open_predictor

    with pytest.raises(BundleError, match="neither a saved model bundle nor a training run"):
        open_predictor(tmp_path)
