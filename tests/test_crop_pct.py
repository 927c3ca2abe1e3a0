"""The evaluation centre crop as a setting: the CLI passes it, the config checks it, the run records it."""
import argparse

import pytest

from engine.backbones import get_spec
from engine.commands.train import add_arguments, config_from_args
from engine.config import ConfigError, RunConfig
from engine.data.transforms import Geometry
from engine.train.run import _preprocess


def test_cli_passes_the_crop_and_the_run_records_it():
    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--data", "some/folder", "--crop-pct", "1"]))
    assert cfg.crop_pct == 1.0
    spec = get_spec("efficientnet_lite0")
    pp = _preprocess(spec, RunConfig(data=["x"], input_size=128, crop_pct=1.0), "image")
    assert pp["crop_pct"] == 1.0 and Geometry(pp).resize_to == 128  # the whole image, no border cut
    own = _preprocess(spec, RunConfig(data=["x"], input_size=128), "image")
    assert own["crop_pct"] == spec.preprocess["crop_pct"] < 1 and Geometry(own).resize_to > 128


@pytest.mark.parametrize("bad", [0.3, 1.5, True])
def test_a_crop_outside_half_to_whole_is_refused(bad):
    with pytest.raises(ConfigError, match="centre crop"):
        RunConfig(data=["x"], crop_pct=bad).validate()
