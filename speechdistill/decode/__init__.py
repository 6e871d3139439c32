"""Decoding CTC outputs into text."""

from .greedy import greedy_decode, greedy_ids

__all__ = ["greedy_decode", "greedy_ids"]
