"""The synthetic corpus grammar, hashed splits, held-out voices and the deterministic plan."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from speechdistill.data.synth import SynthOptions, lexicon, make_plan
from speechdistill.data.synth.build import load_engines, voice_sets
from speechdistill.data.synth.grammar import MAX_WORDS, MIN_WORDS, generate_sentence
from speechdistill.data.synth.splits import SPLIT_NAMES, is_held_out_variant, is_held_out_voice, sentence_pool
from speechdistill.text import Vocabulary, normalize_text


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    rng = random.Random(0)
    return [generate_sentence(rng) for _ in range(5000)]


def test_grammar_has_at_least_600_distinct_words(sentences):
    words = {w for s in sentences for w in s.split()}
    assert len(words) >= 600, len(words)


def test_sentences_are_short_normalised_and_spellable(sentences):
    vocabulary = Vocabulary.default()
    for sentence in sentences:
        assert MIN_WORDS <= len(sentence.split()) <= MAX_WORDS, sentence
        assert normalize_text(sentence) == sentence
        assert not vocabulary.unknown_chars(sentence), sentence


def test_grammar_covers_numbers_times_and_dates_as_words(sentences):
    text = " ".join(sentences)
    for phrase in ("minutes", "o'clock", "p m", "percent", "degrees", "tomorrow", "remind me", "call"):
        assert phrase in text, phrase
    assert not any(c.isdigit() for c in text)


def test_lexicon_entries_are_already_normalised():
    entries = [e for name in dir(lexicon) if name.isupper() for e in getattr(lexicon, name)]
    assert entries and all(normalize_text(e) == e for e in entries)


def test_grammar_is_deterministic_for_a_seed():
    first = [generate_sentence(random.Random(7)) for _ in range(3)]
    assert first == [generate_sentence(random.Random(7)) for _ in range(3)]
    rng_a, rng_b = random.Random(1), random.Random(2)
    assert [generate_sentence(rng_a) for _ in range(20)] != [generate_sentence(rng_b) for _ in range(20)]


def test_sentence_pools_depend_only_on_the_text(sentences):
    distinct = sorted(set(sentences))
    pools = [sentence_pool(s) for s in distinct]
    assert pools == [sentence_pool(s) for s in distinct]
    for pool in ("dev", "test"):
        assert 0.02 < pools.count(pool) / len(pools) < 0.09
    assert sentence_pool("Set a timer for 5 minutes") == sentence_pool("set a timer for five minutes")


def test_held_out_variants_are_a_stable_15_percent():
    from speechdistill.data.synth.engines import EspeakEngine

    variants = EspeakEngine().variants()
    held = [v for v in variants if is_held_out_variant(v)]
    assert 0.1 <= len(held) / len(variants) <= 0.2
    assert held == [v for v in reversed(variants) if is_held_out_variant(v)][::-1]
    assert all(is_held_out_voice(f"en-us+{v}") for v in held)


@pytest.fixture(scope="module")
def engines_and_sets():
    engines, missing = load_engines(SynthOptions(out=Path("unused"), progress=False))
    return engines, voice_sets(engines, 0.3), missing


def _plan(engines_and_sets, seed: int = 0, hours: float = 0.05):
    engines, sets, _ = engines_and_sets
    return make_plan(SynthOptions(out=Path("unused"), hours=hours, seed=seed, progress=False), sets, engines)


def test_eval_sentences_never_reach_train_for_any_seed_or_size(engines_and_sets):
    plans = [p for seed, hours in ((0, 0.05), (1, 0.1), (2, 0.02)) for p in _plan(engines_and_sets, seed, hours)]
    train = {p.text for p in plans if p.split == "train"}
    held = {p.text for p in plans if p.split != "train"}
    assert train and held and not train & held
    assert all(sentence_pool(p.text) == ("dev" if p.split == "dev" else "test") for p in plans if p.split != "train")
    babble = [text for p in plans if p.split == "train" for _, text in p.effects.babble]
    assert babble and all(sentence_pool(text) == "train" for text in babble)


def test_held_out_voices_and_engine_stay_in_their_test_splits(engines_and_sets):
    plans = _plan(engines_and_sets)
    assert {p.split for p in plans} == set(SPLIT_NAMES)
    for plan in plans:
        if plan.split == "test_unseen_voices":
            assert plan.engine == "espeak" and is_held_out_voice(plan.voice)
        elif plan.split == "test_unseen_engine":
            assert plan.engine == "piper"
        else:
            assert plan.engine in ("espeak", "hibari")
            assert plan.engine != "espeak" or not is_held_out_voice(plan.voice)
    train = [p for p in plans if p.split == "train"]
    hibari = sum(p.engine == "hibari" for p in train) / len(train)
    assert 0.15 < hibari < 0.45


def test_pitch_shift_is_only_for_engines_without_pitch_control(engines_and_sets):
    plans = _plan(engines_and_sets)
    assert all(p.effects.pitch_semitones == 0 for p in plans if p.engine == "espeak")
    assert any(p.effects.pitch_semitones != 0 for p in plans if p.engine == "hibari")
    assert len({p.params["pitch"] for p in plans if p.engine == "espeak"}) > 20


def test_eval_splits_have_their_minimum_size_and_train_the_most(engines_and_sets):
    plans = _plan(engines_and_sets, hours=0.05)
    counts = {name: sum(p.split == name for p in plans) for name in SPLIT_NAMES}
    assert all(counts[name] >= 20 for name in SPLIT_NAMES if name != "train")
    assert counts["train"] == max(counts.values())


def test_same_seed_same_plan_other_seed_other_plan(engines_and_sets):
    first, again, other = (_plan(engines_and_sets, seed) for seed in (0, 0, 1))
    assert [p.to_json() for p in first] == [p.to_json() for p in again]
    assert [p.text for p in first] != [p.text for p in other]
    assert [p.voice for p in first] != [p.voice for p in other]
    assert [p.effects for p in first] != [p.effects for p in other]


def test_a_bigger_build_extends_a_smaller_one(engines_and_sets):
    small = [p for p in _plan(engines_and_sets, hours=0.05) if p.split == "train"]
    big = [p for p in _plan(engines_and_sets, hours=0.1) if p.split == "train"]
    assert len(big) > len(small) and big[: len(small)] == small
