"""The normaliser (written -> spoken form) and the CTC vocabulary (HF Wav2Vec2CTCTokenizer conventions)."""

from __future__ import annotations

import json

import pytest

from speechdistill.text import (
    BLANK,
    Vocabulary,
    build_vocabulary,
    normalize_text,
    number_to_words,
    ordinal_to_words,
)


@pytest.mark.parametrize("written, spoken", [
    # times
    ("5:30", "five thirty"),
    ("Meet at 5:30 pm.", "meet at five thirty p m"),
    ("10:05 a.m.", "ten oh five a m"),
    ("12:00", "twelve o'clock"),
    # percent and other symbols
    ("10%", "ten percent"),
    ("2.5% growth", "two point five percent growth"),
    ("salt & pepper", "salt and pepper"),
    # currency: the unit is spoken after the amount
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.50", "five dollars fifty cents"),
    ("£2.50", "two pounds fifty pence"),
    # abbreviations
    ("Dr. Smith", "doctor smith"),
    ("Mr. and Mrs. Jones", "mister and missus jones"),
    ("No. 5", "number five"),
    ("I said no.", "i said no"),
    # ordinals
    ("the 1st", "the first"),
    ("the 2nd time", "the second time"),
    ("3rd", "third"),
    ("21st", "twenty first"),
    ("12th", "twelfth"),
    ("20th", "twentieth"),
    # years and decades
    ("1984", "nineteen eighty four"),
    ("in 2005", "in two thousand five"),
    ("1900", "nineteen hundred"),
    ("2024", "twenty twenty four"),
    ("the 1990s", "the nineteen nineties"),
    ("the '80s", "the eighties"),
    # plain numbers
    ("1,000,000 people", "one million people"),
    ("1,2,3", "one two three"),
    ("3.14", "three point one four"),
    ("42", "forty two"),
    ("3x faster", "three x faster"),
    # apostrophes stay inside words, quotes go
    ("Don't", "don't"),
    ("It’s fine", "it's fine"),
    ("'quoted'", "quoted"),
    ("rock 'n' roll", "rock n roll"),
    # punctuation and whitespace
    ("Hello, world!  How's it going?", "hello world how's it going"),
    ("well-known; semi:colon", "well known semi colon"),
    ("tab\tand\nnewline", "tab and newline"),
    # letters outside a-z are kept (the vocabulary check reports them), composed to NFC
    ("Café", "café"),
    ("cafe\u0301", "caf\u00e9"),
])
def test_normalize_text(written, spoken):
    assert normalize_text(written) == spoken


def test_normalize_text_is_idempotent():
    for text in ("Dr. Smith paid $5.50 at 5:30 pm on the 3rd", "the 1990s", "Café au lait"):
        once = normalize_text(text)
        assert normalize_text(once) == once


def test_number_and_ordinal_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(115) == "one hundred fifteen"
    assert number_to_words(2_000_017) == "two million seventeen"
    assert ordinal_to_words(100) == "one hundredth"
    assert ordinal_to_words(33) == "thirty third"


def test_default_vocabulary_layout():
    vocab = Vocabulary.default()
    assert len(vocab) == 32
    assert vocab.labels[0] == BLANK and vocab.blank_id == 0
    assert vocab.labels[vocab.delimiter_id] == "|"
    assert vocab.unknown_chars("café") == {"é"}


def test_encode_decode_round_trip():
    vocab = Vocabulary.default()
    ids = vocab.encode("don't stop")
    assert ids[5] == vocab.delimiter_id
    assert vocab.decode(ids) == "don't stop"
    assert vocab.encode("é") == [vocab.unk_id]


def test_vocab_json_round_trip(tmp_path):
    vocab = build_vocabulary(["café olé"])
    vocab.save(tmp_path / "vocab.json")
    mapping = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert mapping["<pad>"] == 0 and mapping["é"] == 32
    assert Vocabulary.load(tmp_path) == vocab  # a directory holding vocab.json works too
    assert Vocabulary.load(tmp_path / "vocab.json") == vocab


def test_vocab_json_matches_hf_tokenizer(tmp_path):
    transformers = pytest.importorskip("transformers")
    vocab = Vocabulary.default()
    vocab.save(tmp_path / "vocab.json")
    tokenizer = transformers.Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"), word_delimiter_token="|")
    assert tokenizer.pad_token_id == 0
    assert tokenizer("turn it on").input_ids == vocab.encode("turn it on")


def test_vocab_json_with_gaps_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"<pad>": 0, "|": 2}))
    with pytest.raises(ValueError, match="without gaps"):
        Vocabulary.load(tmp_path / "vocab.json")
