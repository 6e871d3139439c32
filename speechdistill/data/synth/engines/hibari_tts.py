"""hibari (Apache-2.0): a 24 kHz neural voice. Only the bundled voice ``heart`` is used (no downloads)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import linear_duration, require_modules, uniform

BUNDLED_VOICE = "heart"


class HibariEngine:
    """hibari's bundled American English voice, with a per-utterance speaking speed."""

    name = "hibari"
    x_real_time = 100.0
    pitch_control = False

    def __init__(self, threads: int = 1) -> None:
        require_modules("hibari", "synth", "hibari", "onnxruntime")
        self.threads = threads
        self._tts = None

    def voices(self) -> list[str]:
        """Only the voice inside the package: the others would be downloaded."""
        return [BUNDLED_VOICE]

    def draw_params(self, rng: np.random.Generator) -> dict[str, float]:
        """hibari's ``speed`` (1.0 = its natural pace)."""
        return {"speed": uniform(rng, 0.85, 1.2)}

    def estimate_seconds(self, text: str, params: Mapping[str, float]) -> float:
        """Fitted on the grammar's sentences: 0.8 s plus about 19 characters a second."""
        return linear_duration(text, 0.8, 19.0, params.get("speed", 1.0))

    def synthesize(self, text: str, voice: str, params: Mapping[str, float], seed: int) -> tuple[np.ndarray, int]:
        """``seed`` fixes hibari's noise component, so the audio is reproducible."""
        if voice != BUNDLED_VOICE:
            raise ValueError(f"hibari voice {voice!r} is not bundled (only {BUNDLED_VOICE!r} works offline)")
        if self._tts is None:
            from hibari import Hibari

            self._tts = Hibari(voice=BUNDLED_VOICE, threads=self.threads)
        audio = self._tts(text, speed=float(params.get("speed", 1.0)), seed=int(seed))
        return np.asarray(audio, np.float32), int(self._tts.sample_rate)
