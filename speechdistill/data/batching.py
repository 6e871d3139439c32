"""Length-bucketed batches sized by total audio seconds, deterministic for a seed and rank-balanced.

Batches are built from utterances sorted by duration inside shuffled buckets, so little padding is
wasted; ``batch_seconds`` caps the *padded* audio in a batch (longest item x batch size). Under data
parallelism every rank receives the same number of batches, or the ranks would hang at the
all-reduce of the last step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler


def duration_batches(durations_s: Sequence[float], batch_seconds: float, seed: int, *,
                     shuffle: bool = True, bucket_size: int = 64, max_batch_items: int | None = None) -> list[list[int]]:
    """Index batches whose padded duration (max item x count) stays within ``batch_seconds``.

    An utterance longer than ``batch_seconds`` forms a batch of its own.
    """
    order = list(range(len(durations_s)))
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(order)
    batches: list[list[int]] = []
    # Sort inside buckets of bucket_size * (typical batch) items: local length sorting, global randomness.
    span = max(bucket_size, 1) * 16
    for start in range(0, len(order), span):
        bucket = sorted(order[start:start + span], key=lambda i: durations_s[i])
        batches.extend(_pack(bucket, durations_s, batch_seconds, max_batch_items))
    if shuffle:
        rng.shuffle(batches)
    return batches


def _pack(indices: list[int], durations_s: Sequence[float], batch_seconds: float,
          max_items: int | None) -> list[list[int]]:
    batches, current, longest = [], [], 0.0
    for i in indices:
        new_longest = max(longest, durations_s[i])
        full = max_items is not None and len(current) >= max_items
        if current and (new_longest * (len(current) + 1) > batch_seconds or full):
            batches.append(current)
            current, new_longest = [], durations_s[i]
        current.append(i)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


def shard_batches(batches: list[list[int]], num_replicas: int, rank: int) -> list[list[int]]:
    """This rank's share: the batch list is padded by repeating batches so every rank gets as many."""
    if num_replicas <= 1:
        return batches
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank {rank} outside 0..{num_replicas - 1}")
    per_rank = math.ceil(len(batches) / num_replicas)
    padded = batches + batches[: per_rank * num_replicas - len(batches)]
    return padded[rank::num_replicas]


class DurationBatchSampler(Sampler[list[int]]):
    """Batch sampler over utterance durations; ``set_epoch`` reshuffles, ``skip`` resumes mid-epoch.

    The order depends only on (seed, epoch), so a resumed run sees exactly the batches an
    uninterrupted one would.
    """

    def __init__(self, durations_s: Sequence[float], batch_seconds: float, seed: int = 0, *,
                 shuffle: bool = True, num_replicas: int = 1, rank: int = 0, max_batch_items: int | None = None):
        if batch_seconds <= 0:
            raise ValueError(f"batch_seconds must be positive, got {batch_seconds}")
        self.durations_s = list(durations_s)
        self.batch_seconds = batch_seconds
        self.seed = seed
        self.shuffle = shuffle
        self.num_replicas = num_replicas
        self.rank = rank
        self.max_batch_items = max_batch_items
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's order and skip its first ``skip`` batches (for resuming)."""
        self.epoch, self.skip = epoch, skip

    def batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, before skipping."""
        batches = duration_batches(self.durations_s, self.batch_seconds, self.seed * 100_003 + self.epoch,
                                   shuffle=self.shuffle, max_batch_items=self.max_batch_items)
        return shard_batches(batches, self.num_replicas, self.rank)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()[self.skip:]

    def __len__(self) -> int:
        return len(self.batches()) - self.skip
