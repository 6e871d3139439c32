"""The engine protocol: what the corpus builder needs from a text-to-speech engine."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Protocol

import numpy as np


class EngineUnavailable(ValueError):
    """An engine's package is not installed; the message says which extra installs it.

    A ValueError so that the command line reports it as one line rather than a traceback.
    """


class Engine(Protocol):
    """A TTS engine. Construction is cheap; models load on first use, once per process."""

    name: str
    x_real_time: float     # rough single-core synthesis speed, used to schedule the slow engines first
    pitch_control: bool    # draw_params varies the pitch itself, so the pitch-shift effect is not needed

    def voices(self) -> list[str]:
        """The usable voice names (after any validation)."""
        ...

    def draw_params(self, rng: np.random.Generator) -> dict[str, float]:
        """Per-utterance synthesis parameters (rate, pitch, speed...), drawn from ``rng``."""
        ...

    def estimate_seconds(self, text: str, params: Mapping[str, float]) -> float:
        """About how long ``text`` will last when spoken with ``params`` (sizes the splits before rendering)."""
        ...

    def synthesize(self, text: str, voice: str, params: Mapping[str, float], seed: int) -> tuple[np.ndarray, int]:
        """Speak ``text``: a mono float32 signal in [-1, 1] and its sample rate in Hz."""
        ...


def require_modules(engine: str, extra: str, *modules: str) -> None:
    """Raise EngineUnavailable naming ``pip install 'speechdistill[extra]'`` unless ``modules`` import."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise EngineUnavailable(f"the {engine} engine needs {', '.join(missing)}: "
                                f"pip install 'speechdistill[{extra}]'")


def linear_duration(text: str, intercept_s: float, chars_per_s: float, tempo: float) -> float:
    """Spoken duration as ``intercept + characters / rate``, divided by a tempo factor (> 1 faster)."""
    return (intercept_s + len(text) / chars_per_s) / tempo


def uniform(rng: np.random.Generator, low: float, high: float, decimals: int = 3) -> float:
    """A rounded uniform draw, so that parameters print and serialise cleanly."""
    return round(float(rng.uniform(low, high)), decimals)
