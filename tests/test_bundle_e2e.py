"""End to end: engine.train on tiny generated images -> export -> the CLI and predict.py agree."""
import json

import numpy as np
import pytest

from engine.cli import main
from tests.test_bundle_support import make_images, run_isolated


@pytest.mark.slow
def test_trained_run_exports_and_every_consumer_agrees(tmp_path, capsys):
    from engine.bundle import verify_bundle
    from engine.config import RunConfig
    from engine.bundle.reader import open_predictor
    from engine.train import train

    data = make_images(tmp_path / "data", per_class=10)
    cfg = RunConfig(data=[str(data)], backbone="test_tiny_cnn", epochs=3, batch_size=8, lr=0.02, freeze=0,
                    input_size=32, augment="none", num_workers=0, device="cpu", runs_root=str(tmp_path / "runs"),
                    name="colours")
    result = train(cfg)
    run = result["run_dir"]
    metrics = json.loads((tmp_path / "runs" / "colours" / "metrics.json").read_text())
    assert metrics["test"]["n"] == result["metrics"]["test"]["n"] > 0

    bundle = tmp_path / "colours.tsbundle"
    assert main(["export", run, "--out", str(bundle)]) == 0
    manifest = verify_bundle(bundle)
    assert manifest["onnx"]["parity"]["max_abs_prob_diff"] <= 1e-4

    new = make_images(tmp_path / "new", per_class=2, seed=3)
    from_run = open_predictor(run).predict_paths([str(new)])  # the run's decision rule (temperature) applied
    capsys.readouterr()
    assert main(["predict", "--model", str(bundle), str(new), "--json"]) == 0
    from_cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    code = (f"import runpy, sys\nsys.argv = ['predict.py', {str(new)!r}, '--json']\n"
            f"runpy.run_path({str(bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    from_script = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(from_run) == len(from_cli) == len(from_script) == 6
    for a, b, c in zip(from_run, from_cli, from_script):
        assert a["path"] == b["path"] == c["path"]
        assert a["top"][0][0] == b["top"][0][0] == c["top"][0][0]
        np.testing.assert_allclose([p for _, p in a["top"]], [p for _, p in c["top"]], atol=1e-4)
