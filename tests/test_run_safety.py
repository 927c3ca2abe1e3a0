"""Runs that are hard to break: names that stay inside runs_root, weights checked before any
work, crashes and a full disk that leave a run resumable, two runs started at once."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from engine.config import ConfigError, RunConfig


def make_images(root, classes=3, per_class=8, size=32, seed=0):
    rng = np.random.default_rng(seed)
    for c in range(classes):
        d = root / f"class_{c}"
        d.mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            a[:, :, c % 3] += 150
            a[c * 8:(c * 8) + 6, :, :] = 255
            Image.fromarray(a).save(d / f"{i}.png")
    return root


def tiny_config(tmp_path, data, **kw) -> RunConfig:
    base = dict(data=[str(data)], backbone="test_tiny_cnn", freeze=0, epochs=2, batch_size=8, lr=3e-3,
                input_size=32, augment="light", early_stopping_patience=None, deterministic=True, device="cpu",
                runs_root=str(tmp_path / "runs"), name="run", val_fraction=0.25, test_fraction=0.25,
                num_workers=0)
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.parametrize("name", ["../escape", "/tmp/absolute", "a/b", "..", ".", ".hidden", "", " padded",
                                  "c:\\windows", "tab\there"])
def test_a_run_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="plain folder name"):
        RunConfig(data=["x"], name=name).validate()


def test_plain_run_names_are_accepted_and_a_refused_one_writes_nothing(tmp_path):
    for name in ("cats-v2", "Röntgen Lauf 3", "run_2026.01", None):
        RunConfig(data=["x"], name=name).validate()
    from engine.train import train

    data = make_images(tmp_path / "data")
    with pytest.raises(ConfigError):
        train(tiny_config(tmp_path, data, name="../escape"))
    assert not (tmp_path / "escape").exists() and not (tmp_path / "runs").exists()
