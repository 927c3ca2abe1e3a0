"""Offline by construction: the env switch, a scan of the code for network use, the audit log."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import audit
from engine.offline import OFFLINE_ENV, allow_network_for_pack, enforce_offline_env, is_offline_env

ROOT = Path(__file__).resolve().parents[1]
NETWORK_ALLOWED = {"engine/library/pack.py"}  # `transfer-studio pack`, the one command that downloads
NETWORK_MODULES = {"requests", "urllib.request", "urllib3", "http.client", "httpx", "aiohttp", "socket",
                   "ftplib", "smtplib", "websocket", "websockets"}
NETWORK_CALLS = {"snapshot_download", "hf_hub_download", "load_state_dict_from_url", "download_url_to_file",
                 "get_state_dict", "urlopen", "urlretrieve", "create_connection"}


def _sources():
    for top in ("engine", "gui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def test_enforce_offline_env_sets_everything_and_pack_can_undo_it(monkeypatch):
    for key in OFFLINE_ENV:
        monkeypatch.setenv(key, "0")
    enforce_offline_env()
    enforce_offline_env()
    assert is_offline_env() and os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    allow_network_for_pack()
    assert "HF_HUB_OFFLINE" not in os.environ and not is_offline_env()
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"  # telemetry stays off even when packing
    enforce_offline_env()


def test_every_from_pretrained_call_is_local_files_only():
    offenders = []
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) == "from_pretrained":
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("local_files_only"), ast.Constant) and kw["local_files_only"].value is True
                if not ok:
                    offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], "from_pretrained without local_files_only=True"


def test_nothing_but_pack_uses_network_apis():
    offenders = []
    for rel, tree in _sources():
        if rel in NETWORK_ALLOWED:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:  # `from .requests import` is this project's own
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                names = []
            offenders += [f"{rel}:{node.lineno} imports {n}" for n in names if n in NETWORK_MODULES]
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name in NETWORK_CALLS:
                    offenders.append(f"{rel}:{node.lineno} calls {name}")
                for k in node.keywords:
                    if k.arg == "pretrained" and not (isinstance(k.value, ast.Constant) and k.value.value is False):
                        offenders.append(f"{rel}:{node.lineno} pretrained={ast.unparse(k.value)}")
                    if k.arg == "trust_remote_code" and not (isinstance(k.value, ast.Constant) and k.value.value is False):
                        offenders.append(f"{rel}:{node.lineno} trust_remote_code={ast.unparse(k.value)}")
    assert offenders == []


def test_the_scan_would_catch_a_download():
    tree = ast.parse("from huggingface_hub import snapshot_download\nsnapshot_download('x')\n"
                     "import timm\ntimm.create_model('resnet18', pretrained=True)\n")
    calls = [_call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "snapshot_download" in calls
    assert any(k.arg == "pretrained" for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords)


ENGINE_PROBE = r'''
import json, os, sys, types
fake = types.ModuleType("engine.server")
def probe(out, inp):
    import huggingface_hub.constants as c
    import transformers  # noqa: F401  (what the engine imports for text models)
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")
    sys.stderr.write("PROBE " + json.dumps({"env": {k: os.environ.get(k) for k in keys},
                                             "hub_offline": bool(c.HF_HUB_OFFLINE)}) + "\n")
    sys.stderr.flush()
    return 0
fake.serve = probe
sys.modules["engine.server"] = fake
from engine.__main__ import main
main([])
'''


def test_engine_process_is_offline_before_any_hugging_face_import():
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", ENGINE_PROBE], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, proc.stderr[-3000:]
    probe = json.loads(line[len("PROBE "):])
    assert probe["env"] == {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    assert probe["hub_offline"] is True


# ------------------------------------------------------------------ audit log
@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_STUDIO_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_audit_records_are_appended_with_time_user_and_hashes(data_dir, tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"abc")
    first = audit.record("export", bundle=str(tmp_path / "b"), files=audit.file_hashes([f]))
    raw_before = (data_dir / "audit.jsonl").read_bytes()
    audit.record("delete", what="run", id="r1")
    raw_after = (data_dir / "audit.jsonl").read_bytes()
    assert raw_after.startswith(raw_before)  # appended, earlier lines untouched
    records = audit.read_log()
    assert [r["event"] for r in records] == ["export", "delete"]
    assert records[0] == first and first["user"] and first["time"].endswith("+00:00")
    assert first["files"] == {str(f.resolve()): "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    assert b"abc" not in raw_after


def test_audit_refuses_contents_and_reserved_fields(data_dir):
    with pytest.raises(TypeError, match="raw bytes"):
        audit.record("import", data=b"\x00\x01")
    with pytest.raises(TypeError, match="hash instead of contents"):
        audit.record("import", note="x" * 10_000)
    with pytest.raises(TypeError, match="reserved"):
        audit.record("import", user="someone else")
    assert audit.read_log() == []


def test_audit_log_survives_a_torn_last_line(data_dir):
    audit.record("train", run_dir="/runs/a")
    with open(data_dir / "audit.jsonl", "a", encoding="utf-8") as f:
        f.write('{"time": "2026-01-01", "event": "tr')
    assert [r["event"] for r in audit.read_log()] == ["train"]
    audit.record("export", bundle="/out/b")
    assert [r["event"] for r in audit.read_log()] == ["train", "export"]
