"""Asking the engine what a start with the current choices would use (its `resolve_config` request).

One request per burst of changes (a short timer), the latest answer wins, and nothing is asked
while a run trains (the run's own settings are asked for just before it starts).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from engine import protocol as P

from .errors_text import plain_error
from .train_model import ConfigError


class RecipeAsker(QObject):
    def __init__(self, session):
        super().__init__(session)
        self.session = session
        self.asked: dict | None = None  # the config the latest request carried
        self.timer = QTimer(self, singleShot=True, interval=250)
        self.timer.timeout.connect(self.ask)

    def soon(self) -> None:
        self.timer.start()

    def now_if_due(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.ask()

    def ask(self) -> None:
        s, m = self.session, self.session.m
        if not (m.data.ready and m.backbones.selected) or m.run.running:
            return
        try:
            config = s.current_config()
        except (ValueError, ConfigError) as exc:
            m.recipe.set_error(str(exc))
            return
        if config == self.asked and (m.recipe.ready or m.recipe.pending):
            return
        self.asked = config
        m.recipe.pending = True

        def done(reply, asked=config):
            if asked == self.asked:  # a later change has its own request on the way
                m.recipe.set_reply(list(reply.settings or []), dict(reply.facts or {}), dict(reply.estimate or {}))

        def failed(err, asked=config):
            if asked == self.asked:
                m.recipe.set_error(plain_error(err))

        s.request(P.ResolveConfig(config=config), done, failed, busy="recipe")
