"""The PocketSphinx domain model: a proper back-off n-gram LM, a dictionary covering every word, and it loads."""

from __future__ import annotations

import numpy as np
import pytest

from speechdistill.bench.domain_lm import (
    BOS,
    EOS,
    build_arpa,
    build_domain_model,
    letter_to_sound,
    pronounce,
    read_cmudict,
)
from speechdistill.bench.pocketsphinx import PocketSphinxModel, bundled_model_dir
from tests.conftest import TINY_TEXTS

SENTENCES = [s.split() for s in ("turn on the lights", "turn off the lights", "turn on the radio please",
                                 "set a timer", "set an alarm", "stop", "the lights please")]


def read_arpa(path) -> tuple[dict[int, int], dict[tuple, tuple[float, float]]]:
    """Declared counts per order and ``ngram -> (log10 p, log10 back-off)``."""
    declared, grams, order = {}, {}, 0
    for line in path.read_text().splitlines():
        if line.startswith("ngram "):
            n, count = line[6:].split("=")
            declared[int(n)] = int(count)
        elif line.endswith("-grams:"):
            order = int(line[1])
        elif order and line.strip() and not line.startswith("\\"):
            fields = line.split("\t")
            grams[tuple(fields[1].split())] = (float(fields[0]), float(fields[2]) if len(fields) > 2 else 0.0)
    return declared, grams


def log10_prob(grams, history: tuple, word: str) -> float:
    """Back-off probability as a decoder computes it."""
    if (*history, word) in grams:
        return grams[(*history, word)][0]
    if not history:
        raise KeyError(word)
    backoff = grams.get(history, (0.0, 0.0))[1]
    return backoff + log10_prob(grams, history[1:], word)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_arpa_counts_match_and_every_context_sums_to_one(tmp_path, order):
    declared, grams = read_arpa(build_arpa(SENTENCES, tmp_path / "lm.arpa", order))
    assert declared == {n: sum(1 for g in grams if len(g) == n) for n in range(1, order + 1)}
    vocab = [g[0] for g in grams if len(g) == 1 and g[0] != BOS]
    assert set(vocab) == {w for s in SENTENCES for w in s} | {EOS}
    contexts = {g[:-1] for g in grams if 1 < len(g)} | {()}
    for history in contexts:
        total = sum(10 ** log10_prob(grams, history[-(order - 1):] if order > 1 else (), w) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-4), history


def test_pronunciation_sources():
    cmudict = {"time": ["T AY M"], "sheet": ["SH IY T"], "favorites": ["F EY V ER IH T S"], "read": ["R IY D", "R EH D"]}
    assert pronounce("read", cmudict) == (["R IY D", "R EH D"], "cmudict")
    assert pronounce("favourites", cmudict) == (["F EY V ER IH T S"], "spelling")
    assert pronounce("timesheet", cmudict) == (["T AY M SH IY T"], "compound")
    assert pronounce("yusuf", cmudict) == (["Y AH S AH F"], "letter-rules")
    assert letter_to_sound("gianna") == "G IH AE N AH" and letter_to_sound("cake") == "K AE K"


def test_domain_model_covers_every_word_and_pocketsphinx_loads_it(tmp_path):
    texts = [*TINY_TEXTS, "play coldplay for priya"]
    model = build_domain_model(texts, bundled_model_dir() / "cmudict-en-us.dict", tmp_path / "lm")
    entries = read_cmudict(model.dictionary)
    assert set(entries) == {w for t in texts for w in t.split()}
    assert model.generated == {"coldplay": "compound", "priya": "letter-rules"}
    assert sum(model.sources.values()) == len(entries) and model.sentences == len(texts)
    recogniser = PocketSphinxModel(model.directory)
    tone = 0.1 * np.sin(np.linspace(0, 2000, 16_000, dtype=np.float32))
    (text,) = recogniser.transcribe([tone])
    assert isinstance(text, str) and set(text.split()) <= set(entries)


def test_no_sentences_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no sentences"):
        build_arpa([], tmp_path / "lm.arpa")
