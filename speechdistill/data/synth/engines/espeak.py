"""espeak-ng through the ``espeakng-loader`` wheel, driven with ctypes (no system espeak needed).

A voice is an English accent plus a variant from ``espeak-ng-data/voices/!v`` ("en-us+m3"). Every
combination is synthesised once at start-up; those that fail or produce silence or garbage are dropped.

espeak-ng keeps synthesis state in static variables that no API resets (the pitch-flutter phase among
them), so the same text comes out a few milliseconds different depending on what was spoken before.
Each utterance therefore gets a fresh load of the library (about 3 ms), and its random generators
(espeak's own and libc's, used by the breathy, whispering and klatt variants) are seeded from the
utterance's seed: the audio is then a function of text, voice, parameters and seed alone, whatever
a worker rendered earlier.
"""

from __future__ import annotations

import _ctypes
import ctypes
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from .base import linear_duration, require_modules, uniform

# Accent label (used in voice names) -> espeak-ng voice file name.
ACCENTS = {"en-us": "en-us", "en-gb": "en", "en-gb-scotland": "en-gb-scotland", "en-gb-x-rp": "en-gb-x-rp",
           "en-gb-x-gbclan": "en-gb-x-gbclan", "en-gb-x-gbcwmd": "en-gb-x-gbcwmd", "en-029": "en-029",
           "en-us-nyc": "en-us-nyc"}
DEFAULT_PARAMS = {"rate": 175, "pitch": 50, "range": 50}   # words per minute; pitch and range on 0-100
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_IDS = {"rate": 1, "pitch": 3, "range": 4}
_PROBE_TEXT = "yes"
_LIBC = ctypes.CDLL(None)
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Library:
    """One load of the espeak-ng shared library, initialised in synchronous mode; ``close`` unloads it."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib = lib
        data_path = espeakng_loader.get_data_path()
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            self.close()
            raise RuntimeError(f"espeak_Initialize failed with {self.sample_rate} (data at {data_path})")
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: espeak calls it during espeak_Synth
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n: int, _events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def speak(self, text: str, voice_file: str, params: Mapping[str, float], seed: int = 0) -> np.ndarray | None:
        """int16 samples, or None when espeak rejects the voice or the text."""
        self._chunks.clear()
        if self.lib.espeak_SetVoiceByName(voice_file.encode()) != 0:
            return None
        for name, default in DEFAULT_PARAMS.items():
            self.lib.espeak_SetParameter(_PARAM_IDS[name], int(params.get(name, default)), 0)
        self.lib.espeak_ng_SetRandSeed(int(seed))   # otherwise seeded from the clock
        _LIBC.srand(int(seed) & 0xFFFFFFFF)         # the klatt voices' noise still calls libc rand()
        data = text.encode() + b"\0"
        if self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None) != 0:
            return None
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    def close(self) -> None:
        """Free espeak's memory and unload the library, so the next load starts from a clean state."""
        self.lib.espeak_Terminate()
        _ctypes.dlclose(self.lib._handle)


@contextmanager
def _loaded() -> Iterator[_Library]:
    library = _Library()
    try:
        yield library
    finally:
        library.close()


def looks_like_speech(audio: np.ndarray, sample_rate: int) -> bool:
    """A probe word came out as plausible speech: 0.15-5 s long, audible, finite, not clipped."""
    if audio.size == 0 or not np.isfinite(audio).all():
        return False
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    clipped = float(np.mean(np.abs(audio) >= 0.999))
    return 0.15 <= audio.size / sample_rate <= 5.0 and 0.003 <= rms <= 0.7 and clipped < 0.01


def _voice_file(voice: str, variants: frozenset[str]) -> str | None:
    """espeak's name for 'accent+variant', or None for an unknown accent or variant (espeak would
    silently ignore an unknown variant)."""
    accent, _, variant = voice.partition("+")
    if accent not in ACCENTS or (variant and variant not in variants):
        return None
    return ACCENTS[accent] + (f"+{variant}" if variant else "")


@lru_cache(maxsize=4)
def validated_voices(candidates: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(usable, dropped) among ``candidates``: each speaks a probe word, which must look like speech."""
    variants = frozenset(EspeakEngine().variants())
    usable, dropped = [], []
    with _loaded() as library:     # one load for all probes: only the pass/fail matters here
        for voice in candidates:
            voice_file = _voice_file(voice, variants)
            samples = library.speak(_PROBE_TEXT, voice_file, {}) if voice_file else None
            ok = samples is not None and looks_like_speech(samples / 32768.0, library.sample_rate)
            (usable if ok else dropped).append(voice)
    return tuple(usable), tuple(dropped)


class EspeakEngine:
    """espeak-ng: 8 English accents x the voice variants, with per-utterance rate, pitch and pitch range."""

    name = "espeak"
    x_real_time = 300.0
    pitch_control = True

    def __init__(self) -> None:
        require_modules("espeak-ng", "synth", "espeakng_loader")

    def variants(self) -> list[str]:
        """Variant names shipped in espeak-ng-data/voices/!v."""
        import espeakng_loader

        return sorted(p.name for p in (Path(espeakng_loader.get_data_path()) / "voices" / "!v").iterdir())

    def candidate_voices(self) -> list[str]:
        """Every accent+variant combination, before validation."""
        return [f"{accent}+{variant}" for accent in ACCENTS for variant in self.variants()]

    def voices(self) -> list[str]:
        """The combinations that speak a probe word properly (validated once per process)."""
        return list(validated_voices(tuple(self.candidate_voices()))[0])

    @property
    def dropped(self) -> list[str]:
        """The combinations that failed validation."""
        return list(validated_voices(tuple(self.candidate_voices()))[1])

    def draw_params(self, rng: np.random.Generator) -> dict[str, float]:
        """Words per minute, base pitch and pitch range (espeak's 0-100 scales)."""
        return {"rate": round(uniform(rng, 135, 215)), "pitch": round(uniform(rng, 25, 75)),
                "range": round(uniform(rng, 20, 90))}

    def estimate_seconds(self, text: str, params: Mapping[str, float]) -> float:
        """Fitted on the grammar's sentences: about 20 characters a second at 175 words per minute."""
        rate = params.get("rate", DEFAULT_PARAMS["rate"])
        return linear_duration(text, 0.15, 20.0, rate / DEFAULT_PARAMS["rate"])

    def synthesize(self, text: str, voice: str, params: Mapping[str, float], seed: int) -> tuple[np.ndarray, int]:
        """``seed`` drives espeak's own noise (breath), so the audio is reproducible."""
        voice_file = _voice_file(voice, frozenset(self.variants()))
        if voice_file is None:
            raise ValueError(f"unknown espeak voice {voice!r}: expected an accent in {sorted(ACCENTS)} "
                             "plus an optional +variant from espeak-ng-data/voices/!v")
        with _loaded() as library:
            samples = library.speak(text, voice_file, params, seed)
            rate = library.sample_rate
        if samples is None:
            raise RuntimeError(f"espeak-ng rejected voice {voice!r} or the text {text!r}")
        return samples.astype(np.float32) / 32768.0, rate
