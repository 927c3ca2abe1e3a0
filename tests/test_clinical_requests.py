"""The app's clinical requests through the engine server (issue 22): a new rule from cached
probabilities, a second site, a subgroup audit and a report, each answered to its request."""
import csv
import json
import shutil

from engine import protocol
from tests.test_bundle_support import make_images
from tests.test_clinical_bundle import binary_run  # noqa: F401
from tests.test_server import line, srv  # noqa: F401


def test_reconsider_site_subgroups_and_report_requests(srv, binary_run, tmp_path):  # noqa: F811
    from engine.evaluate import evaluate_run

    run = shutil.copytree(binary_run, tmp_path / "run")
    evaluate_run(run)
    srv.handle_line(line(protocol.Reconsider(run_dir=str(run), options={"positive": "blue", "method": "manual",
                                                                        "threshold": 0.3}), seq=21))
    reply = srv.out.wait_for(protocol.Evaluated)
    rule = reply.metrics["clinical"]["decision"]
    assert reply.request_seq == 21 and (rule["positive_class"], rule["threshold"], rule["method"]) == ("blue", 0.3, "manual")
    assert "set by hand" in rule["reason"]

    site = make_images(tmp_path / "site2", per_class=3, seed=30)
    shutil.rmtree(site / "red")
    srv.handle_line(line(protocol.EvaluateFolder(model=str(run), data=[str(site)], site="B"), seq=22))
    reply = srv.out.wait_for(protocol.Evaluated, lambda m: m.request_seq == 22)
    assert reply.site["name"] == "B" and reply.site["n"] == 6
    assert [s["name"] for s in reply.metrics["external"]] == ["B"]

    splits = json.loads((run / "splits.json").read_text())
    with open(tmp_path / "g.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "scanner"]] + [[p, "A"] for p, _, _ in splits["test"]])
    srv.handle_line(line(protocol.AuditSubgroups(run_dir=str(run), csv=str(tmp_path / "g.csv")), seq=23))
    reply = srv.out.wait_for(protocol.Evaluated, lambda m: m.request_seq == 23)
    assert reply.metrics["subgroups"]["attributes"][0]["groups"][0]["value"] == "A"

    srv.handle_line(line(protocol.SaveReport(model=str(run), out=str(tmp_path / "r.html")), seq=24))
    saved = srv.out.wait_for(protocol.ReportSaved)
    assert saved.request_seq == 24 and "Subgroups" in (tmp_path / "r.html").read_text(encoding="utf-8")

    srv.handle_line(line(protocol.AuditSubgroups(run_dir=str(run), csv=str(tmp_path / "none.csv")), seq=25))
    err = srv.out.wait_for(protocol.Error, lambda m: m.request_seq == 25)
    assert err.kind == "data" and "none.csv" in err.message
