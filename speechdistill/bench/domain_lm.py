"""A domain language model and dictionary for PocketSphinx, built offline from training transcripts.

``build_arpa`` writes a word n-gram model in ARPA format with absolute discounting and back-off (the
discount of each order is Ney's estimate n1 / (n1 + 2 n2)); every word of the training sentences is in
its vocabulary. ``pronounce`` gives each word a pronunciation in the CMU phone set that the bundled
en-US acoustic model uses, in this order of preference:

=================  ===========================================================================
source             how
=================  ===========================================================================
cmudict            the word (and its alternates) in the dictionary bundled with pocketsphinx
spelling           a British spelling with an American entry ("favourites" -> "favorites")
compound           two dictionary words ("timesheet" -> "time" + "sheet")
letter-rules       approximate letter-to-sound rules (names such as "yusuf"); rough on purpose
=================  ===========================================================================
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text

BOS, EOS = "<s>", "</s>"
LOG10_ZERO = -99.0  # what ARPA files write for log10(0) (the probability of predicting <s>)
ARPA_NAME, DICT_NAME, NOTES_NAME = "domain.arpa", "domain.dict", "pronunciations.json"

SPELLING_RULES = (("our", "or"), ("tre", "ter"), ("ogh", "og"), ("isation", "ization"), ("ise", "ize"),
                  ("yse", "yze"), ("ll", "l"), ("ae", "e"))
LETTER_RULES = {  # longest grapheme first; values are CMU phones
    "tch": "CH", "igh": "AY", "sch": "S K", "ph": "F", "sh": "SH", "ch": "CH", "th": "TH", "ng": "NG",
    "ck": "K", "qu": "K W", "wh": "W", "kn": "N", "wr": "R", "ee": "IY", "ea": "IY", "oo": "UW", "ai": "EY",
    "ay": "EY", "oa": "OW", "ou": "AW", "ow": "OW", "oi": "OY", "oy": "OY", "au": "AO", "aw": "AO", "ie": "IY",
    "ei": "EY", "ue": "UW", "ua": "UW AH", "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F",
    "g": "G", "h": "HH", "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "z": "Z",
}
VOWELS = set("aeiou")


@dataclass(frozen=True)
class DomainModel:
    """The files PocketSphinx reads (``arpa``, ``dictionary``) and how each word got its pronunciation."""

    directory: Path
    arpa: Path
    dictionary: Path
    sources: dict[str, int]  # pronunciation source -> number of words
    generated: dict[str, str]  # word -> source, for every word not found in the dictionary as written
    sentences: int
    order: int


def read_cmudict(path: str | Path) -> dict[str, list[str]]:
    """word -> its pronunciations (``word(2)`` alternates folded in) from a CMU-format dictionary."""
    entries: dict[str, list[str]] = defaultdict(list)
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith(";;;"):
            entries[parts[0].split("(")[0]].append(" ".join(p for p in parts[1:] if not p.startswith("#")))
    return dict(entries)


def pronounce(word: str, cmudict: dict[str, list[str]]) -> tuple[list[str], str]:
    """Pronunciations of ``word`` and where they came from (see the module docstring)."""
    if word in cmudict:
        return cmudict[word], "cmudict"
    for old, new in SPELLING_RULES:
        variant = word.replace(old, new)
        if variant != word and variant in cmudict:
            return cmudict[variant], "spelling"
    split = _compound(word, cmudict)
    if split:
        return [f"{cmudict[split[0]][0]} {cmudict[split[1]][0]}"], "compound"
    return [letter_to_sound(word)], "letter-rules"


def _compound(word: str, cmudict: dict[str, list[str]]) -> tuple[str, str] | None:
    """The split into two dictionary words (2+ and 3+ letters) with the longest shorter part, if any."""
    splits = [(word[:i], word[i:]) for i in range(2, len(word) - 2) if word[:i] in cmudict and word[i:] in cmudict]
    return max(splits, key=lambda s: min(len(s[0]), len(s[1])), default=None)


def letter_to_sound(word: str) -> str:
    """Approximate CMU phones by greedy grapheme rules (doubled consonants once, a final silent e)."""
    letters = "".join(c for c in word if c.isalpha())
    if len(letters) > 2 and letters.endswith("e") and letters[-2] not in VOWELS:
        letters = letters[:-1]
    phones: list[str] = []
    i = 0
    while i < len(letters):
        if i and letters[i] == letters[i - 1] and letters[i] not in VOWELS:
            i += 1  # "nn" -> one N
            continue
        graph = next(g for g in (letters[i:i + 3], letters[i:i + 2], letters[i]) if g in LETTER_RULES or g == "y")
        if graph == "a" and i == len(letters) - 1:
            phones.append("AH")  # a final "a" is a schwa ("gianna")
        else:
            phones.append(_y_phone(letters, i) if graph == "y" else LETTER_RULES[graph])
        i += len(graph)
    return " ".join(phones) or "AH"


def _y_phone(letters: str, i: int) -> str:
    """'y' is a consonant before a vowel, a vowel otherwise."""
    if i + 1 < len(letters) and letters[i + 1] in VOWELS:
        return "Y"
    return "IY" if i == len(letters) - 1 else "IH"


def ngram_counts(sentences: Iterable[Sequence[str]], order: int) -> list[Counter]:
    """Counts of every 1..order-gram of the sentences padded with <s> and </s> (index 0: unigrams)."""
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        padded = (BOS, *words, EOS)
        for n in range(1, order + 1):
            counts[n - 1].update(padded[i:i + n] for i in range(len(padded) - n + 1))
    counts[0].pop((BOS,), None)  # <s> is a context, never predicted
    return counts


def _discount(counts: Counter) -> float:
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    return min(max(n1 / (n1 + 2 * n2), 0.1), 0.9) if n1 and n2 else 0.5


def ngram_probs(counts: list[Counter]) -> tuple[list[dict], list[dict]]:
    """log10 probabilities of every n-gram and log10 back-off weights of every context, per order."""
    total = sum(counts[0].values())
    probs = [{g: c / total for g, c in counts[0].items()}]
    backoffs: list[dict] = [{} for _ in counts]
    for n in range(2, len(counts) + 1):
        d = _discount(counts[n - 1])
        followers: dict[tuple, list[tuple]] = defaultdict(list)
        for gram in counts[n - 1]:
            followers[gram[:-1]].append(gram)
        level = {}
        for context, grams in followers.items():
            context_total = sum(counts[n - 1][g] for g in grams)
            level.update({g: (counts[n - 1][g] - d) / context_total for g in grams})
            lower_mass = sum(probs[n - 2][g[1:]] for g in grams)
            left = d * len(grams) / context_total
            backoffs[n - 2][context] = left / max(1.0 - lower_mass, 1e-9)
        probs.append(level)
    as_log = [{g: math.log10(p) for g, p in level.items()} for level in probs]
    return as_log, [{g: math.log10(b) for g, b in level.items()} for level in backoffs]


def build_arpa(sentences: Sequence[Sequence[str]], path: str | Path, order: int = 3) -> Path:
    """Write an ARPA n-gram model of ``sentences`` (lists of words) to ``path``; return the path."""
    if not sentences:
        raise ValueError("no sentences to build a language model from")
    probs, backoffs = ngram_probs(ngram_counts(sentences, order))
    probs[0] = {(BOS,): LOG10_ZERO, **probs[0]}
    lines = ["\\data\\", *(f"ngram {n}={len(level)}" for n, level in enumerate(probs, 1)), ""]
    for n, level in enumerate(probs, 1):
        lines.append(f"\\{n}-grams:")
        for gram in sorted(level):
            weight = backoffs[n - 1].get(gram) if n < order else None
            tail = f"\t{weight:.6f}" if weight is not None else ""
            lines.append(f"{level[gram]:.6f}\t{' '.join(gram)}{tail}")
        lines.append("")
    atomic_write_text(Path(path), "\n".join([*lines, "\\end\\", ""]))
    return Path(path)


def build_domain_model(sentences: Sequence[str], cmudict_path: str | Path, directory: str | Path,
                       order: int = 3) -> DomainModel:
    """Write ``domain.arpa``, ``domain.dict`` (every LM word) and ``pronunciations.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenised = [s.split() for s in sentences if s.split()]
    arpa = build_arpa(tokenised, directory / ARPA_NAME, order)
    cmudict = read_cmudict(cmudict_path)
    lines, sources, generated = [], Counter(), {}
    for word in sorted({w for s in tokenised for w in s}):
        prons, source = pronounce(word, cmudict)
        sources[source] += 1
        if source != "cmudict":
            generated[word] = source
        lines += [f"{word if i == 0 else f'{word}({i + 1})'} {p}" for i, p in enumerate(prons)]
    dictionary = atomic_write_text(directory / DICT_NAME, "\n".join(lines) + "\n")
    model = DomainModel(directory, arpa, dictionary, dict(sources), generated, len(tokenised), order)
    notes = {"sentences": model.sentences, "order": order, "sources": model.sources, "generated": generated}
    atomic_write_text(directory / NOTES_NAME, json.dumps(notes, indent=2) + "\n")
    return model
