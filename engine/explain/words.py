"""Word scores as text a person reads (standard library only: the app and the report both use it).

Scores are signed, in -1..1 (engine/explain/text_maps.py): warm tints for words that spoke for the
class, cool for words against it, stronger for larger scores; small ones are left plain."""
from __future__ import annotations

import html

PLAIN_BELOW = 0.15  # |score| under this is not tinted: the eye should go to what mattered


def highlight_html(text: str, words: list, limit: int = 0) -> str:
    """The text with each scored word [word, score, start, end] tinted in place (HTML-escaped).
    `limit` > 0 cuts the text at that character, with an ellipsis."""
    out, pos = [], 0
    end = limit if 0 < limit < len(text) else len(text)
    for _word, score, start, stop in words:
        if start >= end:
            break
        out.append(html.escape(text[pos:start]))
        piece = html.escape(text[start:min(stop, end)])
        s = float(score)
        if abs(s) >= PLAIN_BELOW:
            rgb = "255, 140, 0" if s > 0 else "60, 130, 255"
            out.append(f"<span style='background-color: rgba({rgb}, {0.25 + 0.6 * min(1.0, abs(s)):.2f})'"
                       f" title='{s:+.2f}'>{piece}</span>")
        else:
            out.append(piece)
        pos = min(stop, end)
    out.append(html.escape(text[pos:end]))
    return "".join(out) + ("…" if end < len(text) else "")


def top_words(words: list, n: int = 3) -> list[str]:
    """The n words that spoke most for the class (positive scores only)."""
    ranked = sorted((w for w in words if float(w[1]) > 0), key=lambda w: -float(w[1]))
    return [str(w[0]) for w in ranked[:n]]
