"""Recognisers for every model kind: ``load(path_or_hub_id).transcribe(audio)``."""

from .load import MODEL_KINDS, load, model_kind
from .recognizer import DECODERS, CTCRecognizer, DecodeOptions, Recognizer, Transcript

__all__ = ["CTCRecognizer", "DECODERS", "DecodeOptions", "MODEL_KINDS", "Recognizer", "Transcript", "load",
           "model_kind"]
