"""WER/CER against hand-counted edits, per-utterance counts, top substitutions, normalisers, bootstrap CI."""

import json

import numpy as np
import pytest

from speechdistill.eval import bootstrap_wer_ci, cer, error_counts, get_normalizer, score_corpus, wer
from speechdistill.eval.normalizers import whisper_normalizer

REFS = ["the cat sat on the mat", "hello world"]
HYPS = ["the cat sit on mat", "hello big world"]  # 1 substitution + 1 deletion; 1 insertion


def test_wer_and_cer_match_hand_counts():
    counts = error_counts(REFS, HYPS)
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.reference_words) == (1, 1, 1, 8)
    assert wer(REFS, HYPS) == pytest.approx(3 / 8)
    # characters (spaces count): 'a'->'i' and "the " deleted = 5 edits; "big " inserted = 4; 22 + 11 ref chars
    assert cer(REFS, HYPS) == pytest.approx(9 / 33)


def test_per_utterance_counts_add_up_to_the_corpus():
    scored = score_corpus(REFS, HYPS)
    first, second = scored.utterances
    assert (first.substitutions, first.deletions, first.insertions, first.errors, first.ref_words) == (1, 1, 0, 2, 6)
    assert (second.substitutions, second.deletions, second.insertions, second.ref_words) == (0, 0, 1, 2)
    assert scored.counts == error_counts(REFS, HYPS)
    assert second.hyp == "hello big world"


def test_empty_hypothesis_is_all_deletions_and_empty_corpus_is_an_error():
    [only] = score_corpus(["turn on the lights"], [""]).utterances
    assert (only.deletions, only.errors) == (4, 4)
    with pytest.raises(ValueError, match="no utterances"):
        score_corpus([], [])


def test_top_substitutions_counts_word_pairs():
    refs = ["turn on the light", "turn off the light", "the light is on", "play jazz"]
    hyps = ["turn in the lights", "turn of the lights", "a lights is in", "pay jazz"]
    top = score_corpus(refs, hyps).top_substitutions(3)
    assert top == [("light", "lights", 3), ("on", "in", 2), ("off", "of", 1)]
    all_pairs = score_corpus(refs, hyps).substitution_pairs
    assert sum(c for _, _, c in all_pairs) == error_counts(refs, hyps).substitutions == 8


def test_default_normaliser_makes_written_and_spoken_forms_equal():
    assert wer(["Dr. Smith paid $5 at 5:30!"], ["doctor smith paid five dollars at five thirty"]) == 0.0
    assert get_normalizer("default")("Don't STOP.") == "don't stop"


def test_whisper_normaliser_option(tmp_path):
    normalize = get_normalizer("whisper")
    assert normalize("Mr. Smith won't pay, hmm.") == "mister smith will not pay"
    refs, hyps = ["I won't go"], ["i will not go"]
    assert wer(refs, hyps, normalizer=normalize) == 0.0
    assert wer(refs, hyps) > 0  # the default normaliser keeps contractions
    assert normalize("colour") == "colour"  # no spelling table offline
    table = tmp_path / "normalizer.json"
    table.write_text(json.dumps({"colour": "color"}))
    assert whisper_normalizer(table)("the colour") == "the color"
    with pytest.raises(ValueError, match="unknown normalizer"):
        get_normalizer("nemo")


def test_bootstrap_matches_a_fixed_seed_reference():
    errors, words = [1, 0, 3, 2, 0, 5], [4, 5, 6, 3, 2, 7]
    # the reference: resample whole utterances (indices) with replacement, WER = sum errors / sum words
    rng = np.random.default_rng(7)
    e, w = np.array(errors, float), np.array(words, float)
    resampled = []
    for _ in range(200):
        idx = rng.integers(0, len(e), size=len(e))
        resampled.append(e[idx].sum() / w[idx].sum())
    expected = (np.percentile(resampled, 2.5), np.percentile(resampled, 97.5))
    assert bootstrap_wer_ci(errors, words, n=200, seed=7) == pytest.approx(expected, abs=1e-12)
    assert bootstrap_wer_ci(errors, words, n=200, seed=7) == bootstrap_wer_ci(errors, words, n=200, seed=7)
    lo, hi = bootstrap_wer_ci(errors, words)
    assert lo <= sum(errors) / sum(words) <= hi


def test_bootstrap_resamples_utterances_not_words():
    # every utterance has the same WER, so every utterance-level resample has exactly that WER
    assert bootstrap_wer_ci([1, 2, 3], [4, 8, 12]) == pytest.approx((0.25, 0.25))
    with pytest.raises(ValueError):
        bootstrap_wer_ci([], [])
