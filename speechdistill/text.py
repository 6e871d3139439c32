"""Text normalisation and the character CTC vocabulary shared by every model the package trains.

The normaliser turns written text into its spoken form (lower case, no punctuation, numbers and times
as words) so that transcripts always match what was said. The vocabulary follows Hugging Face
``Wav2Vec2CTCTokenizer`` conventions: ``<pad>`` is the CTC blank (id 0), ``|`` delimits words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BLANK = "<pad>"
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
WORD_DELIMITER = "|"
SPECIAL_TOKENS = (BLANK, BOS, EOS, UNK)
DEFAULT_CHARS = (WORD_DELIMITER, "'") + tuple("abcdefghijklmnopqrstuvwxyz")

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1_000, "thousand"), (100, "hundred"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                      "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_ABBREVIATIONS = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miz", "st": "saint",
                  "vs": "versus", "approx": "approximately"}
_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at ", "°": " degrees ",
            "$": " dollars ", "€": " euros ", "£": " pounds "}


def number_to_words(n: int) -> str:
    """Spell a non-negative integer in English words: 2024 -> 'two thousand twenty four'."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            words = number_to_words(head) + " " + name
            return words if rest == 0 else words + " " + number_to_words(rest)
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """Spell an ordinal: 21 -> 'twenty first'."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_IRREGULAR:
        words[-1] = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _year_to_words(n: int) -> str:
    """Years are read in pairs: 1984 -> 'nineteen eighty four', 2005 -> 'two thousand five'."""
    head, tail = divmod(n, 100)
    if 2000 <= n < 2010 or tail == 0 and n % 1000 == 0:
        return number_to_words(n)
    if tail == 0:
        return number_to_words(head) + " hundred"
    tail_words = number_to_words(tail) if tail >= 10 else "oh " + number_to_words(tail)
    return number_to_words(head) + " " + tail_words


def _time_to_words(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = (match.group(3) or "").replace(".", "").lower()
    spoken = number_to_words(hours)
    if minutes == 0:
        spoken += "" if suffix else " o'clock"
    elif minutes < 10:
        spoken += " oh " + number_to_words(minutes)
    else:
        spoken += " " + number_to_words(minutes)
    if suffix:
        spoken += " " + " ".join(suffix)  # "pm" -> "p m"
    return f" {spoken} "


def _currency_to_words(match: re.Match) -> str:
    """The unit is spoken after the amount: '$5' -> '5 dollars', '£2.50' -> '2 pounds 50 pence'."""
    unit, sub_unit = _CURRENCIES[match.group(1)]
    whole, frac = match.group(2), match.group(3)
    if frac is None or len(frac) != 2:
        amount = whole if frac is None else f"{whole}.{frac}"
        return f" {amount} {unit}{'' if amount == '1' else 's'} "
    subs = sub_unit if frac == "01" else "pence" if sub_unit == "penny" else sub_unit + "s"
    return f" {whole} {unit}{'' if whole == '1' else 's'} {int(frac)} {subs} "


def _plural(words: str) -> str:
    """'nineteen ninety' -> 'nineteen nineties' (for '1990s', '80s')."""
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + ("es" if last.endswith("x") else "s")
    return f"{head} {last}" if head else last


def _number_token_to_words(match: re.Match) -> str:
    digits, frac, ordinal, plural = match.group(1), match.group(2), match.group(3), match.group(4)
    value = int(digits.replace(",", ""))
    if frac:
        return f" {number_to_words(value)} point {' '.join(_ONES[int(d)] for d in frac[1:])} "
    if ordinal:
        return f" {ordinal_to_words(value)} "
    if len(digits) == 4 and 1100 <= value <= 2099:
        spoken = _year_to_words(value)
    else:
        spoken = number_to_words(value)
    return f" {_plural(spoken) if plural else spoken} "


_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?(?![\w])", re.IGNORECASE)
_CURRENCY_RE = re.compile(r"([$€£])\s?(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?")
# Thousands separators only in groups of three ("1,000"), so a list like "1,2,3" stays three numbers.
# A trailing "s" makes a plural ("1990s"); any other letters after the digits stay as they are ("3x").
_NUMBER_RE = re.compile(r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(\.\d+)?(?:(st|nd|rd|th)(?![a-z])|'?(s)(?![a-z]))?",
                        re.IGNORECASE)
_ABBREV_RE = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.", re.IGNORECASE)
_NUMBER_ABBREV_RE = re.compile(r"\bno\.(?=\s*\d)", re.IGNORECASE)  # "No. 5", but not "I said no."


def normalize_text(text: str) -> str:
    """Return the spoken, lower-case, punctuation-free form of ``text``.

    '5:30 pm' -> 'five thirty p m', '10%' -> 'ten percent', 'Dr. Smith' -> 'doctor smith',
    'the 3rd' -> 'the third'. Apostrophes inside words are kept ("don't").
    """
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("‘", "'")
    text = _ABBREV_RE.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()] + " ", text)
    text = _NUMBER_ABBREV_RE.sub("number ", text)
    text = _TIME_RE.sub(_time_to_words, text)
    text = _CURRENCY_RE.sub(_currency_to_words, text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = _NUMBER_RE.sub(_number_token_to_words, text)
    text = text.lower()
    # Letters of any script are kept (so "café" keeps its 'é' for the vocabulary check to see).
    text = re.sub(r"[^\w' ]|[\d_]", " ", text)
    text = re.sub(r"(?<![^\W\d_])'|'(?![^\W\d_])", " ", text)  # quotes, not apostrophes
    return " ".join(text.split())


@dataclass(frozen=True)
class Vocabulary:
    """A character CTC vocabulary: ``labels[i]`` is the symbol for output id ``i``; id 0 is the blank."""

    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.labels or self.labels[0] != BLANK:
            raise ValueError(f"vocabulary must start with the blank {BLANK!r}, got {self.labels[:1]}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("vocabulary has duplicate labels")
        if WORD_DELIMITER not in self.labels or UNK not in self.labels:
            raise ValueError(f"vocabulary needs {WORD_DELIMITER!r} and {UNK!r}")

    @classmethod
    def default(cls) -> Vocabulary:
        """Blank, <s>, </s>, <unk>, '|', apostrophe and a-z: 32 labels."""
        return cls(SPECIAL_TOKENS + DEFAULT_CHARS)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return self.labels.index(UNK)

    @property
    def delimiter_id(self) -> int:
        return self.labels.index(WORD_DELIMITER)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def index(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of a normalised transcript the vocabulary cannot spell."""
        known = set(self.labels)
        return {c for c in text.replace(" ", "") if c not in known}

    def encode(self, text: str) -> list[int]:
        """Ids for a normalised transcript; spaces become the word delimiter, unknown chars <unk>."""
        index, unk = self.index, self.unk_id
        return [index.get(c, unk) for c in text.strip().replace(" ", WORD_DELIMITER)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text for already-collapsed ids (no CTC collapsing here); special tokens are dropped."""
        chars = [self.labels[i] for i in ids if self.labels[i] not in SPECIAL_TOKENS]
        return " ".join("".join(chars).replace(WORD_DELIMITER, " ").split())

    def to_json(self) -> dict[str, int]:
        return self.index

    def save(self, path: str | Path) -> None:
        """Write ``vocab.json`` in the Wav2Vec2CTCTokenizer format (label -> id)."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def from_json(cls, mapping: dict[str, int]) -> Vocabulary:
        ids = sorted(mapping.values())
        if ids != list(range(len(ids))):
            raise ValueError("vocab.json ids must be 0..N-1 without gaps")
        return cls(tuple(sorted(mapping, key=mapping.__getitem__)))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a ``vocab.json`` (a file, or a directory that holds one)."""
        path = Path(path)
        if path.is_dir():
            path = path / "vocab.json"
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{path}: not a usable vocab.json: {exc}") from exc


def build_vocabulary(texts: Sequence[str]) -> Vocabulary:
    """A vocabulary covering the default characters plus any others in the normalised ``texts``."""
    extra = sorted({c for t in texts for c in t.replace(" ", "")} - set(DEFAULT_CHARS) - set(SPECIAL_TOKENS))
    return Vocabulary(SPECIAL_TOKENS + DEFAULT_CHARS + tuple(extra))
