"""evaluate_run / evaluate_folder and the evaluate, predict and export commands."""
import csv
import json
import shutil

import numpy as np
import pytest

from engine import protocol
from engine.cli import main
from engine.errors import DataError
from tests.test_bundle_support import (IMAGE_CLASSES, image_bundle, image_run, make_images,  # noqa: F401
                                       sha256)


def _run_copy(run, tmp_path):
    return shutil.copytree(run, tmp_path / "run")


def test_evaluate_run_scores_val_and_test_and_writes_metrics(image_run, tmp_path):
    from engine.data import load_splits
    from engine.evaluate import evaluate_run
    from engine.inference import Predictor

    run = _run_copy(image_run, tmp_path)
    (run / "metrics.json").unlink(missing_ok=True)
    seen = []
    out = evaluate_run(run, reporter=seen.append)
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(out))
    assert out["checkpoint"] == "best" and out["epoch"] == 3 and out["classes"] == list(IMAGE_CLASSES)
    test = load_splits(run).split("test")
    probs = Predictor.from_run(run).predict_proba(test)
    assert out["test"]["n"] == len(test) == 6 and out["val"]["n"] == 6
    assert out["test"]["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == [e.label for e in test]))
    assert out["unreadable"] == []
    assert any(isinstance(m, protocol.Status) and m.phase == "evaluating" for m in seen)
    assert any(isinstance(m, protocol.Progress) and m.phase == "eval" for m in seen)


def test_unreadable_example_is_listed_not_fatal(image_run, tmp_path):
    from engine.evaluate import evaluate_run

    run = _run_copy(image_run, tmp_path)
    splits = json.loads((run / "splits.json").read_text())
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n cut off")
    splits["test"][0][0] = str(broken)
    splits["val"] = []
    (run / "splits.json").write_text(json.dumps(splits))
    out = evaluate_run(run)
    assert out["val"] is None
    assert out["test"]["n"] == 5
    assert [(u["path"], u["split"]) for u in out["unreadable"]] == [(str(broken), "test")]


def test_evaluate_folder_maps_class_names_and_refuses_unknown_ones(image_bundle, tmp_path):
    from engine.evaluate import evaluate_folder

    data = make_images(tmp_path / "labeled", per_class=3, seed=5)
    shutil.rmtree(data / "blue")  # a subset of the model's classes is fine
    out = evaluate_folder(image_bundle, [str(data)])
    assert out["folder"]["n"] == 6 and out["folder"]["classes"] == list(IMAGE_CLASSES)
    assert out["folder"]["per_class"][0]["support"] == 0  # blue: none in this folder
    assert {c["name"]: c["support"] for c in out["folder"]["per_class"]} == {"blue": 0, "green": 3, "red": 3}
    shutil.move(str(make_images(tmp_path / "more", per_class=3, seed=9) / "red"), str(data / "purple"))
    with pytest.raises(DataError, match="'purple' that the model does not know"):
        evaluate_folder(image_bundle, [str(data)])


def test_evaluate_folder_accepts_one_class_and_one_example(image_bundle, tmp_path):
    """Scoring needs no training minimum: a folder of one class with one image is a valid test."""
    from engine.data import scan
    from engine.evaluate import evaluate_folder

    data = make_images(tmp_path / "labeled", per_class=1, seed=7)
    shutil.rmtree(data / "blue")
    shutil.rmtree(data / "green")
    with pytest.raises(DataError, match="only one class"):  # training still refuses it
        scan([str(data)])
    out = evaluate_folder(image_bundle, [str(data)])
    assert out["folder"]["n"] == 1
    assert {c["name"]: c["support"] for c in out["folder"]["per_class"]} == {"blue": 0, "green": 0, "red": 1}


def test_cli_evaluate_prints_tables_and_writes_json(image_bundle, tmp_path, capsys):
    data = make_images(tmp_path / "labeled", per_class=4, seed=6)
    assert main(["evaluate", "--model", str(image_bundle), "--data", str(data), "--out", str(tmp_path / "m.json")]) == 0
    text = capsys.readouterr().out
    assert "12 examples" in text and "Balanced accuracy" in text and "Confusion matrix" in text
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["folder"]["n"] == 12 and "ci95" in saved["folder"]
    assert main(["evaluate", "--model", str(tmp_path)]) == 2  # neither bundle nor run: one clear error line
    assert "neither a saved model bundle nor a training run" in capsys.readouterr().err


def test_cli_predict_table_csv_and_unreadable_inputs(image_bundle, tmp_path, capsys):
    data = make_images(tmp_path / "in", per_class=1, seed=8)
    (data / "red" / "empty.png").write_bytes(b"")
    out_csv = tmp_path / "preds.csv"
    code = main(["predict", "--model", str(image_bundle), str(data), str(tmp_path / "nope.jpg"), "--top-k", "2",
                 "--out", str(out_csv)])
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out.count("%") == 6  # 3 readable images x 2 classes
    assert "2 input(s) could not be read" in captured.err and "nope.jpg" in captured.err
    rows = list(csv.DictReader(out_csv.open()))
    assert [k for k in rows[0]] == ["path", "decision", "label_1", "probability_1", "label_2", "probability_2", "error"]
    assert len(rows) == 5 and sum(1 for r in rows if r["error"]) == 2
    good = [r for r in rows if not r["error"]]
    assert all(r["label_1"] in IMAGE_CLASSES and float(r["probability_1"]) >= float(r["probability_2"]) for r in good)
    assert main(["predict", "--model", str(image_bundle), str(tmp_path / "nope.jpg")]) == 1
    assert main(["predict", "--model", str(image_bundle), "--text", "a caption"]) == 2  # one clear sentence
    assert "image model" in capsys.readouterr().err


def test_cli_export_writes_a_verified_bundle(image_run, tmp_path, capsys):
    from engine.bundle import verify_bundle

    out = tmp_path / "exported.tsbundle"
    metrics = image_run / "metrics.json"
    before = metrics.read_bytes() if metrics.exists() else None
    assert main(["export", str(image_run), "--out", str(out), "--which", "last"]) == 0
    text = capsys.readouterr().out
    assert f"Saved {out}" in text and "ONNX check: largest probability difference" in text
    manifest = verify_bundle(out)
    assert json.loads((out / "training.json").read_text())["checkpoint"] == "last"
    assert manifest["files"]["model.safetensors"] == sha256(out / "model.safetensors")
    assert json.loads((out / "metrics.json").read_text())["checkpoint"] == "last"
    assert (metrics.read_bytes() if metrics.exists() else None) == before  # the run's own scores untouched


def test_cli_evaluate_without_data_scores_a_run_or_shows_a_bundles_scores(image_run, image_bundle, capsys):
    assert main(["evaluate", "--model", str(image_run), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["test"]["n"] == 6 and scored["checkpoint"] == "best"
    assert main(["evaluate", "--model", str(image_bundle)]) == 0
    text = capsys.readouterr().out
    assert "Test (at export): 6 examples" in text and "Validation (at export): 6 examples" in text
