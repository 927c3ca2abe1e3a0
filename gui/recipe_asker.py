"""Asking the engine what a start with the current choices would use (its `resolve_config` request).

One request per burst of changes (a short timer), the latest answer wins, and nothing is asked
while a run trains (the run's own settings are asked for just before it starts).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from engine import protocol as P

from .errors_text import plain_error
from .train_model import ConfigError, build_config


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
        s, w = self.session, self.session.w
        if not (w.data.ready and w.backbones.selected) or w.run.running:
            return
        try:
            config = build_config(w.data.paths, w.backbones.selected, w.backbones.freeze, w.train_page.settings(),
                                  str(w.runs_root))
        except (ValueError, ConfigError) as exc:
            w.recipe.set_error(str(exc))
            s.changed.emit("recipe")
            return
        if config == self.asked and (w.recipe.ready or w.recipe.pending):
            return
        self.asked = config
        w.recipe.pending = True

        def done(reply, asked=config):
            if asked == self.asked:  # a later change has its own request on the way
                w.recipe.set_reply(list(reply.settings or []), dict(reply.facts or {}), dict(reply.estimate or {}))
                s.changed.emit("recipe")

        def failed(err, asked=config):
            if asked == self.asked:
                w.recipe.set_error(plain_error(err))
                s.changed.emit("recipe")

        s.request(P.ResolveConfig(config=config), done, failed)
