"""Fixtures for the teacher-cache tests: a tiny tone corpus with its manifest, and cache configs over it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from speechdistill.cache import CacheConfig
from speechdistill.data.audio import load_audio
from speechdistill.data.manifests import write_nemo_manifest
from tests.conftest import make_tone_utterances

NUM_UTTERANCES = 6
SHARD_SIZE = 2


@pytest.fixture(scope="session")
def cache_corpus(tmp_path_factory):
    """(utterances, manifest path): six tone utterances of 0.4-1.2 s."""
    root = tmp_path_factory.mktemp("cache_corpus")
    utterances = make_tone_utterances(root / "audio", n=NUM_UTTERANCES, seed=3)
    return utterances, write_nemo_manifest(root / "manifest.jsonl", utterances)


@pytest.fixture(scope="session")
def ctc_config(cache_corpus, tiny_teacher_dir, tmp_path_factory):
    """``ctc_config(out_dir=None, **changes)``: a CTC cache recipe keeping everything (one item per batch)."""
    _, manifest = cache_corpus
    base = CacheConfig(teacher=str(tiny_teacher_dir("wav2vec2")), manifest=str(manifest), out_dir="unset",
                       top_k=4, nbest=2, hidden_layers=(0, -1), attentions=True, shard_size=SHARD_SIZE,
                       batch_seconds=0.01, device="cpu")

    def make(out_dir=None, **changes):
        out = out_dir or tmp_path_factory.mktemp("cache")
        return replace(base, out_dir=str(out), **changes)

    return make


def audio_of(utterances):
    return [load_audio(u.audio_path) for u in utterances]


def live_items(teacher, utterances, **options):
    """The live teacher's output for each utterance run alone (the cache fixtures use one item per batch)."""
    return [teacher([audio], **options) for audio in audio_of(utterances)]
