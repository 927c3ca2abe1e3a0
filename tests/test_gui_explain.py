"""Explanations in the app (issue 23): the gallery's and the Try page's overlay toggle and opacity, a
class clicked on the Try page, highlighted words for text; against the scripted engine."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from gui.explain_model import DECIDED, Explanations, highlight_html, top_words
from gui.window import RESULTS, TRY
from tests.test_gui_fakes import drop_paths, png_bytes
from tests.test_gui_workflow import env, open_window  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def test_the_model_keeps_one_answer_per_file_and_class_and_one_setting():
    m = Explanations()
    seen = []
    m.events.arrived.connect(seen.append)
    assert not m.wanted("a.png")  # overlays off, no model
    m.reset("/runs/r")
    m.set_show(True)
    assert m.wanted("a.png")
    m.begin("a.png")
    assert not m.wanted("a.png")  # on its way
    m.store("a.png", DECIDED, {"target": 2, "base": "b", "heat": "h"})
    assert m.get("a.png")["target"] == 2 and m.get("a.png", 2) is not None  # the decided class is class 2
    assert not m.wanted("a.png", 2) and m.wanted("a.png", 1)
    m.choose("a.png", 1)
    assert m.get("a.png") is None  # class 1's map is not here yet
    assert seen == ["a.png", "a.png"]
    m.set_opacity(3)
    assert m.opacity == 1.0
    m.reset("/runs/other")
    assert m.items == {} and m.chosen == {}


def test_words_are_highlighted_in_place_and_escaped():
    text = "a <b> word & more"
    words = [["a", 0.05, 0, 1], ["<b>", 1.0, 2, 5], ["word", -0.8, 6, 10], ["more", 0.3, 13, 17]]
    out = highlight_html(text, words)
    assert "&lt;b&gt;" in out and "&amp;" in out and "<b>" not in out
    assert out.count("<span") == 3  # 'a' is below the threshold
    assert "255, 140, 0" in out and "60, 130, 255" in out  # for and against
    assert top_words(words, 2) == ["<b>", "more"]
    assert highlight_html(text, words, limit=5).endswith("…")


def _wait_for_maps(qtbot, w, fake, n):
    qtbot.waitUntil(lambda: len(fake.explained) >= n and not w.explain_controller.model.pending, timeout=5000)


def test_gallery_and_try_page_show_maps_with_one_toggle(qtbot, env, tmp_path):
    w, fake = open_window(qtbot)
    fake.classes = ["cat", "dog"]
    files = []
    for i, name in enumerate(("cat", "dog")):
        p = tmp_path / f"{name}.png"
        p.write_bytes(png_bytes((200, 30, 30) if i else (30, 30, 200), size=16))
        files.append(str(p))
    split = {"accuracy": 0.5, "classes": ["cat", "dog"], "confusion_matrix": [[0, 1], [1, 0]],
             "confident_errors": [{"path": files[0], "true": "cat", "predicted": "dog", "probability": 0.9},
                                  {"path": files[1], "true": "dog", "predicted": "cat", "probability": 0.8}]}
    w.results.set_result(str(tmp_path / "run"), {"classes": ["cat", "dog"], "test": split})
    assert w.go(RESULTS)
    page = w.results_page
    qtbot.waitUntil(lambda: len(page.thumbs) == 2, timeout=5000)
    plain = page.gallery.item(0).icon().pixmap(page.icon_size).toImage()
    assert not fake.explained  # nothing is computed until asked for
    page.overlay.toggle.setChecked(True)
    _wait_for_maps(qtbot, w, fake, 2)
    assert sorted(fake.explained, key=str) == [(files[0], 1), (files[1], 0)], fake.explained  # the class it said
    shown = page.gallery.item(0).icon().pixmap(page.icon_size).toImage()
    corner = shown.pixelColor(1, 1)
    assert corner.red() > 150 and corner.blue() < 100 and shown != plain  # the map's red corner on grey
    page.overlay.slider.setValue(0)
    assert w.models.explain.opacity == 0.0
    faded = page.gallery.item(0).icon().pixmap(page.icon_size).toImage().pixelColor(1, 1)
    assert abs(faded.red() - faded.blue()) < 20  # only the grey base left
    page.overlay.toggle.setChecked(False)
    assert page.gallery.item(0).icon().pixmap(page.icon_size).toImage() == plain

    # the Try page shares the setting: on there, the dropped file's map of the decided class, then a clicked one
    w.try_page.overlay.toggle.setChecked(True)
    assert page.overlay.toggle.isChecked()
    assert w.go(TRY)
    drop_paths(w, [files[1]])
    qtbot.waitUntil(lambda: bool(w.results.predictions), timeout=5000)
    _wait_for_maps(qtbot, w, fake, 3)
    assert fake.explained[-1] == (files[1], None)
    assert "cat" in w.try_page.captions[files[1]].text()
    w.try_page.classChosen.emit(files[1], 1)
    _wait_for_maps(qtbot, w, fake, 4)
    assert fake.explained[-1] == (files[1], 1)
    qtbot.waitUntil(lambda: "dog" in w.try_page.captions[files[1]].text(), timeout=5000)
    assert "Other classes" not in w.try_page.captions[files[1]].text()  # both classes have bars already
    assert not QImage(w.try_page.thumb_cells[files[1]].pixmap().toImage()).isNull()


def test_text_files_get_highlighted_words(qtbot, env, tmp_path):
    w, fake = open_window(qtbot)
    fake.classes = ["ham", "spam"]
    note = tmp_path / "note.txt"
    note.write_text("winner claim your prize now\n", encoding="utf-8")
    w.results.set_result(str(tmp_path / "run"), {"classes": ["ham", "spam"], "test": {"classes": ["ham", "spam"]}})
    w.try_page.text_mode = w.results_page.text_mode = True
    w.models.explain.set_show(True)
    w.results.set_predictions([{"path": str(note), "top": [["ham", 0.7], ["spam", 0.3]]}])
    qtbot.waitUntil(lambda: "<span" in w.try_page.text_cells[str(note)].text(), timeout=5000)
    assert "winner</span>" in w.try_page.text_cells[str(note)].text()


def test_a_class_without_a_bar_is_one_click_away_on_the_try_page(qtbot, env, tmp_path):
    w, fake = open_window(qtbot)
    classes = ["ant", "bee", "cat", "dog", "eel"]
    fake.classes = classes
    picture = tmp_path / "x.png"
    picture.write_bytes(png_bytes(size=16))
    w.results.set_result(str(tmp_path / "run"), {"classes": classes, "test": {"classes": classes}})
    w.models.explain.set_show(True)
    assert w.go(TRY)
    w.results.set_predictions([{"path": str(picture), "top": [["ant", 0.7], ["bee", 0.2], ["cat", 0.1]]}])
    caption = w.try_page.captions[str(picture)]
    qtbot.waitUntil(lambda: "Other classes" in caption.text(), timeout=5000)
    assert "<a href='3'>dog</a>" in caption.text() and "<a href='4'>eel</a>" in caption.text()
    caption.linkActivated.emit("4")
    qtbot.waitUntil(lambda: "eel" in caption.text().split("Other classes")[0], timeout=5000)
    assert fake.explained[-1] == (str(picture), 4)
