"""Which sentences and voices each split may use, decided by hashes so every build agrees.

A sentence's pool (train, dev or test) is a hash of its normalised text, so dev/test sentences never
appear in any train split, whatever the seed or size. A fixed ~15% of espeak-ng voice variants, chosen
by a hash of the variant name, are held out of train/dev/test and voice the unseen-voices test split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ...text import normalize_text

DEV_FRACTION = 0.05          # of the sentence hash space
TEST_FRACTION = 0.05
HELD_OUT_VARIANT_FRACTION = 0.15

SEEN = "seen"                # espeak voices not held out, plus hibari
HELD_OUT = "held_out"        # the held-out espeak variants
UNSEEN_ENGINE = "unseen_engine"


@dataclass(frozen=True)
class SplitSpec:
    """One split: its sentence pool, its voices, and how noisy it is.

    ``noise_probability`` of its utterances get additive noise at ``snr_db`` (low, high) dB.
    """

    name: str
    sentences: str
    voices: str
    noise_probability: float = 0.0
    snr_db: tuple[float, float] = (20.0, 30.0)

    @property
    def is_eval(self) -> bool:
        """Every split but train is for evaluation."""
        return self.name != "train"


SPLITS: tuple[SplitSpec, ...] = (
    SplitSpec("train", "train", SEEN, noise_probability=0.2, snr_db=(12.0, 30.0)),
    SplitSpec("dev", "dev", SEEN),
    SplitSpec("test", "test", SEEN),
    SplitSpec("test_unseen_voices", "test", HELD_OUT),
    SplitSpec("test_unseen_engine", "test", UNSEEN_ENGINE),
    SplitSpec("test_noisy", "test", SEEN, noise_probability=1.0, snr_db=(5.0, 15.0)),
)
SPLIT_NAMES = tuple(spec.name for spec in SPLITS)


def _hash_fraction(key: str) -> float:
    """A stable number in [0, 1) for ``key`` (sha1; no dependence on PYTHONHASHSEED)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:13], 16) / 16**13


def sentence_pool(text: str) -> str:
    """'train', 'dev' or 'test' for a sentence, from the hash of its normalised text."""
    fraction = _hash_fraction("sentence:" + normalize_text(text))
    if fraction < DEV_FRACTION:
        return "dev"
    if fraction < DEV_FRACTION + TEST_FRACTION:
        return "test"
    return "train"


def is_held_out_variant(variant: str) -> bool:
    """Whether an espeak-ng voice variant ('m3', 'klatt2') is reserved for the unseen-voices split."""
    return _hash_fraction("variant:" + variant) < HELD_OUT_VARIANT_FRACTION


def is_held_out_voice(voice: str) -> bool:
    """Whether an espeak voice 'accent+variant' uses a held-out variant."""
    _, _, variant = voice.partition("+")
    return is_held_out_variant(variant)
