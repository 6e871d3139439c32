"""Render planned utterances to 16 kHz FLAC: synthesise, apply the planned effects, write atomically."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch

from ... import SAMPLE_RATE_HZ
from ..audio import check_audio, resample, save_audio
from . import effects as fx
from .engines import Engine, load_engine
from .noise import make_noise
from .plan import BABBLE_ENGINE, Effects, UtterancePlan


class Renderer:
    """Turns an ``UtterancePlan`` into audio. Holds one instance of each engine, created on first use."""

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}
        self.rendered = 0

    def engine(self, name: str) -> Engine:
        """This process's instance of engine ``name``."""
        if name not in self._engines:
            self._engines[name] = load_engine(name)
        return self._engines[name]

    def speak(self, text: str, engine: str, voice: str, params: dict, seed: int) -> np.ndarray:
        """Synthesise with an engine and resample to 16 kHz; raise DataError on empty or bad audio."""
        audio, rate = self.engine(engine).synthesize(text, voice, params, seed)
        where = f"{engine}/{voice} speaking {text!r}"
        return check_audio(resample(check_audio(audio, where, rate), rate, SAMPLE_RATE_HZ), where)

    def _babble(self, effects: Effects, seed: int) -> list[np.ndarray]:
        espeak = self.engine(BABBLE_ENGINE)
        return [self.speak(text, BABBLE_ENGINE, voice, espeak.draw_params(np.random.default_rng([seed, i])), i)
                for i, (voice, text) in enumerate(effects.babble)]

    def apply_effects(self, audio: np.ndarray, effects: Effects, seed: int) -> np.ndarray:
        """The planned effects, in order, on a 16 kHz signal; ``seed`` fixes the random room and noise."""
        rng = np.random.default_rng(seed)
        rate = SAMPLE_RATE_HZ
        audio = fx.speed_perturb(audio, effects.speed)
        audio = fx.pitch_shift(audio, effects.pitch_semitones)
        audio = fx.formant_warp(audio, effects.formant_ratio)
        audio = fx.reverberate(audio, rate, effects.rt60_s, effects.drr_db, rng)
        audio = fx.band_limit(audio, rate, effects.band)
        audio = fx.pad_silence(audio, rate, effects.lead_s, effects.tail_s)
        if effects.noise != "none":
            noise = make_noise(effects.noise, audio.size, rate, rng, self._babble(effects, seed))
            audio = fx.add_noise(audio, noise, float(effects.snr_db))
        return fx.set_level(audio, effects.level_dbfs)

    def render(self, plan: UtterancePlan) -> np.ndarray:
        """The utterance's final 16 kHz audio (deterministic for the plan)."""
        audio = self.speak(plan.text, plan.engine, plan.voice, dict(plan.params), plan.seed)
        return self.apply_effects(audio, plan.effects, plan.seed)

    def render_to(self, out_dir: Path, plan: UtterancePlan) -> float:
        """Render and write ``out_dir / plan.audio_path`` atomically; return the duration in seconds."""
        audio = self.render(plan)
        save_audio(out_dir / plan.audio_path, audio, SAMPLE_RATE_HZ)
        self.rendered += 1
        return audio.size / SAMPLE_RATE_HZ


_WORKER: Renderer | None = None


def _die_with_parent() -> None:
    """On Linux, have the kernel stop this worker when the builder dies, so a killed build leaves no orphans."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:    # the builder died before prctl took effect
            os._exit(1)


def init_worker() -> None:
    """Pool initializer: one renderer (and so one instance of each engine) per worker process."""
    global _WORKER
    _die_with_parent()
    torch.set_num_threads(1)   # one process per core; torch's own threads would oversubscribe
    _WORKER = Renderer()


def render_job(job: tuple[Path, UtterancePlan]) -> tuple[str, float]:
    """Worker task: render one utterance; returns its path and duration."""
    out_dir, plan = job
    assert _WORKER is not None, "render_job runs in a pool started with init_worker"
    return plan.audio_path, _WORKER.render_to(out_dir, plan)
