"""Reading text examples: UTF-8 (BOM stripped), bad bytes replaced and counted.

Standard library only and no package-relative imports: model bundles embed this file
verbatim in their predict.py (see engine/bundle/writer.py), as they do images.py.

UTF-16 files with a byte-order mark (what Windows Notepad calls "Unicode") are decoded
as UTF-16 instead of turning into a page of replacement characters.

A model reads a few hundred tokens of a text and truncates the rest, so only the first
READ_BYTES of a file are ever read (a 50 MB file once took a run to 12 GB of memory), and
a file over MAX_TEXT_BYTES is not one example at all: it is skipped as oversized. A file
whose characters are mostly undecodable bytes or control codes (a binary file named .txt, or
text in another encoding such as Windows-1251) is not text a model can learn from: see
`not_text_share`.
"""
from __future__ import annotations

import codecs
import os
import re

TEXT_EXTS = frozenset({".txt", ".text"})
REPLACEMENT = "\ufffd"
MAX_TOKENS = 512  # the most tokens any text model here reads (BERT, RoBERTa)
BYTES_PER_TOKEN = 64  # a token is 4-6 bytes of English or CJK text; room for URLs, code and odd scripts
READ_BYTES = MAX_TOKENS * BYTES_PER_TOKEN  # 32 KiB: more than any model reads; the rest is never loaded
MAX_TEXT_BYTES = 10_000_000  # one "text" file over 10 MB is a log or a dump, not an example
# above this share of undecodable bytes and control codes a file is not text. Measured: random bytes
# 0.4-0.6, a PNG 0.55, gzip 0.59, UTF-16 without a BOM 0.5, Russian in Windows-1251 0.79; kept: German
# in Latin-1 0.03, French in Latin-1 0.16, the one word "café" in Latin-1 0.25
NOT_TEXT_SHARE = 0.3
_CONTROL_CODES = re.compile("[\x00-\x08\x0e-\x1f]")  # C0 controls but tab, newline, vertical tab, form feed, CR


class TextTooLarge(ValueError):
    """A text file over MAX_TEXT_BYTES; str() is the short reason."""
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _decode(body: bytes, encoding: str, errors: str, partial: bool) -> str:
    if not partial:
        return body.decode(encoding, errors)
    # the start of a longer text: a character the cut split in two is left out, not replaced
    return codecs.getincrementaldecoder(encoding)(errors).decode(body, final=False)


def decode_text(raw: bytes, partial: bool = False) -> tuple[str, int]:
    """(text, number of characters that had to be replaced) for the bytes of one text
    (`partial`: the bytes are only its first part)."""
    encoding, start = "utf-8", 0
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            encoding, start = enc, len(bom)
            break
    body = raw[start:]
    try:
        return _decode(body, encoding, "strict", partial), 0
    except UnicodeDecodeError:
        text = _decode(body, encoding, "replace", partial)
        genuine = body.count(REPLACEMENT.encode(encoding))  # U+FFFD already in the file
        return text, max(0, text.count(REPLACEMENT) - genuine)


def not_text_share(text: str, replaced: int) -> float:
    """The share of a decoded text's characters that are replaced bytes or control codes (not tab or
    newline): what a tokenizer would turn into noise."""
    if not text:
        return 0.0
    controls = len(_CONTROL_CODES.findall(text))  # a regex: 0.27 ms per 32 KiB text, a Python loop 0.77
    return min(1.0, (replaced + controls) / len(text))


def clean_text(text: str) -> str:
    """What the model sees: surrounding whitespace dropped, and no more than it could ever read."""
    text = text.strip()
    return text[:READ_BYTES].rstrip() if len(text) > READ_BYTES else text


def read_head(f) -> bytes:
    """The first READ_BYTES + 1 bytes of an open binary file (one more tells whether it goes on).

    Raises TextTooLarge for a file over MAX_TEXT_BYTES."""
    size = os.fstat(f.fileno()).st_size
    if size > MAX_TEXT_BYTES:
        raise TextTooLarge(f"larger than {MAX_TEXT_BYTES // 1_000_000} MB ({size:,} bytes), too long to be one text")
    return f.read(READ_BYTES + 1)


def text_of_head(head: bytes) -> tuple[str, int, bool]:
    """(text, replaced characters, whether it was cut) from what read_head returned."""
    cut = len(head) > READ_BYTES
    text, replaced = decode_text(head[:READ_BYTES], partial=cut)
    return clean_text(text), replaced, cut


def read_text_file(path) -> tuple[str, int, bool]:
    """(text, replaced characters, whether it was cut) of a text file, reading at most READ_BYTES + 1.

    Raises TextTooLarge for a file over MAX_TEXT_BYTES and OSError when it cannot be read."""
    with open(path, "rb") as f:
        return text_of_head(read_head(f))


def read_text(example) -> str:
    """The text of an Example (CSV rows carry it) or of a text file path."""
    text = getattr(example, "text", None)
    if text is not None:
        return text
    return read_text_file(os.fspath(getattr(example, "path", example)))[0]
