"""Data layer: utterance records, manifest readers, audio loading, batching, augmentation, synthetic corpus."""

from .errors import DataError, ErrorPolicy, SkipReport
from .records import Utterance

__all__ = ["DataError", "ErrorPolicy", "SkipReport", "Utterance"]
