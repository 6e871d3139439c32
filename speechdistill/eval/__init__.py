"""Scoring: WER and CER after the shared normaliser, per-utterance analysis, bootstrap intervals, lexicons.

The end-to-end evaluation (``speechdistill eval``) lives in :mod:`speechdistill.eval.evaluate`.
"""

from .analysis import CorpusScore, UtteranceScore, bootstrap_wer_ci, score_corpus
from .lexicon import build_lexicon
from .metrics import ErrorCounts, cer, error_counts, wer
from .normalizers import NORMALIZERS, get_normalizer

__all__ = ["CorpusScore", "ErrorCounts", "NORMALIZERS", "UtteranceScore", "bootstrap_wer_ci", "build_lexicon", "cer",
           "error_counts", "get_normalizer", "score_corpus", "wer"]
