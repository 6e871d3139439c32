"""The corpus plan: every utterance (text, engine, voice, parameters, effects, seed) decided up front.

Planning happens in the main process from the seed alone, so workers only render, any number of jobs
gives the same corpus, and a rerun knows which files are already done. Utterance ``i`` of a split is
drawn from generators seeded by (seed, split, i), so a bigger build extends a smaller one.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .engines import Engine
from .engines.base import uniform as _round
from .grammar import generate_sentence
from .noise import NOISE_KINDS
from .splits import HELD_OUT, SEEN, UNSEEN_ENGINE, SplitSpec, sentence_pool

BABBLE_ENGINE = "espeak"
_TEXT_TRIES = 200            # draws allowed to find a sentence in the split's pool that it has not used


@dataclass(frozen=True)
class Effects:
    """Augmentation applied to one utterance, in the order the renderer applies them."""

    speed: float = 1.0                 # resampling factor, > 1 faster
    pitch_semitones: float = 0.0       # pitch only; the formants stay
    formant_ratio: float = 1.0         # spectral-envelope scale, > 1 a shorter vocal tract
    rt60_s: float = 0.0                # 0 = no reverberation
    drr_db: float = 0.0                # direct-to-reverberant ratio
    band: str = "full"                 # see effects.BANDS_HZ
    noise: str = "none"                # "none" or one of noise.NOISE_KINDS
    snr_db: float | None = None
    babble: tuple[tuple[str, str], ...] = ()   # (espeak voice, text) talkers for "babble" noise
    level_dbfs: float = -23.0          # RMS level of the result
    lead_s: float = 0.0                # silence before and after
    tail_s: float = 0.0


@dataclass(frozen=True)
class UtterancePlan:
    """One planned utterance. ``params`` are the engine's own synthesis parameters."""

    split: str
    index: int
    text: str
    engine: str
    voice: str
    params: Mapping[str, float] = field(default_factory=dict)
    effects: Effects = Effects()
    seed: int = 0

    @property
    def speaker(self) -> str:
        """'engine/voice', the manifest's speaker field."""
        return f"{self.engine}/{self.voice}"

    def to_json(self) -> dict:
        """Every field, JSON-serialisable."""
        record = asdict(self)
        record["params"] = dict(self.params)
        return record

    @property
    def key(self) -> str:
        """A short hash of the whole plan: a changed plan gets a new file name instead of a stale file."""
        return hashlib.sha1(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:10]

    @property
    def audio_path(self) -> str:
        """Path relative to the corpus directory."""
        return f"audio/{self.split}/{self.index:06d}-{self.key}.flac"


def draw_effects(rng: np.random.Generator, py_rng: random.Random, spec: SplitSpec,
                 babble_voices: Sequence[str], pitch_shift_probability: float = 0.5) -> Effects:
    """Augmentation for one utterance of ``spec``: each effect is on with its own probability.

    Engines with their own pitch control (espeak's pitch and range) pass ``pitch_shift_probability=0``:
    shifting again would only cost time.
    """
    values: dict = {"level_dbfs": _round(rng, -32.0, -18.0, 1), "lead_s": _round(rng, 0.05, 0.4),
                    "tail_s": _round(rng, 0.05, 0.4)}
    if rng.random() < 0.5:
        values["speed"] = _round(rng, 0.9, 1.1, 2)   # hundredths: small integer resampling ratios
    if rng.random() < pitch_shift_probability:
        values["pitch_semitones"] = _round(rng, -3.0, 3.0, 2)
    if rng.random() < 0.5:
        values["formant_ratio"] = _round(rng, 0.9, 1.1)
    if rng.random() < 0.35:
        values.update(rt60_s=_round(rng, 0.15, 0.7), drr_db=_round(rng, 0.0, 12.0, 1))
    if rng.random() < 0.2:
        values["band"] = str(rng.choice(("telephone", "8khz", "11khz")))
    if rng.random() < spec.noise_probability:
        values.update(noise=str(rng.choice(NOISE_KINDS)), snr_db=_round(rng, *spec.snr_db, 1))
        if values["noise"] == "babble":
            talkers = int(rng.integers(3, 7))
            # Babble speaks sentences of the split's own pool, so no test sentence is heard in train.
            values["babble"] = tuple((str(rng.choice(babble_voices)), _draw_text(py_rng, spec.sentences, set()))
                                     for _ in range(talkers))
    return Effects(**values)


def _draw_text(py_rng: random.Random, pool: str, used: set[str]) -> str:
    """A sentence from ``pool``; one not in ``used`` when the grammar offers one within the tries."""
    fallback = None
    for _ in range(_TEXT_TRIES):
        text = generate_sentence(py_rng)
        if sentence_pool(text) != pool:
            continue
        if text not in used:
            return text
        fallback = fallback or text
    if fallback is None:
        raise RuntimeError(f"the grammar gave no {pool!r} sentence in {_TEXT_TRIES} tries")
    return fallback


@dataclass(frozen=True)
class VoiceSets:
    """Voices each split may draw from: by engine, after validation and hold-outs."""

    seen: Mapping[str, Sequence[str]]
    held_out: Mapping[str, Sequence[str]]
    unseen_engine: Mapping[str, Sequence[str]]
    engine_weights: Mapping[str, float]          # share of each engine in the seen splits

    def for_split(self, spec: SplitSpec) -> Mapping[str, Sequence[str]]:
        """The voices (by engine) that ``spec`` may use."""
        return {SEEN: self.seen, HELD_OUT: self.held_out, UNSEEN_ENGINE: self.unseen_engine}[spec.voices]


def _pick_voice(rng: np.random.Generator, voices: Mapping[str, Sequence[str]],
                weights: Mapping[str, float]) -> tuple[str, str]:
    engines = [name for name in voices if voices[name]]
    p = np.array([weights.get(name, 1.0) for name in engines], np.float64)
    engine = engines[int(rng.choice(len(engines), p=p / p.sum()))]
    return engine, str(rng.choice(list(voices[engine])))


def plan_utterance(seed: int, spec: SplitSpec, split_index: int, index: int, voice_sets: VoiceSets,
                   engines: Mapping[str, Engine], used_texts: set[str]) -> UtterancePlan:
    """Utterance ``index`` of a split, drawn from generators seeded by (seed, split, index) alone."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, split_index, index])
    py_rng = random.Random(f"{seed}:{spec.name}:{index}")
    text = _draw_text(py_rng, spec.sentences, used_texts)
    engine, voice = _pick_voice(rng, voice_sets.for_split(spec), voice_sets.engine_weights)
    babble_voices = voice_sets.seen.get(BABBLE_ENGINE) or voice_sets.held_out.get(BABBLE_ENGINE, ())
    return UtterancePlan(split=spec.name, index=index, text=text, engine=engine, voice=voice,
                         params=engines[engine].draw_params(rng),
                         effects=draw_effects(rng, py_rng, spec, babble_voices,
                                              0.0 if engines[engine].pitch_control else 0.5),
                         seed=int(rng.integers(0, 2**31 - 1)))


def estimate_seconds(plan: UtterancePlan, engine: Engine) -> float:
    """Duration before rendering (the engine's estimate, the speed effect and the padding)."""
    speaking = engine.estimate_seconds(plan.text, plan.params) / plan.effects.speed
    return speaking + plan.effects.lead_s + plan.effects.tail_s


def plan_split(seed: int, spec: SplitSpec, split_index: int, target_s: float, min_count: int,
               voice_sets: VoiceSets, engines: Mapping[str, Engine]) -> list[UtterancePlan]:
    """Utterances for one split until the estimated audio reaches ``target_s`` and ``min_count``."""
    plans: list[UtterancePlan] = []
    used: set[str] = set()
    total_s = 0.0
    while total_s < target_s or len(plans) < min_count:
        plan = plan_utterance(seed, spec, split_index, len(plans), voice_sets, engines, used)
        plans.append(plan)
        used.add(plan.text)
        total_s += estimate_seconds(plan, engines[plan.engine])
    return plans
