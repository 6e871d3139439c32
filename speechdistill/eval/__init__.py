"""Scoring: WER and CER after the shared normaliser."""

from .metrics import ErrorCounts, cer, error_counts, wer

__all__ = ["ErrorCounts", "cer", "error_counts", "wer"]
