"""`transfer-studio report`: one self-contained HTML file with every section the issue lists, the
same for a run and its bundle, printable to PDF through Qt (issue 22)."""
import base64
import csv
import json
import re
import shutil

import pytest

from engine.cli import main
from tests.test_bundle_support import image_run, make_images, text_run  # noqa: F401
from tests.test_clinical_bundle import binary_run  # noqa: F401


@pytest.fixture
def audited_run(binary_run, tmp_path):
    run = shutil.copytree(binary_run, tmp_path / "run")
    splits = json.loads((run / "splits.json").read_text())
    with open(tmp_path / "g.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "sex"]] + [[p, "F" if i % 2 else "M"]
                                                      for i, (p, _, _) in enumerate(splits["test"])])
    assert main(["evaluate", "--model", str(run), "--subgroups", str(tmp_path / "g.csv"), "--positive", "green"]) == 0
    site = make_images(tmp_path / "site2", per_class=4, seed=23)
    shutil.rmtree(site / "red")
    assert main(["evaluate", "--model", str(run), "--data", str(site), "--site", "Hospital B"]) == 0
    return run


def test_report_of_a_run_is_self_contained_and_has_every_section(audited_run, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(audited_run), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    for heading in ("Data and split", "Decision rule", "Figures with 95% intervals", "Curves", "Calibration",
                    "Confusion matrix (test, at the threshold)", "Second site", "Hospital B", "Subgroups",
                    "Examples of errors", "Limits"):
        assert heading in html, heading
    assert "Positive class: green." in html and "because you chose it" in html
    # self-contained: nothing is fetched from anywhere, every picture is a data: URI
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)
    svgs = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(svgs) >= 3  # ROC, PR, reliability
    assert all(base64.b64decode(s).startswith(b"<svg") for s in svgs)
    assert "data:image/png;base64," in html  # thumbnails of the errors
    assert str(tmp_path) not in html  # no home folders: paths are relative to the data folder


def test_report_of_the_bundle_matches_the_run(audited_run, tmp_path):
    bundle = tmp_path / "b.tsbundle"
    assert main(["export", str(audited_run), "--out", str(bundle)]) == 0
    assert main(["report", str(bundle), "--out", str(tmp_path / "b.html")]) == 0
    html = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "saved bundle" in html and "Hospital B" in html and "Subgroups" in html and "Positive class: green." in html


def test_report_prints_to_pdf_with_qt(audited_run, tmp_path, qapp):
    from engine.report import write_report
    from gui.report_print import html_to_pdf

    html = write_report(audited_run, tmp_path / "r.html").read_text(encoding="utf-8")
    pdf = html_to_pdf(html, tmp_path / "r.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3


@pytest.mark.parametrize("fixture", ["image_run", "text_run"])
def test_multiclass_report_shows_each_class_against_the_rest(fixture, request, tmp_path):
    from engine.evaluate import evaluate_run
    from engine.report import write_report

    run = shutil.copytree(request.getfixturevalue(fixture), tmp_path / "run")
    metrics = evaluate_run(run)
    assert metrics["clinical"]["decision"]["threshold"] is None
    html = write_report(run, tmp_path / "r.html").read_text(encoding="utf-8")
    svgs = [base64.b64decode(s).decode() for s in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)]
    assert any("ROC, each class against the rest" in s for s in svgs) and "vs rest" in html
    assert "Confusion matrix (test)" in html and "Decision rule" in html
