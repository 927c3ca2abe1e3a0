"""EngineClient driving the real engine (`python -m engine`) through a tiny training run:
start -> metrics -> result -> bye, all through Qt signals."""
from __future__ import annotations

from pathlib import Path

from engine import protocol
from gui.engine_client import EngineClient
from tests.test_server_resume import needs_training, tiny_config, tiny_image_folder


@needs_training
def test_real_engine_trains_a_tiny_model(qtbot, tmp_path):
    data = tiny_image_folder(tmp_path / "data")
    client = EngineClient()
    seen = {"metric": [], "epochEnd": [], "checkpoint": [], "result": [], "error": [], "ready": []}
    for name, items in seen.items():
        getattr(client, name).connect(items.append)
    try:
        with qtbot.waitSignal(client.ready, timeout=60000):
            client.start()
        with qtbot.waitSignal(client.bye, timeout=300000) as bye:
            client.start_run(tiny_config(data, tmp_path / "runs", epochs=1))
        assert bye.args[0].reason == "completed", seen["error"]
        assert client.state == "ready"
        assert seen["metric"] and all("loss" in m.values for m in seen["metric"])
        assert [e.epoch for e in seen["epochEnd"]] == [1]
        result = seen["result"][-1]
        run_dir = Path(result.run_dir)
        assert (run_dir / "checkpoints" / "best" / "model.safetensors").is_file()
        assert result.metrics and seen["error"] == []
        qtbot.waitUntil(lambda: any(h.device for h in seen["ready"]), timeout=60000)
    finally:
        client.shutdown(timeout_ms=30000, block=True)
    assert client.state == "stopped"


def test_real_engine_answers_requests_and_stops_cleanly(qtbot):
    client = EngineClient()
    with qtbot.waitSignal(client.ready, timeout=60000) as ready:
        client.start()
    assert ready.args[0].protocol == protocol.PROTOCOL_VERSION
    with qtbot.waitSignal(client.reply, timeout=60000) as reply:
        seq = client.request(protocol.InspectData(paths=[]))
    assert reply.args[0] == seq and reply.args[1].kind == "config"
    with qtbot.waitSignal(client.stateChanged, timeout=60000, check_params_cb=lambda s: s == "stopped"):
        client.shutdown(timeout_ms=30000)
