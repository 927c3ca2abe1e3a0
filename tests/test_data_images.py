"""load_image / verify_image on real files in the awkward modes people actually have."""
import io

import numpy as np
import pytest
from PIL import Image

from engine.data import images as images_mod
from engine.data import load_image, verify_image
from engine.data.images import ImageProblem


def _noise(seed, size=(16, 12), mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


def test_grayscale_becomes_rgb_with_same_values(tmp_path):
    p = tmp_path / "g.png"
    im = _noise(1, mode="L")
    im.save(p)
    out = load_image(p)
    assert out.mode == "RGB" and out.size == im.size
    arr = np.asarray(out)
    assert (arr[..., 0] == np.asarray(im)).all() and (arr[..., 0] == arr[..., 2]).all()


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 = red, 1 = blue
    im.putpixel((1, 1), 1)
    im.info["transparency"] = 0  # red is transparent
    p = tmp_path / "p.png"
    im.save(p, transparency=0)
    arr = np.asarray(load_image(p))
    assert tuple(arr[0, 0]) == (255, 255, 255)  # transparent -> white, not red or black
    assert tuple(arr[1, 1]) == (0, 0, 255)


def test_rgba_and_la_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (10, 20, 30, 255))
    rgba.save(tmp_path / "a.png")
    arr = np.asarray(load_image(tmp_path / "a.png"))
    assert tuple(arr[0, 0]) == (255, 255, 255) and tuple(arr[0, 1]) == (10, 20, 30)
    la = Image.new("LA", (1, 1), (0, 128))  # black at half alpha -> mid grey
    la.save(tmp_path / "la.png")
    v = np.asarray(load_image(tmp_path / "la.png"))[0, 0]
    assert 120 <= int(v[0]) <= 135 and v[0] == v[1] == v[2]


def test_cmyk_jpeg_converted(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)  # red in CMYK
    out = load_image(tmp_path / "c.jpg")
    r, g, b = np.asarray(out)[4, 4].astype(int)
    assert out.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_16_bit_is_scaled_by_its_range_not_clipped(tmp_path):
    a = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "w.png")  # I;16 PNG
    with Image.open(tmp_path / "w.png") as raw:
        assert raw.mode.startswith("I")
    v = np.asarray(load_image(tmp_path / "w.png"))[0, :, 0].astype(int)
    assert v[0] == 0 and v[2] == 255 and 126 <= v[1] <= 129  # clipping would give 255 for the middle


def test_12_bit_data_in_16_bit_container_uses_12_bit_range(tmp_path):
    a = np.array([[0, 2048, 4095]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "w12.png")
    v = np.asarray(load_image(tmp_path / "w12.png"))[0, :, 0].astype(int)
    assert v[2] == 255 and 126 <= v[1] <= 129


def test_float_image_scaled(tmp_path):
    Image.fromarray(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32), mode="F").save(tmp_path / "f.tif")
    v = np.asarray(load_image(tmp_path / "f.tif"))[0, :, 0].astype(int)
    assert v[0] == 0 and v[2] == 255 and 126 <= v[1] <= 129


def test_exif_orientation_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (255, 255, 255))
    im.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewer must turn it 90 degrees clockwise
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "r.jpg")
    assert out.size == (20, 40)
    top, bottom = np.asarray(out)[5, 10], np.asarray(out)[35, 10]
    assert top[0] > 200 and top[1] < 80  # red half is now on top
    assert bottom.min() > 200


def test_animated_gif_and_multipage_tiff_give_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 6), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    frames[0].save(tmp_path / "a.tif", save_all=True, append_images=frames[1:])
    for name in ("a.gif", "a.tif"):
        r, g, _ = np.asarray(load_image(tmp_path / name))[3, 3].astype(int)
        assert r > 200 and g < 60, name


def test_truncated_files_fail_verification(tmp_path):
    for fmt, name in (("JPEG", "t.jpg"), ("PNG", "t.png")):
        buf = io.BytesIO()
        _noise(3, size=(64, 64)).save(buf, fmt)
        data = buf.getvalue()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageProblem, match="truncated|unreadable"):
            verify_image(tmp_path / name)
        w, h, mode = verify_image(data)  # the whole file is fine
        assert (w, h, mode) == (64, 64, "RGB")


def test_not_an_image_and_bomb(tmp_path, monkeypatch):
    (tmp_path / "x.png").write_text("hello, I am text")
    with pytest.raises(ImageProblem, match="not an image"):
        verify_image(tmp_path / "x.png")
    _noise(4, size=(50, 50)).save(tmp_path / "big.png")
    verify_image(tmp_path / "big.png")
    monkeypatch.setattr(images_mod, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageProblem, match="decompression-bomb"):
        verify_image(tmp_path / "big.png")
    with pytest.raises(ImageProblem, match="decompression-bomb"):
        load_image(tmp_path / "big.png")


def test_jpeg_draft_keeps_min_side(tmp_path):
    _noise(5, size=(400, 300)).save(tmp_path / "big.jpg")
    out = load_image(tmp_path / "big.jpg", min_side=64)
    assert min(out.size) >= 64 and out.size[0] < 400
    assert load_image(tmp_path / "big.jpg").size == (400, 300)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the app silences it at import
@pytest.mark.parametrize("side", [10_001, 14_200])  # just over the limit; over twice it (PIL's own refusal)
def test_a_real_image_over_the_pixel_limit_is_refused_everywhere_it_is_read(tmp_path, side):
    """The audit planted a valid image over the real limit (not a fake header, not a lowered limit)."""
    from engine.data import scan

    assert side * side > images_mod.MAX_IMAGE_PIXELS
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(3):
            _noise(i + 10 * ord(cls), size=(8, 8)).save(tmp_path / "data" / cls / f"{i}.png")
    big = tmp_path / "data" / "a" / "poster.png"
    Image.new("1", (side, side), 1).save(big, optimize=False)  # 1 bit a pixel: 12-25 MB to make, ~0.1 MB on disk
    with pytest.raises(ImageProblem, match="decompression-bomb") as info:
        verify_image(big)
    assert info.value.code == "too_large"
    with pytest.raises(ImageProblem, match="decompression-bomb"):
        load_image(big)  # training and predict read images with load_image
    rep = scan([tmp_path / "data"], val_fraction=0, test_fraction=0).report.to_dict()
    assert [(s["path"], s["code"]) for s in rep["skipped"]] == [(str(big), "too_large")]
