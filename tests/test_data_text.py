"""Text data: .txt trees (encodings, empty files) and CSV/TSV/JSONL tables."""
import codecs

import pytest

from engine.data import decode_text, read_text, scan
from engine.errors import DataError


def write_class(root, name, texts):
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(texts):
        (d / f"{i}.txt").write_bytes(t if isinstance(t, bytes) else t.encode("utf-8"))


def test_decode_text_counts_replacements_and_strips_bom():
    assert decode_text(codecs.BOM_UTF8 + "héllo".encode()) == ("héllo", 0)
    text, bad = decode_text(b"ok \xff\xfe bytes")
    assert bad == 2 and text.count("\ufffd") == 2
    text, bad = decode_text("real \ufffd kept".encode() + b"\xc3")  # one genuine U+FFFD, one broken byte
    assert bad == 1
    assert decode_text(codecs.BOM_UTF16_LE + "wide".encode("utf-16-le")) == ("wide", 0)


def test_text_tree_with_bad_bytes_and_empty_files(tmp_path):
    root = tmp_path / "t"
    write_class(root, "spam", ["buy now", "cheap pills", b"win \xff\xfe money", "   \n  "])
    write_class(root, "ham", ["see you at lunch", "minutes attached", codecs.BOM_UTF8 + b"bom text"])
    ds = scan([root])
    rep = ds.report.to_dict()
    assert ds.modality == "text" and ds.classes == ["ham", "spam"]
    assert len(ds.items) == 6
    assert rep["text"]["undecodable_files"] == 1 and rep["text"]["replaced_chars"] == 2
    assert rep["text"]["files"] == 6
    assert [s["reason"] for s in rep["skipped"]] == ["empty text (only whitespace)"]
    codes = {f["code"]: f for f in rep["findings"]}
    assert codes["undecodable_text"]["paths"][0].endswith("spam/2.txt")
    assert "empty_text" in codes
    bom = next(e for e in ds.items if e.path.endswith("ham/2.txt"))
    assert bom.text is None and read_text(bom) == "bom text"


CSV = "id,Review,Sentiment\n1,great film,pos\n2,\"loved it, truly\",pos\n3,awful,neg\n4,boring plot,neg\n" \
      "5,,neg\n6,no label here,\n7,superb acting,pos\n8,waste of time,neg\n"


def test_csv_columns_detected_and_rows_become_examples(tmp_path):
    f = tmp_path / "reviews.csv"
    f.write_text(CSV)
    ds = scan([f], val_fraction=0, test_fraction=0)
    assert ds.modality == "text" and ds.classes == ["neg", "pos"]
    assert len(ds.items) == 6
    row3 = next(e for e in ds.items if e.path.endswith("#row=3"))
    assert row3.path == f"{f}#row=3" and row3.text == "loved it, truly" and read_text(row3) == row3.text
    reasons = {s["path"].rsplit("#", 1)[1]: s["reason"] for s in ds.report.to_dict()["skipped"]}
    assert reasons == {"row=6": "empty text", "row=7": "no label in this row"}


def test_csv_explicit_and_missing_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,c\nx1,one,p\nx2,two,q\nx3,three,p\nx4,four,q\n")
    with pytest.raises(DataError, match=r"Could not tell which columns .* \(columns: a, b, c\)"):
        scan([f])
    with pytest.raises(DataError, match=r"no column named 'body' .*a, b, c"):
        scan([f], text_column="body", label_column="c")
    ds = scan([f], text_column="b", label_column="c")
    assert ds.classes == ["p", "q"] and sorted(e.text for e in ds.items) == ["four", "one", "three", "two"]


def test_tsv_semicolon_and_jsonl(tmp_path):
    (tmp_path / "a.tsv").write_text("sentence\tlabel\nhello there\tgreet\nbye now\tpart\nhi\tgreet\nsee ya\tpart\n")
    (tmp_path / "b.csv").write_text("text;category\nhowdy;greet\nfarewell;part\n")
    (tmp_path / "c.jsonl").write_text('{"text": "good day", "label": "greet"}\n{"text": "so long", "label": "part"}\n'
                                      "not json\n")
    ds = scan([tmp_path / "a.tsv", tmp_path / "b.csv", tmp_path / "c.jsonl"])
    assert ds.classes == ["greet", "part"] and len(ds.items) == 8
    assert any("not a JSON object" in s["reason"] for s in ds.report.skipped)


def test_two_column_table_with_one_known_name(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("utterance_text,intent\nbook a table,book\ncancel it,cancel\nreserve please,book\nstop that,cancel\n")
    ds = scan([f])
    assert ds.classes == ["book", "cancel"]


def test_table_and_text_tree_merge_and_duplicates_across_sources(tmp_path):
    write_class(tmp_path / "tree", "greet", ["hello", "hi there"])
    write_class(tmp_path / "tree", "part", ["goodbye", "see you"])
    f = tmp_path / "more.csv"
    f.write_text("text,label\nhowdy,greet\nfarewell,part\nhowdy,greet\nhowdy,part\ncheers,part\n")
    ds = scan([tmp_path / "tree", f])
    assert ds.classes == ["greet", "part"]
    dups = ds.report.duplicates
    assert len(dups["across_classes"]) == 1 and len(dups["across_classes"][0]) == 3  # "howdy" under two labels
    assert not any(e.text == "howdy" for e in ds.items)
    assert sorted(e.text for e in ds.items if e.text) == ["cheers", "farewell"]


def test_text_with_image_is_mixed(tmp_path):
    write_class(tmp_path / "t", "a", ["x1", "x2"])
    f = tmp_path / "d.csv"
    f.write_text("text,label\nq,a\nr,b\n")
    from PIL import Image
    for cls in ("a", "b"):
        (tmp_path / "i" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (4, 4), (i, 0, ord(cls))).save(tmp_path / "i" / cls / f"{i}.png")
    with pytest.raises(DataError, match="mixes images"):
        scan([tmp_path / "t", tmp_path / "i"])


def test_a_stray_text_file_in_a_small_image_set_is_ignored_and_listed(tmp_path):
    from PIL import Image
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (4, 4), (i, 0, ord(cls))).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "a" / "notes.txt").write_text("where these came from")
    ds = scan([tmp_path], val_fraction=0.0, test_fraction=0.0)
    assert ds.modality == "image" and len(ds.items) == 6
    assert [i["code"] for i in ds.report.to_dict()["ignored"] if i["path"].endswith("notes.txt")] == ["other_modality"]


def test_empty_table_is_fatal(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("")
    with pytest.raises(DataError, match="no header row"):
        scan([f])


def test_table_without_usable_rows_is_fatal(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("text,label\nsome text,\nmore text,\n")
    with pytest.raises(DataError, match="no rows with both a text and a label") as info:
        scan([f])
    assert len(info.value.report["skipped"]) == 2


def test_a_row_with_an_unquoted_comma_is_listed_and_skipped_never_relabeled(tmp_path):
    """Fault audit: 'sample 3, which has a comma,pos' became class 'which has a comma'; a tail that
    matched a real class name silently mislabeled the row."""
    f = tmp_path / "d.csv"
    f.write_text("text,label\nsample 1,pos\nsample 2,neg\nsample 3, which has a comma,pos\n"
                 "sample 4 is negative,neg,pos\nsample 5,neg\nsample 6,pos\nsample 7,neg,\nsample 8\n")
    ds = scan([f], val_fraction=0, test_fraction=0)
    assert ds.classes == ["neg", "pos"]
    assert sorted(e.text for e in ds.items) == ["sample 1", "sample 2", "sample 5", "sample 6", "sample 7"]
    rep = ds.report.to_dict()
    wrong = {s["path"].rsplit("#", 1)[1]: s["reason"] for s in rep["skipped"] if s["code"] == "wrong_fields"}
    assert set(wrong) == {"row=4", "row=5", "row=9"}
    assert "3 fields where the header has 2" in wrong["row=4"] and "unquoted comma" in wrong["row=4"]
    finding = next(x for x in rep["findings"] if x["code"] == "wrong_fields")
    assert finding["count"] == 3 and "quotes" in finding["advice"]


def test_a_label_column_taken_by_elimination_is_named_in_the_report(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("review,stars\nfine,5\nbad,1\ngood,5\nawful,1\n")
    rep = scan([f], val_fraction=0, test_fraction=0).report.to_dict()
    guessed = [x for x in rep["findings"] if x["code"] == "guessed_column"]
    assert len(guessed) == 1 and "'stars'" in guessed[0]["message"] and "label" in guessed[0]["message"]
    named = tmp_path / "n.csv"
    named.write_text("review,label\nfine,5\nbad,1\ngood,5\nawful,1\n")
    rep = scan([named], val_fraction=0, test_fraction=0).report.to_dict()
    assert not [x for x in rep["findings"] if x["code"] == "guessed_column"]


def test_a_long_text_is_read_only_as_far_as_a_model_reads_and_a_huge_one_is_skipped(tmp_path):
    """Fault audit: a 50 MB .txt in a class folder took a 1-epoch run to 12.2 GB of memory, and
    predicting that one file 7.6 GB and 60 s; the model truncates to a few hundred tokens anyway."""
    import tracemalloc

    from engine.data.text import MAX_TEXT_BYTES, READ_BYTES, TextTooLarge

    root = tmp_path / "t"
    write_class(root, "a", ["short one", "short two", "short three"])
    write_class(root, "b", ["other one", "other two", "other three"])
    long = root / "a" / "long.txt"
    with open(long, "wb") as f:
        line = ("wörd " * 199 + "end\n").encode()
        for _ in range(9_000_000 // len(line)):  # 9 MB: long, but under the limit
            f.write(line)
    huge = root / "b" / "huge.txt"
    with open(huge, "wb") as f:
        f.write(b"x" * 100)
        f.truncate(50_000_000)  # 50 MB (sparse: quick to make)

    tracemalloc.start()
    ds = scan([root], val_fraction=0, test_fraction=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20, f"scanning held {peak / 1e6:.1f} MB"
    rep = ds.report.to_dict()
    assert [(s["path"], s["code"]) for s in rep["skipped"]] == [(str(huge), "text_too_large")]
    assert "10 MB" in rep["skipped"][0]["reason"]
    long_texts = next(f for f in rep["findings"] if f["code"] == "long_texts")
    assert long_texts["message"] == "1 file longer than the model reads; only their first part is used."
    assert long_texts["paths"] == [str(long)] and rep["text"]["cut_texts"] == 1

    tracemalloc.start()
    text = read_text(next(e for e in ds.items if e.path == str(long)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert text.startswith("wörd wörd") and len(text.encode()) <= READ_BYTES and peak < 1 << 20
    with pytest.raises(TextTooLarge, match="10 MB"):  # predict reads files the same way
        read_text(str(huge))
    assert MAX_TEXT_BYTES < huge.stat().st_size


def test_a_text_cut_inside_a_character_loses_that_character_not_a_replacement(tmp_path):
    from engine.data.text import READ_BYTES

    f = tmp_path / "x.txt"
    f.write_bytes(b"a" * (READ_BYTES - 1) + "é and more".encode())  # 'é' straddles the cut
    text = read_text(str(f))
    assert text == "a" * (READ_BYTES - 1) and "\ufffd" not in text
    ds_file = tmp_path / "c"
    write_class(ds_file, "p", [b"a" * (READ_BYTES - 1) + "é and more".encode(), "one"])
    write_class(ds_file, "q", ["two", "three"])
    assert scan([ds_file], val_fraction=0, test_fraction=0).report.to_dict()["text"]["undecodable_files"] == 0


def test_a_table_cell_longer_than_a_model_reads_is_cut_and_reported(tmp_path):
    from engine.data.text import READ_BYTES

    f = tmp_path / "d.csv"
    f.write_text("text,label\n" + "long " * READ_BYTES + ",a\nshort,a\nsmall,b\ntiny,b\n")
    ds = scan([f], val_fraction=0, test_fraction=0)
    row = next(e for e in ds.items if e.path.endswith("#row=2"))
    assert len(row.text) <= READ_BYTES
    found = next(x for x in ds.report.to_dict()["findings"] if x["code"] == "long_texts")
    assert found["message"].startswith("1 text longer than the model reads")


def test_binary_and_foreign_encoded_files_named_txt_are_left_out_and_listed(tmp_path):
    """A .txt of random bytes, a PNG renamed .txt, or Russian saved as Windows-1251 decode to noise
    (text.NOT_TEXT_SHARE); Latin-1 prose with a few broken accents is still a text, with its warning."""
    import random

    rng = random.Random(0)
    root = tmp_path / "t"
    write_class(root, "a", ["first note", "second note", bytes(rng.randrange(256) for _ in range(4096))])
    write_class(root, "b", ["third note", "fourth note",
                            "Съешь же ещё этих мягких французских булок, да выпей чаю.".encode("cp1251"),
                            "Ça a été une journée très ensoleillée à côté de l'église.".encode("latin-1")])
    ds = scan([root])
    rep = ds.report.to_dict()
    skipped = {s["path"].rsplit("/", 2)[-2] + "/" + s["path"].rsplit("/", 1)[1]: s for s in rep["skipped"]}
    assert set(skipped) == {"a/2.txt", "b/2.txt"}
    assert all(s["code"] == "not_text" and s["reason"].startswith("not text: ") for s in skipped.values())
    assert len(ds.items) == 5
    codes = {f["code"]: f for f in rep["findings"]}
    assert codes["not_text"]["severity"] != "info" and "UTF-8" in codes["not_text"]["advice"]
    assert codes["undecodable_text"]["paths"] == [next(e.path for e in ds.items if e.path.endswith("b/3.txt"))]
