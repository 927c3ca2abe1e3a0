"""End to end on a PACS-like DICOM tree: inspect, train, evaluate, export, predict (CLI and the
bundle's predict.py) agree within 1e-4, no patient lands in two splits, and no identifying
value from the files appears in anything the app wrote."""
import json
import os
from collections import defaultdict

import numpy as np
import pytest

from engine.cli import main
from tests.dicom_files import PHI, make_dicom_tree
from tests.test_bundle_support import run_isolated

PATIENT_IDS = [f"PIDQ{c}{p:03d}X" for c in range(2) for p in range(5)]


def _every_file(*roots):
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for n in names:
                yield os.path.join(dirpath, n)


def _phi_found(roots, extra_texts=()) -> list[str]:
    needles = [v.encode() for v in PHI.values()] + [p.encode() for p in PATIENT_IDS]
    needles += [part.encode() for v in PHI.values() for part in v.split("^") if "^" in v]
    found = []
    for path in _every_file(*roots):
        with open(path, "rb") as f:
            blob = f.read()
        found += [f"{path}: {n.decode()}" for n in needles if n in blob]
    for name, text in extra_texts:
        found += [f"{name}: {n.decode()}" for n in needles if n in text.encode()]
    return found


@pytest.mark.slow
def test_dicom_tree_trains_exports_predicts_and_leaks_no_patient_data(tmp_path, capsys, monkeypatch):
    data = make_dicom_tree(tmp_path / "pacs", patients=5)
    new = make_dicom_tree(tmp_path / "new", patients=1, per_patient=2, seed=7)
    runs, out = tmp_path / "runs", tmp_path / "out"
    out.mkdir()
    audit_dir = os.environ["TRANSFER_STUDIO_DATA"]
    assert main(["inspect", str(data), "--json"]) == 0
    inspected = capsys.readouterr()
    report = json.loads(inspected.out)
    assert report["groups"]["sources"] == {"patient": 30} and report["image"]["dicom"]["files"] == 30
    assert [s["code"] for s in report["skipped"]] == ["dicom_not_image"]

    assert main(["train", "--data", str(data), "--backbone", "test_tiny_cnn", "--epochs", "2", "--batch-size", "8",
                 "--input-size", "32", "--augment", "none", "--workers", "0", "--device", "cpu", "--freeze", "0",
                 "--runs-root", str(runs), "--name", "pacs", "--json"]) == 0
    trained = capsys.readouterr()
    run = runs / "pacs"
    splits = json.loads((run / "splits.json").read_text())
    where = defaultdict(set)
    for name in ("train", "val", "test"):
        for path, _, _, group in splits[name]:
            where[group].add(name)
    assert len(where) == 10 and all(len(s) == 1 for s in where.values())  # no patient in two splits
    assert json.loads((run / "model.json").read_text())["preprocess"]["dicom_window"] == "file"

    assert main(["evaluate", "--model", str(run), "--data", str(data), "--json"]) in (0, 1)
    evaluated = capsys.readouterr()
    bundle = out / "pacs.tsbundle"
    assert main(["export", str(run), "--out", str(bundle)]) == 0
    exported = capsys.readouterr()
    parity = json.loads((bundle / "manifest.json").read_text())["onnx"]["parity"]
    assert parity["max_abs_prob_diff"] <= 1e-4
    assert "pydicom" in (bundle / "README.md").read_text()
    card = (bundle / "MODEL_CARD.md").read_text()
    assert "split by group, not one by one: 10 groups (30 by the DICOM PatientID)" in card
    assert "the 'file' window" in card
    assert json.loads((bundle / "preprocess.json").read_text())["dicom_window"] == "file"

    from engine.inference import Predictor

    from_run = Predictor.from_run(str(run)).predict_paths([str(new)])
    assert main(["predict", "--model", str(bundle), str(new), "--json", "--out", str(out / "preds.csv")]) == 0
    predicted = capsys.readouterr()
    from_cli = [json.loads(line) for line in predicted.out.splitlines()]
    code = (f"import runpy, sys\nsys.argv = ['predict.py', {str(new)!r}, '--json']\n"
            f"runpy.run_path({str(bundle / 'predict.py')!r}, run_name='__main__')\n")
    done = run_isolated(code, tmp_path)
    assert done.returncode == 0, done.stderr
    from_script = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(from_run) == len(from_cli) == 5  # 4 images, and the SR as an error row
    assert [r["path"] for r in from_run if "error" in r] == [str(new / "clear" / "SR00001")]
    assert "SR00001" in done.stderr and "no pixels" in done.stderr  # predict.py lists it on stderr
    from_run = [r for r in from_run if "top" in r]
    from_cli = [r for r in from_cli if "top" in r]
    assert len(from_script) == 4
    for a, b, c in zip(from_run, from_cli, from_script):
        assert a["path"] == b["path"] == c["path"]
        pa, pc = dict(a["top"]), dict(c["top"])
        assert max(abs(pa[k] - pc[k]) for k in pa) <= 1e-4
        np.testing.assert_allclose([p for _, p in a["top"]], [p for _, p in b["top"]], atol=1e-6)

    outputs = [("inspect", inspected.out + inspected.err), ("train", trained.out + trained.err),
               ("evaluate", evaluated.out + evaluated.err), ("export", exported.out + exported.err),
               ("predict", predicted.out + predicted.err), ("predict.py", done.stdout + done.stderr)]
    assert _phi_found([runs, out, audit_dir], outputs) == []
    assert _phi_found([data])  # the search can find them: they are in the source files
