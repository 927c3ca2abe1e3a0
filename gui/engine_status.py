"""How the engine process is doing, as the window shows it (Qt-free): starting, ready, not
responding or stopped, and the devices its hello listed. Emits `changed`."""
from __future__ import annotations

from .events import EventGroup

STATE_TEXT = {"starting": "Engine starting…", "ready": "Engine ready", "not_responding": "Engine not responding…",
              "crashed": "Engine stopped"}


class EngineStatus:
    def __init__(self) -> None:
        self.events = EventGroup(changed=())
        self.state = "starting"
        self.hello = None

    def set_state(self, state: str, hello=None) -> None:
        """`hello` (a protocol Hello) when the engine says who it is; cleared when it stops."""
        if hello is not None:
            self.hello = hello
        elif state == "crashed":
            self.hello = None
        self.state = state
        self.events.changed.emit()

    @property
    def device(self) -> str:
        return str(getattr(self.hello, "device", "") or "cpu")

    @property
    def devices(self) -> list:
        return list(getattr(self.hello, "devices", []) or [])

    def device_name(self) -> str:
        """The accelerator's own name (e.g. "NVIDIA H100"), else the device kind in capitals."""
        h = self.hello
        if h is None:
            return ""
        for d in self.devices:
            if isinstance(d, dict) and d.get("kind") == self.device.split(":")[0] and d.get("name"):
                return str(d["name"])
        return self.device.upper()

    def text(self) -> str:
        text = STATE_TEXT.get(self.state, self.state)
        if self.state == "ready" and self.device_name():
            text += f"\non {self.device_name()}"
        return text
