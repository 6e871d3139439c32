"""The offline synthetic voice-command corpus: grammar, TTS engines, effects, splits and the builder."""

from .build import SynthOptions, build_corpus, make_plan
from .engines import ENGINES, Engine, EngineUnavailable, load_engine

__all__ = ["ENGINES", "Engine", "EngineUnavailable", "SynthOptions", "build_corpus", "load_engine", "make_plan"]
