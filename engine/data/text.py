"""Reading text examples: UTF-8 (BOM stripped), bad bytes replaced and counted.

Standard library only and no package-relative imports: model bundles embed this file
verbatim in their predict.py (see engine/bundle/writer.py), as they do images.py.

UTF-16 files with a byte-order mark (what Windows Notepad calls "Unicode") are decoded
as UTF-16 instead of turning into a page of replacement characters.
"""
from __future__ import annotations

import codecs
import os

TEXT_EXTS = frozenset({".txt", ".text"})
REPLACEMENT = "\ufffd"
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode_text(raw: bytes) -> tuple[str, int]:
    """(text, number of characters that had to be replaced) for the bytes of one text."""
    encoding, start = "utf-8", 0
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            encoding, start = enc, len(bom)
            break
    body = raw[start:]
    try:
        return body.decode(encoding), 0
    except UnicodeDecodeError:
        text = body.decode(encoding, errors="replace")
        genuine = body.count(REPLACEMENT.encode(encoding))  # U+FFFD already in the file
        return text, max(0, text.count(REPLACEMENT) - genuine)


def clean_text(text: str) -> str:
    """What the model sees: surrounding whitespace dropped (nothing else is changed)."""
    return text.strip()


def read_text(example) -> str:
    """The text of an Example (CSV rows carry it) or of a text file path."""
    text = getattr(example, "text", None)
    if text is not None:
        return text
    path = os.fspath(getattr(example, "path", example))
    with open(path, "rb") as f:
        return clean_text(decode_text(f.read())[0])
