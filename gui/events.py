"""Typed notifications for the Qt-free view models (napari's `model.events.<name>.connect`).

A model says what changed by emitting one named event with typed arguments; each page
subscribes to the events of the model it shows, so the controller never has to know which
views exist. Plain Python, no Qt: the models stay testable without a QApplication, and a
callback runs synchronously in the emitting thread (always the GUI thread here).
"""
from __future__ import annotations

from typing import Callable


class Event:
    """One kind of notification; `signature` names its arguments, for readers and for `emit`'s check."""

    def __init__(self, name: str, signature: tuple[str, ...] = ()):
        self.name = name
        self.signature = signature
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable | None = None) -> None:
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        if len(args) != len(self.signature):
            raise TypeError(f"event {self.name!r} takes ({', '.join(self.signature)}), got {len(args)} argument(s)")
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"<Event {self.name}({', '.join(self.signature)}): {len(self._callbacks)} subscriber(s)>"


class EventGroup:
    """The events one model emits, as attributes: `EventGroup(changed=(), log=("level", "text"))`."""

    def __init__(self, **events: tuple[str, ...]):
        self._names = tuple(events)
        for name, signature in events.items():
            setattr(self, name, Event(name, tuple(signature)))

    def names(self) -> tuple[str, ...]:
        return self._names

    def disconnect_all(self) -> None:
        for name in self._names:
            getattr(self, name).disconnect()
