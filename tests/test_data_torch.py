"""Transforms and torch Datasets: shapes, normalization, augment presets, bad files at load time."""
import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import Example
from engine.data.torch_datasets import ImageExamples, TextExamples
from engine.data.transforms import image_transform

PP = {"input_size": 32, "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25), "interpolation": "bicubic",
      "crop_pct": 0.875}


def test_eval_transform_is_resize_then_center_crop():
    # 80x40 image: left half black, right half white; a centre crop of the resized image
    im = Image.new("RGB", (80, 40), (255, 255, 255))
    im.paste((0, 0, 0), (0, 0, 40, 40))
    x = image_transform(PP, train=False, augment="light")(im)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    # shorter side -> floor(32 / 0.875) = 36, so width 72; centre 32 columns straddle the edge
    left, right = x[0, 16, 0].item(), x[0, 16, -1].item()
    assert left == pytest.approx((0 - 0.5) / 0.25) and right == pytest.approx((1 - 0.5) / 0.25)


def test_eval_transform_deterministic_and_train_random():
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 256, (50, 60, 3), dtype=np.uint8))
    ev = image_transform(PP, train=False, augment="standard")
    assert torch.equal(ev(im), ev(im))
    none = image_transform(PP, train=True, augment="none")
    assert torch.equal(none(im), ev(im))  # "none" trains on exactly what evaluation sees
    for aug in ("light", "standard"):
        tr = image_transform(PP, train=True, augment=aug)
        torch.manual_seed(0)
        outs = [tr(im) for _ in range(4)]
        assert all(o.shape == (3, 32, 32) for o in outs)
        assert any(not torch.equal(outs[0], o) for o in outs[1:])
    with pytest.raises(ValueError):
        image_transform(PP, train=True, augment="heavy")


def test_image_examples_survive_a_file_that_breaks_after_the_scan(tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (10, 10), 128).save(good)
    gone = tmp_path / "gone.png"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    exs = [Example(str(good), 1, "train", "h1"), Example(str(gone), 0, "train", "h2"),
           Example(str(broken), 2, "train", "h3")]
    ds = ImageExamples(exs, image_transform(PP, train=False, augment="none"))
    x, y, i = ds[0]
    assert y == 1 and i == 0 and x.shape == (3, 32, 32) and type(x) is torch.Tensor
    assert torch.allclose(x, torch.full_like(x, (128 / 255 - 0.5) / 0.25), atol=1e-5)
    for k in (1, 2):
        x, y, i = ds[k]
        assert y == -1 and i == k and x.shape == (3, 32, 32) and not x.any()
    assert set(ds.failed) == {str(gone), str(broken)}
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    xb, yb, ib = next(iter(loader))
    assert xb.shape == (3, 3, 32, 32) and yb.tolist() == [1, -1, -1]


def test_text_examples(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"\xef\xbb\xbf  hello\n")
    exs = [Example(str(f), 0, "train", "h"), Example("/x.csv#row=2", 1, "val", "h2", "row text"),
           Example(str(tmp_path / "missing.txt"), 1, "train", "h3")]
    ds = TextExamples(exs)
    assert ds[0] == ("hello", 0, 0) and ds[1] == ("row text", 1, 1) and ds[2] == ("", -1, 2)
    assert list(ds.failed) == [str(tmp_path / "missing.txt")]
