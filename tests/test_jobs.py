"""The engine's long requests: a folder streamed through a model (progress carries the request's seq,
cancel answers with what it has), CSV rows, opening a bundle, and the learning-rate finder
(its suggestion rule, and the model's weights exactly as they were)."""
from __future__ import annotations

import csv
import threading

import numpy as np
import pytest

from engine import protocol, server
from engine.prediction_csv import write_csv
from tests.test_bundle_support import image_bundle, image_run  # noqa: F401 - fixtures
from tests.test_gui_fakes import png_bytes
from tests.test_server import Capture, line

WAIT_S = 20.0


class FakePredictor:
    modality = "image"
    classes = ["cat", "dog"]

    def __init__(self, gate: threading.Event | None = None):
        self.gate = gate
        self.calls = 0

    def predict_detailed(self, items):
        self.calls += 1
        if self.gate is not None and self.calls > 1:
            self.gate.wait(WAIT_S)  # hold the second chunk until the test has cancelled
        probs = np.tile([0.8, 0.2], (len(items), 1))
        errors = {i: "could not read it (broken)" for i, p in enumerate(items) if "broken" in p}
        return probs, errors

    def row(self, path, probs, top_k):  # engine.inference.Predictor.row, without a decision rule
        order = np.argsort(-probs)[:top_k]
        return {"path": path, "decision": self.classes[order[0]],
                "top": [[self.classes[i], float(probs[i])] for i in order]}


@pytest.fixture
def srv():
    out = Capture()
    s = server.Server(out, heartbeat_s=3600, stop_grace_s=WAIT_S, probe=False)
    s.begin()
    s.out = out
    yield s
    s.close()


def folder_of(tmp_path, n, broken=0, other=0):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for i in range(n):
        (d / ("sub" if i % 2 else "") / f"img_{i:04d}.png").write_bytes(png_bytes())
    for i in range(broken):
        (d / f"broken_{i}.png").write_bytes(b"no")
    for i in range(other):
        (d / f"notes_{i}.txt").write_text("x")
    return d


def test_a_folder_streams_back_every_file_with_the_request_seq(srv, tmp_path, monkeypatch):
    import engine.bundle.reader as reader

    monkeypatch.setattr(reader, "open_predictor", lambda path: FakePredictor())
    folder = folder_of(tmp_path, 150, broken=2, other=1)
    srv.handle_line(line(protocol.PredictFolder(model=str(tmp_path), folder=str(folder), top_k=5), seq=7))
    done = srv.out.wait_for(protocol.FolderPredicted)
    parts = srv.out.of(protocol.JobProgress)
    assert done.request_seq == 7 and all(p.request_seq == 7 for p in parts) and len(parts) == 3  # 153 files / 64
    rows = [r for p in parts for r in p.items]
    assert (done.total, done.done, done.unreadable, done.cancelled) == (153, 153, 3, False)
    assert len({r["path"] for r in rows}) == 153 and parts[-1].done == 153 and parts[-1].eta_s == 0
    assert all(len(r["top"]) == 2 for r in rows if "top" in r)  # top_k capped at the number of classes
    reasons = {r["path"].rsplit("/", 1)[-1]: r.get("error") for r in rows if "error" in r}
    assert reasons["broken_0.png"] == "could not read it (broken)"
    assert reasons["notes_0.txt"] == "not a kind of file this image model reads"


def test_cancel_request_stops_a_folder_and_it_answers_with_what_it_did(srv, tmp_path, monkeypatch):
    import engine.bundle.reader as reader

    gate = threading.Event()
    monkeypatch.setattr(reader, "open_predictor", lambda path: FakePredictor(gate))
    folder = folder_of(tmp_path, 200)
    srv.handle_line(line(protocol.PredictFolder(model=str(tmp_path), folder=str(folder)), seq=3))
    srv.out.wait_for(protocol.JobProgress)
    # the quick requests are answered while the job runs
    srv.handle_line(line(protocol.InspectData(paths=[str(tmp_path / "missing")]), seq=4))
    assert srv.out.wait_for(protocol.Error, lambda e: e.request_seq == 4).kind == "data"
    srv.handle_line(line(protocol.CancelRequest(target=3), seq=5))
    gate.set()
    done = srv.out.wait_for(protocol.FolderPredicted)
    assert done.cancelled and done.request_seq == 3 and 64 <= done.done < 200


def test_a_job_cancelled_while_it_waits_is_answered_cancelled(srv, tmp_path, monkeypatch):
    import engine.bundle.reader as reader

    gate = threading.Event()
    monkeypatch.setattr(reader, "open_predictor", lambda path: FakePredictor(gate))
    folder = folder_of(tmp_path, 100)
    srv.handle_line(line(protocol.PredictFolder(model=str(tmp_path), folder=str(folder)), seq=1))
    srv.handle_line(line(protocol.PredictFolder(model=str(tmp_path), folder=str(folder)), seq=2))
    srv.handle_line(line(protocol.CancelRequest(target=2), seq=3))
    gate.set()
    assert srv.out.wait_for(protocol.Error, lambda e: e.request_seq == 2).kind == "cancelled"
    assert not srv.out.wait_for(protocol.FolderPredicted).cancelled


def test_csv_has_top_k_columns_and_lists_unreadable_files_with_the_reason(tmp_path):
    out = tmp_path / "t.csv"
    n = write_csv(str(out), [{"path": "/a.png", "decision": "cat", "top": [["cat", 0.75], ["dog", 0.25]]},
                             {"path": "/b,odd.png", "error": "could not read it"}], 2)
    rows = list(csv.reader(out.open()))
    assert n == 2 and rows[0] == ["path", "decision", "label_1", "probability_1", "label_2", "probability_2", "error"]
    assert rows[1] == ["/a.png", "cat", "cat", "0.750000", "dog", "0.250000", ""]
    assert rows[2] == ["/b,odd.png", "", "", "", "", "", "could not read it"]


@pytest.mark.slow
def test_open_bundle_checks_hashes_and_describes_it(srv, image_bundle, tmp_path):  # noqa: F811
    import shutil

    srv.handle_line(line(protocol.OpenBundle(path=str(image_bundle)), seq=9))
    got = srv.out.wait_for(protocol.BundleOpened)
    assert got.request_seq == 9 and got.classes and got.modality == "image" and "val" in got.metrics
    tampered = tmp_path / "t.tsbundle"
    shutil.copytree(image_bundle, tampered)
    (tampered / "labels.json").write_text('{"classes": ["x"]}')
    srv.handle_line(line(protocol.OpenBundle(path=str(tampered)), seq=10))
    assert srv.out.wait_for(protocol.Error, lambda e: e.request_seq == 10).kind == "bundle"


# ---------------------------------------------------------------- learning-rate finder
def test_the_suggestion_is_the_steepest_descent_before_the_minimum():
    from engine.train.lr_find import suggest

    lrs = [10 ** (-7 + i * 0.25) for i in range(29)]
    # flat, then falling fastest around index 14, minimum at 20, then rising
    losses = [2.0 - 1.5 / (1 + np.exp(-(i - 14))) + (0.1 * (i - 20) ** 2 if i > 20 else 0) for i in range(29)]
    assert suggest(lrs, losses) == pytest.approx(lrs[14])
    assert suggest(lrs[:4], losses[:4]) is None
    assert suggest(lrs, sorted(losses, reverse=False)) is None  # rising from the start: no descent


def test_range_test_leaves_weights_and_buffers_exactly_as_they_were():
    import torch

    from engine.train.lr_find import range_test

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW([{"params": model[3].parameters(), "lr": 1e-3},
                             {"params": model[0].parameters(), "lr": 5e-4}])
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))

    def batches():
        while True:
            yield x, y

    out = range_test(model, opt, batches(), torch.nn.functional.cross_entropy, steps=30, start_lr=1e-5,
                     end_lr=10.0, step_fn=model)
    assert len(out["lrs"]) >= 10 and out["lrs"] == sorted(out["lrs"]) and out["stopped"] in ("range", "diverged")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running stats and step counts too
    assert not model.training  # left in the mode it was in
    assert [g["lr"] for g in opt.param_groups][1] == pytest.approx(out["lrs"][-1] * 0.5)  # ratios kept


@pytest.mark.slow
def test_find_lr_runs_on_the_runs_own_settings_and_reports_points(demo_dir, tmp_path):
    from engine.config import RunConfig
    from engine.train.lr_find import find_lr

    seen = []
    cfg = RunConfig(data=[str(demo_dir / "images")], backbone="test_tiny_cnn", input_size=32, batch_size=16,
                    runs_root=str(tmp_path / "runs"))
    out = find_lr(cfg, steps=12, start_lr=1e-5, end_lr=1.0, reporter=seen.append)
    points = [m for m in seen if isinstance(m, protocol.JobProgress)]
    assert len(out["lrs"]) == len(points) >= 5 and points[-1].total == 12
    assert "steepest" in out["rule"] and not (tmp_path / "runs").exists()  # nothing written


def test_cli_lr_find_prints_the_curve_and_the_suggestion_with_its_rule(monkeypatch, capsys, tmp_path):
    from engine import cli
    import engine.train.lr_find as lr_find

    seen = []
    monkeypatch.setattr(lr_find, "find_lr", lambda cfg, **kw: seen.append((cfg, kw)) or {
        "lrs": [1e-5, 1e-4], "losses": [1.0, 0.5], "suggestion": 1e-4, "rule": "steepest descent", "stopped": "range",
        "config_lr": 1e-3})
    assert cli.main(["lr-find", "--data", str(tmp_path), "--backbone", "tiny", "--freeze", "2", "--steps", "7"]) == 0
    cfg, kw = seen[0]
    assert (cfg.backbone, cfg.freeze, kw["steps"]) == ("tiny", 2, 7)
    out = capsys.readouterr().out
    assert "Suggested learning rate: 0.0001" in out and "steepest descent" in out
