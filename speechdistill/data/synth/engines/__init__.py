"""TTS engines behind one protocol; adding an engine means adding one small class to ``ENGINES``."""

from __future__ import annotations

from .base import Engine, EngineUnavailable
from .espeak import EspeakEngine
from .hibari_tts import HibariEngine
from .piper_tts import PiperEngine

ENGINES: dict[str, type] = {"espeak": EspeakEngine, "hibari": HibariEngine, "piper": PiperEngine}


def load_engine(name: str) -> Engine:
    """A fresh engine instance; raises EngineUnavailable (with the pip extra to install) if it is missing."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
    return ENGINES[name]()


__all__ = ["ENGINES", "Engine", "EngineUnavailable", "EspeakEngine", "HibariEngine", "PiperEngine", "load_engine"]
