"""Decoding CTC outputs into text."""

from .beam import BeamSearchDecoder, BeamSearchOptions, Hypothesis, merge_nbest
from .greedy import greedy_decode, greedy_ids

__all__ = ["BeamSearchDecoder", "BeamSearchOptions", "Hypothesis", "greedy_decode", "greedy_ids", "merge_nbest"]
