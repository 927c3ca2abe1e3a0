"""The data side of the wide accuracy suite (issue 19, section 2): real labeled tasks that
arrive offline inside Debian or PyPI packages, and a seeded sampler that writes them as
`root/train/<class>/<file>` and `root/test/<class>/<file>` folders, as benchmarks/accuracy.py does.

Every task is plain data in TASKS: a name, a modality, the package that provides it, and a
loader that lists its examples cheaply (label, group, payload) without decoding images. A
payload is a path (copied as is), a zero-argument function returning PNG bytes (rendered
or decoded only when sampled), or a text. `group` keeps near-copies together: every
example whose group has a member in the test set is kept out of training (an icon drawn by
two themes, the animation frames of one game unit, the verses of one Bible chapter, the
packages built from one Debian source). Identical content (a text, or a file's bytes) seen
under two labels is dropped, and seen twice under one label counts once.

The sampling contract (`split`): per class, the test set is drawn first (the same for every
N at one seed), balanced (`test_per_class` from every class), and its groups are disjoint
from training; training takes `per_class` examples (or `counts[class]`, for imbalanced
rows) from the remaining groups, and the first 10 of a sample are the 10 of a smaller
sample at the same seed. Same task, sizes and seed give the same files on any machine with
the same package versions (benchmarks/SUITE.md lists them).

TUNING / CONFIRMATION HALVES, the rule fixed on 2026-12-07 before any result on these
tasks was measured (also written in benchmarks/SUITE.md):
  1. Tasks the recipe was already tuned on (fashion-mnist, fortunes-topics, digits; see
     benchmarks/ACCURACY_NOTES.md) belong to the tuning half.
  2. The other tasks, per modality, in alphabetical order of name, each go to the half that
     has fewer tasks of that modality so far; on a tie, to confirmation.
  3. The result is frozen in HALVES below. A task added later joins, by the same rule 2,
     the half with fewer tasks of its modality (ties: confirmation); no task ever moves.
  An imbalanced row (IMBALANCED) belongs to its task's half. A recipe change is made only
  on tuning-half evidence and kept only if the confirmation half does not get worse.

    python -m benchmarks.suite_tasks                 # classes and examples per class (SUITE.md table)
    python -m benchmarks.suite_tasks --write DIR --task emoji-group --per-class 10 --seed 0
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import re
import subprocess
import zlib
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple, Union

Payload = Union[Path, str, Callable[[], bytes]]


class Example(NamedTuple):
    label: str      # the class folder name
    group: str      # examples sharing a group never straddle train and test
    key: str        # unique within the task; the file name is built from it
    data: Payload   # Path: a file copied as is; str: a text; callable: PNG bytes
    part: str = ""  # "train" / "test" where the data ships its own split (Fashion-MNIST), else ""


class Task(NamedTuple):
    name: str
    modality: str         # "image" or "text"
    package: str          # where the data comes from (install lines in benchmarks/SUITE.md)
    load: Callable[[], list[Example]]
    test_per_class: int   # default size of the balanced held-out test set
    note: str
    test_per_group: int = 0  # at most this many test examples from one group (0: no limit)


class Missing(RuntimeError):
    """The task's data package (or a tool it needs) is not installed here."""


def _need(path: Path, package: str) -> Path:
    if not path.exists():
        raise Missing(f"{path} not found: install {package}")
    return path


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", s).strip("_") or "x"


# ---------------------------------------------------------------- images

FMNIST = Path("/usr/share/datasets/fashion-mnist")
FMNIST_NAMES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                "Ankle_boot"]


def _png(array) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def load_fashion_mnist() -> list[Example]:
    """Zalando's Fashion-MNIST, 28x28 grey; training from its train file, test from t10k (as accuracy.py)."""
    import numpy as np

    out = []
    for part, fname in (("train", "train"), ("test", "t10k")):
        with gzip.open(_need(FMNIST / f"{fname}-images-idx3-ubyte.gz", "dataset-fashion-mnist")) as f:
            images = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(FMNIST / f"{fname}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
        for i, y in enumerate(labels):
            key = f"{fname}-{i}"
            out.append(Example(FMNIST_NAMES[y], key, key, lambda a=images[i]: _png(a), part))
    return out


def load_digits() -> list[Example]:
    """scikit-learn's bundled handwritten digits (UCI), 8x8 grey, 0-16 scaled to 0-255 (as accuracy_digits.py)."""
    try:
        from sklearn.datasets import load_digits as sk_digits
    except ImportError as e:
        raise Missing("scikit-learn is not installed") from e
    import numpy as np

    d = sk_digits()
    return [Example(f"digit_{y}", str(i), str(i), lambda a=d.images[i]: _png((a * 255 / 16).astype(np.uint8)))
            for i, y in enumerate(d.target)]


EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


@lru_cache(maxsize=1)
def _emoji_font():
    from PIL import ImageFont, features

    if not features.check("raqm"):  # flags and keycaps are ligatures: without raqm they draw as two glyphs
        raise Missing("Pillow was built without libraqm (complex text layout)")
    return ImageFont.truetype(str(EMOJI_FONT), 109)  # the only size a CBDT bitmap font has


def _render_emoji(s: str) -> bytes:
    import io

    from PIL import Image, ImageDraw

    im = Image.new("RGB", (136, 128), "white")
    ImageDraw.Draw(im).text((0, 0), s, font=_emoji_font(), embedded_color=True)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def load_emoji_group() -> list[Example]:
    """Noto Color Emoji glyphs labeled with their Unicode emoji group (emoji-test.txt).

    Fully-qualified emoji only; no skin-tone variants and no ZWJ sequences (families, gendered
    professions): those are near-copies of a base emoji. The Component group is left out."""
    _need(EMOJI_FONT, "fonts-noto-color-emoji")
    _emoji_font()
    out, group = [], None
    for line in _need(EMOJI_TEST, "unicode-data").read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = _safe(line.split(":", 1)[1].strip().replace("&", "and")).lower()
            continue
        if line.startswith("#") or "; fully-qualified" not in line or group == "component":
            continue
        cps = [int(c, 16) for c in line.split(";")[0].split()]
        if 0x200D in cps or any(0x1F3FB <= c <= 0x1F3FF for c in cps):
            continue
        s = "".join(map(chr, cps))
        key = "-".join(f"{c:x}" for c in cps)
        out.append(Example(group, key, key, lambda s=s: _render_emoji(s)))
    return out


ICONS = Path("/usr/share/icons")
ICON_THEMES = {"oxygen/base/48x48": "oxygen-icon-theme", "gnome/48x48": "gnome-icon-theme",
               "mate/48x48": "mate-icon-theme", "nuoveXT2/48x48": "lxde-icon-theme",
               "Tango/32x32": "tango-icon-theme"}
ICON_CONTEXTS = ["actions", "apps", "devices", "mimetypes", "places", "status"]


def load_icon_context() -> list[Example]:
    """PNG icons of five freedesktop icon themes by context (the theme's folder: actions, apps, ...).

    The group is the icon's name, so that "folder" drawn by GNOME and by MATE (a fork) never
    straddles train and test; byte-identical files (symlinks, copies) count once (`examples`)."""
    missing = sorted(package for theme, package in ICON_THEMES.items() if not (ICONS / theme).is_dir())
    if missing:  # all five or none: a sample must not depend on which themes a machine has
        raise Missing(f"icon themes not found: install {' '.join(missing)}")
    out = []
    for theme in ICON_THEMES:
        root = ICONS / theme
        for ctx in ICON_CONTEXTS:
            for f in sorted((root / ctx).glob("*.png")) if (root / ctx).is_dir() else []:
                out.append(Example(ctx, f.stem, f"{theme.split('/')[0]}-{ctx}-{f.stem}", f))
    return out


WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/images")
WESNOTH_RACES = ["drakes", "dwarves", "elves-wood", "human-loyalists", "orcs", "undead"]  # 12+ units each


def load_wesnoth_units() -> list[Example]:
    """Battle for Wesnoth unit sprites (72x72, transparent) by race folder.

    Sprites are animation frames; the group is the unit (file name up to its first '-' or '+',
    or its sub-folder), so a test unit is never seen in training, and the test set takes at
    most 5 frames of a unit (Task.test_per_group). Saurians (6 units) are left out."""
    base = _need(WESNOTH / "units", "wesnoth-1.16-data")
    out = []
    for race in WESNOTH_RACES:
        for f in sorted((base / race).rglob("*.png")):
            rel = f.relative_to(base / race)
            unit = rel.parts[0] if len(rel.parts) > 1 else re.split(r"[-+]", f.stem)[0]
            out.append(Example(race, f"{race}/{unit}", _safe(f"{race}/{rel.with_suffix('')}"), f))
    return out


SCRIPTS_TXT = Path("/usr/share/unicode/Scripts.txt")
FONTS = Path("/usr/share/fonts/truetype")
GLYPH_SCRIPTS = {  # Unicode script -> the fonts that draw it (fonts-noto-core, fonts-dejavu-core)
    "Latin": ["noto/NotoSans-Regular.ttf", "noto/NotoSerif-Regular.ttf", "dejavu/DejaVuSans.ttf",
              "dejavu/DejaVuSerif.ttf"],
    "Greek": ["noto/NotoSans-Regular.ttf", "noto/NotoSerif-Regular.ttf", "dejavu/DejaVuSans.ttf",
              "dejavu/DejaVuSerif.ttf"],
    "Cyrillic": ["noto/NotoSans-Regular.ttf", "noto/NotoSerif-Regular.ttf", "dejavu/DejaVuSans.ttf",
                 "dejavu/DejaVuSerif.ttf"],
    **{s: [f"noto/NotoSans{s}-Regular.ttf", f"noto/NotoSerif{s}-Regular.ttf"]
       for s in ["Armenian", "Georgian", "Hebrew", "Devanagari", "Bengali"]},
}


@lru_cache(maxsize=None)
def _font(rel: str, size: int = 56):
    from PIL import ImageFont

    return ImageFont.truetype(str(FONTS / rel), size)


def _render_glyph(ch: str, rel: str) -> bytes:
    import io

    from PIL import Image, ImageDraw

    im = Image.new("L", (96, 96), 255)
    ImageDraw.Draw(im).text((48, 48), ch, font=_font(rel), fill=0, anchor="mm")
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def load_glyph_script() -> list[Example]:
    """Letters (Unicode category L*) of eight scripts drawn by real typefaces (Noto Sans/Serif, DejaVu
    Sans/Serif), labeled with their Unicode script (Scripts.txt): which writing system is this?

    One example per letter and font, 96x96 grey; a font's missing-glyph box is detected and skipped.
    The group is the letter, so one letter in two fonts never straddles train and test."""
    out = []
    for rel in {r for rels in GLYPH_SCRIPTS.values() for r in rels}:
        _need(FONTS / rel, "fonts-noto-core fonts-dejavu-core")
    letters = defaultdict(list)
    for line in _need(SCRIPTS_TXT, "unicode-data").read_text(encoding="utf-8").splitlines():
        m = re.match(r"([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*; (\w+) # (\w)", line)
        if m and m.group(3) in GLYPH_SCRIPTS and m.group(4) == "L":
            lo = int(m.group(1), 16)
            letters[m.group(3)] += [chr(c) for c in range(lo, int(m.group(2) or m.group(1), 16) + 1)]
    for script, rels in GLYPH_SCRIPTS.items():
        for rel in rels:
            font = _font(rel)
            tofu = bytes(font.getmask("\U0010FFFD"))  # a private-use code point no font draws
            for ch in letters[script]:
                mask = font.getmask(ch)
                if mask.getbbox() is None or bytes(mask) == tofu:
                    continue
                key = f"{ord(ch):04x}-{Path(rel).stem}"
                out.append(Example(script.lower(), f"{ord(ch):04x}", key, lambda c=ch, r=rel: _render_glyph(c, r)))
    return out


# ---------------------------------------------------------------- texts

FORTUNES = Path("/usr/share/games/fortunes")
FORTUNE_TOPICS = ["art", "computers", "education", "food", "law", "literature", "politics", "science"]
FORTUNE_DE_TOPICS = ["fussball", "letzteworte", "ms", "regeln", "sprueche", "witze", "woerterbuch", "zitate"]


def _fortunes(folder: Path, topics: list[str], package: str) -> list[Example]:
    out = []
    for topic in topics:
        text = _need(folder / topic, package).read_text(encoding="utf-8", errors="replace")
        entries = [e.strip() for e in text.split("\n%\n") if len(e.strip()) > 20]  # as accuracy.py
        out += [Example(topic, f"{topic}-{i}", f"{topic}-{i}", e) for i, e in enumerate(entries)]
    return out


def load_fortunes_topics() -> list[Example]:
    """The English fortune cookies by topic file: the eight topics of benchmarks/accuracy.py."""
    return _fortunes(FORTUNES, FORTUNE_TOPICS, "fortunes fortunes-min")


def load_fortunes_de() -> list[Example]:
    """German fortune cookies by topic file (football, last words, Microsoft, rules, sayings, jokes, ...)."""
    return _fortunes(FORTUNES / "de", FORTUNE_DE_TOPICS, "fortunes-de")


WORDNET = Path("/usr/share/wordnet")
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()  # lexnames(5WN): the lexicographer file numbers of WordNet 3.0
NOUN_FILES = ["noun.animal", "noun.artifact", "noun.body", "noun.communication", "noun.food", "noun.person",
              "noun.plant", "noun.substance"]
VERB_FILES = ["verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.contact", "verb.motion",
              "verb.possession", "verb.social"]


def _wordnet(pos: str, keep: list[str]) -> list[Example]:
    """'lemma, lemma: gloss' per synset of data.<pos>, labeled with the synset's lexicographer file."""
    out = []
    with open(_need(WORDNET / f"data.{pos}", "wordnet-base"), encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            lex = LEXNAMES[int(fields[1])]
            if lex not in keep:
                continue
            words = [fields[4 + 2 * k].replace("_", " ") for k in range(int(fields[3], 16))]
            words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]  # adjective markers like (a)
            out.append(Example(lex.replace(".", "_"), fields[0], fields[0], f"{', '.join(words)}: {gloss.strip()}"))
    return out


def load_wordnet_nouns() -> list[Example]:
    return _wordnet("noun", NOUN_FILES)


def load_wordnet_verbs() -> list[Example]:
    return _wordnet("verb", VERB_FILES)


BIBLE_DIVISIONS = [  # the traditional divisions of the Protestant canon, by the `bible` tool's book names
    ("law", "Ge Exo Lev Num Deu"),
    ("history", "Josh Jdgs Ruth 1Sm 2Sm 1Ki 2Ki 1Chr 2Chr Ezra Neh Est"),
    ("wisdom", "Job Psa Prv Eccl SSol"),
    ("major_prophets", "Isa Jer Lam Eze Dan"),
    ("minor_prophets", "Hos Joel Amos Obad Jonah Mic Nahum Hab Zep Hag Zec Mal"),
    ("gospels", "Mat Mark Luke John"),
    ("acts", "Acts"),
    ("pauline_epistles", "Rom 1Cor 2Cor Gal Eph Phi Col 1Th 2Th 1Tim 2Tim Titus Phmn"),
    ("general_epistles", "Heb Jas 1Pet 2Pet 1Jn 2Jn 3Jn Jude"),
    ("revelation", "Rev"),
]


def load_bible_division() -> list[Example]:
    """King James Bible verses labeled with their book's division (law, history, wisdom, ...).

    The group is the chapter: verses of one chapter never straddle train and test."""
    division = {book: name for name, books in BIBLE_DIVISIONS for book in books.split()}
    try:
        text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True,
                              timeout=60, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise Missing(f"the `bible` tool failed ({e}): install bible-kjv bible-kjv-text") from e
    out = []
    for line in text.splitlines():
        m = re.match(r"(\d?[A-Za-z]+)(\d+):(\d+) (.+)", line)
        if m:
            book, chapter, verse, words = m.groups()
            out.append(Example(division[book], f"{book}{chapter}", f"{book}{chapter}_{verse}", words))
    if len(out) != 31102:
        raise Missing(f"the `bible` tool printed {len(out)} verses, not the 31,102 of the KJV")
    return out


APT_PACKAGES = Path("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")
DEBIAN_SECTIONS = ["admin", "games", "graphics", "mail", "math", "net", "science", "sound"]


def load_debian_sections() -> list[Example]:
    """Debian 12 package short descriptions labeled with the archive section (games, science, ...).

    From the bookworm main Packages index that `apt-get update` fetches (debian.org's archive
    metadata, changed only by point releases). The group is the source package, so that
    'foo' and 'foo-data' never straddle train and test; a description seen twice counts once."""
    path = APT_PACKAGES
    if not path.is_file():
        raise Missing(f"{path} not found: run `apt-get update` on Debian 12 (bookworm)")
    try:
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)], capture_output=True,
                              text=True, check=True, timeout=120, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise Missing(f"apt-helper could not read {path}: {e}") from e
    out, seen = [], set()
    for record in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z0-9-]+): ?(.*)$", record, flags=re.M))
        section, desc = fields.get("Section", ""), fields.get("Description", "").strip()
        if section not in DEBIAN_SECTIONS or not desc or desc.lower() in seen:
            continue
        seen.add(desc.lower())
        source = fields.get("Source", fields["Package"]).split()[0]
        out.append(Example(section, source, fields["Package"], desc))
    return out


DICT = Path("/usr/share/dict")
WORDS_PER_LANGUAGE = 20000
WORD_LISTS = {"catalan": ("catalan", "wcatalan"), "dutch": ("dutch", "wdutch"),
              "english": ("american-english", "wamerican"), "french": ("french", "wfrench"),
              "german": ("ngerman", "wngerman"), "italian": ("italian", "witalian"),
              "portuguese": ("portuguese", "wportuguese"), "spanish": ("spanish", "wspanish")}


def load_word_language() -> list[Example]:
    """Which language a word is from, by Debian's spelling word lists (ispell/hunspell dictionaries).

    Lower-case words of 5+ letters that appear in exactly one of the eight lists (an 'animal'
    in several languages has no answer). The group is the first 6 letters, so inflections of
    one stem ('hablamos', 'hablaron') do not straddle train and test. Each language keeps the
    WORDS_PER_LANGUAGE words with the smallest CRC-32 (a fixed pseudo-random subset: the lists
    hold 2 million such words, more than a benchmark needs and slow to sample from)."""
    words = {}
    for lang, (fname, package) in WORD_LISTS.items():
        lines = _need(DICT / fname, package).read_text(encoding="utf-8", errors="replace").split()
        words[lang] = {w for w in lines if len(w) >= 5 and w.isalpha() and w == w.lower()}
    count = Counter(w for ws in words.values() for w in ws)
    out = []
    for lang, ws in words.items():
        unique = sorted((zlib.crc32(w.encode()), w) for w in ws if count[w] == 1)[:WORDS_PER_LANGUAGE]
        out += [Example(lang, f"{lang}/{w[:6]}", w, w) for _, w in sorted(unique, key=lambda t: t[1])]
    return out


# ---------------------------------------------------------------- the registry

TASKS: dict[str, Task] = {t.name: t for t in [
    Task("bible-division", "text", "Debian bible-kjv-text + bible-kjv", load_bible_division, 100,
         "10 classes; KJV verses by division of the canon; grouped by chapter"),
    Task("debian-sections", "text", "Debian archive index (apt-get update, bookworm main)", load_debian_sections,
         50, "8 sections; one-line package descriptions; grouped by source package"),
    Task("digits", "image", "PyPI scikit-learn (bundled data)", load_digits, 50,
         "10 classes, 8x8 grey handwritten digits; the recipe was tuned on it"),
    Task("emoji-group", "image", "Debian fonts-noto-color-emoji + unicode-data (+ Pillow with raqm)",
         load_emoji_group, 35, "9 Unicode emoji groups; rendered 136x128 on white"),
    Task("fashion-mnist", "image", "Debian dataset-fashion-mnist", load_fashion_mnist, 100,
         "10 classes, 28x28 grey; test from t10k; the recipe was tuned on it"),
    Task("fortunes-de", "text", "Debian fortunes-de", load_fortunes_de, 50,
         "8 German fortune-cookie topics; MiniLM is an English model"),
    Task("fortunes-topics", "text", "Debian fortunes + fortunes-min", load_fortunes_topics, 50,
         "8 English fortune topics (benchmarks/accuracy.py); the recipe was tuned on it"),
    Task("glyph-script", "image", "Debian fonts-noto-core + fonts-dejavu-core + unicode-data", load_glyph_script,
         50, "8 scripts; letters drawn by 2-4 typefaces, 96x96 grey; grouped by letter"),
    Task("icon-context", "image", "Debian oxygen/gnome/mate/lxde/tango icon themes", load_icon_context, 40,
         "6 icon contexts, 32-48 px PNG with transparency; grouped by icon name"),
    Task("wesnoth-units", "image", "Debian wesnoth-1.16-data", load_wesnoth_units, 30,
         "6 races, 72x72 sprites with transparency; grouped by unit (animation frames), 5 test frames "
         "per unit", test_per_group=5),
    Task("word-language", "text", "Debian wamerican wcatalan wdutch wfrench witalian wngerman wportuguese "
         "wspanish", load_word_language, 100, "8 languages; single words; grouped by 6-letter stem"),
    Task("wordnet-nouns", "text", "Debian wordnet-base", load_wordnet_nouns, 100,
         "8 noun lexicographer files; 'lemmas: gloss'"),
    Task("wordnet-verbs", "text", "Debian wordnet-base", load_wordnet_verbs, 100,
         "8 verb lexicographer files; 'lemmas: gloss'"),
]}

ALREADY_TUNED_ON = ("digits", "fashion-mnist", "fortunes-topics")


def assign_halves(tasks: dict[str, Task], tuned_on=ALREADY_TUNED_ON) -> dict[str, str]:
    """The rule in the module docstring, computed from scratch (HALVES is its frozen result)."""
    halves = {name: "tuning" for name in tuned_on if name in tasks}
    for modality in sorted({t.modality for t in tasks.values()}):
        for name in sorted(n for n, t in tasks.items() if t.modality == modality and n not in halves):
            size = {h: sum(1 for n, v in halves.items() if v == h and tasks[n].modality == modality)
                    for h in ("tuning", "confirmation")}
            halves[name] = "tuning" if size["tuning"] < size["confirmation"] else "confirmation"
    return dict(sorted(halves.items()))


HALVES = {  # frozen on 2026-12-07 from assign_halves(TASKS), before any result on these tasks
    "bible-division": "confirmation",
    "debian-sections": "confirmation",
    "digits": "tuning",
    "emoji-group": "confirmation",
    "fashion-mnist": "tuning",
    "fortunes-de": "tuning",
    "fortunes-topics": "tuning",
    "glyph-script": "confirmation",
    "icon-context": "confirmation",
    "wesnoth-units": "tuning",
    "word-language": "confirmation",
    "wordnet-nouns": "tuning",
    "wordnet-verbs": "confirmation",
}

# Imbalanced rows: 1:10 between classes in training, the task's balanced test set (report
# balanced accuracy and the smallest class's recall). `counts` is training examples per class;
# one image and one text row in each half.
IMBALANCED = [
    {"name": "fashion-mnist-shirt-rare", "task": "fashion-mnist", "counts": {"T-shirt_top": 200, "Shirt": 20}},
    {"name": "icon-context-3-rare", "task": "icon-context",
     "counts": {"actions": 200, "mimetypes": 200, "status": 200, "apps": 20, "devices": 20, "places": 20}},
    {"name": "wordnet-nouns-3-rare", "task": "wordnet-nouns",
     "counts": {"noun_artifact": 200, "noun_person": 200, "noun_plant": 200, "noun_animal": 20,
                "noun_food": 20, "noun_substance": 20}},
    {"name": "wordnet-verbs-3-rare", "task": "wordnet-verbs",
     "counts": {"verb_change": 200, "verb_communication": 200, "verb_contact": 200, "verb_body": 20,
                "verb_cognition": 20, "verb_social": 20}},
]


# ---------------------------------------------------------------- sampling


def _content(e: Example):
    if isinstance(e.data, str):
        return " ".join(e.data.split())
    if isinstance(e.data, Path):
        return hashlib.sha1(e.data.read_bytes()).hexdigest()
    return e.key  # rendered on demand: distinct by construction


@lru_cache(maxsize=None)
def examples(name: str) -> tuple[Example, ...]:
    """The task's examples, texts with whitespace folded. Content (a text, a file's bytes) seen under
    two labels is dropped; seen twice under one label it counts once. Raises Missing when the
    task's package is not installed."""
    items = TASKS[name].load()
    contents = [_content(e) for e in items]
    labels = defaultdict(set)
    for e, c in zip(items, contents):
        labels[c].add(e.label)
    out, seen = [], set()
    for e, c in zip(items, contents):
        if len(labels[c]) == 1 and c not in seen:
            seen.add(c)
            out.append(e._replace(data=c) if isinstance(e.data, str) else e)
    if len({e.key for e in out}) != len(out):
        raise AssertionError(f"{name}: two examples share a key")
    return tuple(out)


def _by_class(items) -> dict[str, list[Example]]:
    by_class = defaultdict(list)
    for e in items:
        by_class[e.label].append(e)
    return by_class


def _draw(members: list[Example], test_per_class: int, rnd: random.Random,
          test_per_group: int = 0) -> tuple[list[Example], list[Example]]:
    """One class: (its test examples, its shuffled training pool of the groups the test left alone)."""
    groups = defaultdict(list)
    for e in sorted(members, key=lambda e: e.key):
        groups[e.group].append(e)
    order = sorted(groups)
    rnd.shuffle(order)
    test, used = [], set()
    for g in order:
        if len(test) >= test_per_class:
            break
        candidates = [e for e in groups[g] if e.part != "train"]
        if candidates:
            rnd.shuffle(candidates)
            test += candidates[:min(test_per_class - len(test), test_per_group or len(candidates))]
            used.add(g)
    pool = [e for g in order if g not in used for e in groups[g] if e.part != "test"]
    rnd.shuffle(pool)
    return test, pool


def split(items, per_class: int, test_per_class: int, seed: int, counts: dict | None = None,
          salt: str = "", test_per_group: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, test): the contract in the module docstring. `counts` (class -> N) replaces per_class
    and restricts the classes to its keys; `test_per_group` spreads the test set over more groups.
    Raises ValueError when a class is too small."""
    by_class = _by_class(items)
    wanted = counts if counts is not None else {c: per_class for c in by_class}
    train, test = [], []
    for cls in sorted(wanted):
        # a str seed hashes the same on every machine and Python version
        picked, pool = _draw(by_class.get(cls, []), test_per_class, random.Random(f"{salt}|{seed}|{cls}"),
                             test_per_group)
        if len(picked) < test_per_class or len(pool) < wanted[cls]:
            raise ValueError(f"class {cls!r}: {len(picked)} test and {len(pool)} training examples available, "
                             f"{test_per_class} and {wanted[cls]} asked")
        test += picked
        train += pool[:wanted[cls]]
    return train, test


def capacity(items, test_per_class: int, seed: int = 0, salt: str = "",
             test_per_group: int = 0) -> dict[str, tuple[int, int]]:
    """class -> (examples, training examples left once the test set of `seed` is drawn; -1: test incomplete)."""
    out = {}
    for cls, members in sorted(_by_class(items).items()):
        test, pool = _draw(members, test_per_class, random.Random(f"{salt}|{seed}|{cls}"), test_per_group)
        out[cls] = (len(members), len(pool) if len(test) == test_per_class else -1)
    return out


def _write(e: Example, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(e.data, str):
        path = folder / f"{_safe(e.key)}.txt"
        path.write_text(e.data, encoding="utf-8")
    elif isinstance(e.data, Path):
        path = folder / f"{_safe(e.key)}{e.data.suffix.lower()}"
        path.write_bytes(e.data.read_bytes())
    else:
        path = folder / f"{_safe(e.key)}.png"
        path.write_bytes(e.data())
    return path


def materialise(name: str, root: Path, per_class: int, seed: int, test_per_class: int | None = None,
                counts: dict | None = None) -> tuple[Path, Path]:
    """Write one seeded sample of a task as root/train/<class>/<file> and root/test/<class>/<file>."""
    root = Path(root)
    t = test_per_class if test_per_class is not None else TASKS[name].test_per_class
    train, test = split(examples(name), per_class, t, seed, counts=counts, salt=name,
                        test_per_group=TASKS[name].test_per_group)
    for part, items in (("train", train), ("test", test)):
        for e in items:
            _write(e, root / part / e.label)
    return root / "train", root / "test"


def materialise_imbalanced(row: dict, root: Path, seed: int, test_per_class: int | None = None) -> tuple[Path, Path]:
    return materialise(row["task"], root, 0, seed, test_per_class, counts=row["counts"])


SEEDS = range(6)  # the seeds benchmarks/accuracy.py uses


def table() -> str:
    """The markdown table of benchmarks/SUITE.md: classes and examples per class of every task here."""
    lines = ["| task | half | modality | classes | examples per class (min-max) | groups per class (min) | "
             "test/class | most N/class (any of seeds 0-5) | sizes possible | package |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, t in TASKS.items():
        try:
            caps = [capacity(examples(name), t.test_per_class, seed, name, t.test_per_group) for seed in SEEDS]
            cap = caps[0]
        except Missing as e:
            lines.append(f"| {name} | {HALVES.get(name, '?')} | {t.modality} | - | missing: {e} | | | | | "
                         f"{t.package} |")
            continue
        most = min(left for c in caps for _, left in c.values())
        sizes = [n for n in (10, 50, 200) if most >= n]
        ns = [n for n, _ in cap.values()]
        groups = min(len({e.group for e in members}) for members in _by_class(examples(name)).values())
        lines.append(f"| {name} | {HALVES.get(name, '?')} | {t.modality} | {len(cap)} | {min(ns)}-{max(ns)} | "
                     f"{groups} | {t.test_per_class} | {most} | {', '.join(map(str, sizes)) or '-'} | {t.package} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", metavar="DIR", help="write one sample instead of printing the table")
    p.add_argument("--task", choices=sorted(TASKS))
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--test-per-class", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class-counts", action="store_true", help="with the table, list every class's counts")
    a = p.parse_args(argv)
    if a.write:
        tr, te = materialise(a.task, Path(a.write), a.per_class, a.seed, a.test_per_class)
        print(tr, te)
        return 0
    print(table())
    if a.per_class_counts:
        for name, t in TASKS.items():
            try:
                cap = capacity(examples(name), t.test_per_class, salt=name, test_per_group=t.test_per_group)
            except Missing:
                continue
            print(f"\n{name}: " + ", ".join(f"{c} {n} ({left})" for c, (n, left) in cap.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
