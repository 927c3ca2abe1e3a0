"""A second site and a subgroup audit (issue 22): classes mapped by name, unknown ones refused,
the drop in each figure with its interval, per-subgroup figures and the small-group warning."""
import csv
import json
import shutil

import numpy as np
import pytest

from engine.cli import main
from engine.evaluate.subgroups import attributes_from_tags, audit, read_attributes
from tests.test_bundle_support import make_images
from tests.test_clinical_bundle import binary_run  # noqa: F401


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_audit_figures_per_group_gap_and_small_group_warning(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0.01, 0.99)
    probs = np.c_[1 - s, s]
    paths = [str(tmp_path / f"img{i}.png") for i in range(n)]
    sex = ["F" if i % 2 else "M" for i in range(n)]
    rows = [["path", "sex", "scanner"]] + [[f"img{i}.png", sex[i], "B" if i < 12 else "A"] for i in range(n)]
    csv_path = _write_csv(tmp_path / "groups.csv", rows)
    rule = {"temperature": 1.0, "positive_class": "sick", "threshold": 0.5}
    a = audit(y, probs, paths, ["well", "sick"], rule, csv_path)
    assert a["matched"] == n and a["unmatched"] == 0
    by = {x["name"]: x for x in a["attributes"]}
    women = next(g for g in by["sex"]["groups"] if g["value"] == "F")
    mask = np.array(sex) == "F"
    pred = s[mask] >= 0.5
    assert women["sensitivity"] == pytest.approx((pred & (y[mask] == 1)).sum() / (y[mask] == 1).sum())
    assert women["n"] == mask.sum() and women["warning"] is None
    small = next(g for g in by["scanner"]["groups"] if g["value"] == "B")
    assert small["n"] == 12 and "too small to judge" in small["warning"]
    assert "sensitivity" not in by["scanner"]["gaps"]  # one judged group: no gap claimed
    gap = by["sex"]["gaps"]["sensitivity"]
    vals = {g["value"]: g["sensitivity"] for g in by["sex"]["groups"]}
    assert gap["gap"] == pytest.approx(max(vals.values()) - min(vals.values()))
    json.dumps(a, allow_nan=False)


def test_subgroup_csv_problems_are_one_sentence(tmp_path):
    from engine.errors import DataError

    bad = _write_csv(tmp_path / "bad.csv", [["path", "sex"], ["a.png", "F", "extra"]])
    with pytest.raises(DataError, match="Row 2 .* 3 fields"):
        read_attributes(bad)
    ok = _write_csv(tmp_path / "ok.csv", [["path", "sex"], ["elsewhere.png", "F"]])
    with pytest.raises(DataError, match="None of the 1 scored files is listed"):
        audit([1], [[0.2, 0.8]], [str(tmp_path / "x.png")], ["a", "b"], {"temperature": 1.0}, ok)


def test_dicom_tags_become_attributes():
    assert attributes_from_tags({"PatientSex": "F", "PatientAge": "047Y", "Manufacturer": "GE",
                                 "ManufacturerModelName": ""}) == {"sex": "F", "age": "40-49", "manufacturer": "GE"}


def test_second_site_and_subgroups_from_the_cli(binary_run, tmp_path, capsys):
    run = shutil.copytree(binary_run, tmp_path / "run")
    splits = json.loads((run / "splits.json").read_text())
    rows = [["path", "sex"]] + [[p, "F" if i % 2 else "M"] for i, (p, _, _) in enumerate(splits["test"])]
    groups = _write_csv(tmp_path / "groups.csv", rows)
    assert main(["evaluate", "--model", str(run), "--subgroups", str(groups)]) == 0
    out = capsys.readouterr().out
    assert "Subgroups of the test split (8 examples matched" in out and "too small to judge" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert [a["name"] for a in metrics["subgroups"]["attributes"]] == ["sex"]

    site = make_images(tmp_path / "site2", per_class=6, seed=21)
    shutil.rmtree(site / "red")
    assert main(["evaluate", "--model", str(run), "--data", str(site), "--site", "Hospital B", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ext = result["external"]
    assert ext["name"] == "Hospital B" and ext["n"] == 12
    sens = ext["comparison"]["sensitivity"]
    internal = metrics["clinical"]["test"]["at_threshold"]["sensitivity"]
    assert sens["internal"] == pytest.approx(internal)
    assert sens["difference"] == pytest.approx(sens["external"] - internal)
    assert sens["ci95"][0] <= sens["difference"] <= sens["ci95"][1]
    # the run keeps the site: metrics.json (and so the card and report) shows it under the current rule
    kept = json.loads((run / "metrics.json").read_text())["external"]
    assert [s["name"] for s in kept] == ["Hospital B"] and kept[0]["n"] == 12

    shutil.copytree(tmp_path / "site2" / "blue", tmp_path / "site3" / "purple")
    assert main(["evaluate", "--model", str(run), "--data", str(tmp_path / "site3")]) == 2
    assert "class(es) 'purple' that the model does not know" in capsys.readouterr().err


def test_model_card_shows_the_second_site_and_subgroups(binary_run, tmp_path, capsys):
    run = shutil.copytree(binary_run, tmp_path / "run")
    splits = json.loads((run / "splits.json").read_text())
    groups = _write_csv(tmp_path / "g.csv", [["path", "site"]] + [[p, "north" if i % 2 else "south"]
                                                                  for i, (p, _, _) in enumerate(splits["test"])])
    assert main(["evaluate", "--model", str(run), "--subgroups", str(groups)]) == 0
    site = make_images(tmp_path / "site2", per_class=4, seed=22)
    shutil.rmtree(site / "red")
    assert main(["evaluate", "--model", str(run), "--data", str(site), "--site", "Clinic C"]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "b.tsbundle")]) == 0
    card = (tmp_path / "b.tsbundle" / "MODEL_CARD.md").read_text()
    assert "## Second site: Clinic C (8 examples)" in card and "| Sensitivity |" in card
    assert "## Subgroups (test split)" in card and "| north | 4 |" in card and "too small to judge" in card
