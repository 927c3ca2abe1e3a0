"""The bundled demo data and `transfer-studio inspect` on it and on broken folders."""
import json
import subprocess
import sys

from PIL import Image

from engine.cli import main
from engine.data import format_report, health_report, scan
from tests.conftest import ROOT


def test_demo_images_scan_cleanly(demo_dir):
    ds = scan([demo_dir / "images"])
    rep = ds.report.to_dict()
    assert ds.modality == "image" and len(ds.classes) == 5
    assert all(c["count"] == 60 for c in rep["classes"])
    assert not rep["skipped"] and not rep["ignored"]
    assert not any(v for k, v in rep["duplicates"].items() if k != "near")  # no exact copies
    # one pair of near-identical sneakers (Fashion-MNIST holds a few): found, kept together, only noted
    assert [[p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1] for p in pair] for pair in rep["duplicates"]["near"]] \
        == [["Sneaker/030.png", "Sneaker/034.png"]]
    assert {f["code"]: f["severity"] for f in rep["findings"]}.get("near_duplicates") == "info"
    assert rep["image"]["modes"] == {"L": 300} and rep["image"]["width"]["max"] == 28
    assert not [f for f in rep["findings"] if f["severity"] != "info"]


def test_demo_text_scans_cleanly(demo_dir):
    ds = scan([demo_dir / "text"])
    rep = ds.report.to_dict()
    assert ds.modality == "text" and ds.classes == ["computers", "food", "law", "science"]
    assert all(c["count"] == 60 for c in rep["classes"])
    assert rep["text"]["undecodable_files"] == 0 and not rep["skipped"]
    assert not [f for f in rep["findings"] if f["severity"] != "info"]


def test_demo_is_small_and_documented(demo_dir):
    total = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file())
    assert total < 5_000_000
    readme = (demo_dir / "README.md").read_text()
    assert "MIT" in readme and "BSD" in readme and (demo_dir / "LICENSE").is_file()


def test_inspect_prints_class_table(demo_dir, capsys):
    assert main(["inspect", str(demo_dir / "images")]) == 0
    out = capsys.readouterr().out
    for name in ("T-shirt_top", "Trouser", "Sneaker", "Bag", "Ankle_boot"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        assert line.split()[1] == "60"
    assert "300 usable images in 5 classes" in out


def test_inspect_json(demo_dir, capsys):
    assert main(["inspect", str(demo_dir / "text"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["modality"] == "text" and [c["name"] for c in rep["classes"]] == ["computers", "food", "law", "science"]


def test_inspect_fatal_folder(tmp_path, capsys):
    for i in range(3):
        Image.new("RGB", (4, 4), (i, i, i)).save(tmp_path / f"{i}.png")
    assert main(["inspect", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert f"{tmp_path} has no class folders" in err and err.count("\n") == 1
    assert main(["inspect", str(tmp_path / "nope"), "--json"]) != 0
    cap = capsys.readouterr()
    assert "does not exist" in json.loads(cap.out)["fatal"] and "does not exist" in cap.err


def test_format_report_shows_findings_and_fatal(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for i in range(3):
        Image.new("RGB", (4, 4), (i + 1, 0, 0)).save(tmp_path / "a" / f"{i}.png")
        Image.new("RGB", (4, 4), (0, i + 1, 0)).save(tmp_path / "b" / f"{i}.png")
    (tmp_path / "a" / "dup.png").write_bytes((tmp_path / "a" / "0.png").read_bytes())
    (tmp_path / "b" / "z.png").write_bytes(b"")
    text = format_report(health_report([tmp_path]))
    assert "exact copy" in text and "empty (0-byte)" in text and "-> " in text and "z.png" in text
    (tmp_path / "b" / "1.png").unlink()
    (tmp_path / "b" / "2.png").unlink()
    rep = health_report([tmp_path])
    assert "fewer than 2 usable" in rep["fatal"]
    assert "PROBLEM: " in format_report(rep)


def test_data_package_does_not_import_torch():
    code = "import sys, engine.data; engine.data.scan; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
