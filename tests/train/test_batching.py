import random

import pytest

from speechdistill.data.batching import DurationBatchSampler, duration_batches, shard_batches


def _durations(n=300, seed=0):
    rng = random.Random(seed)
    return [rng.uniform(0.5, 8.0) for _ in range(n)]


def test_batches_cover_every_item_once_and_respect_the_budget():
    durations = _durations()
    batches = duration_batches(durations, batch_seconds=30.0, seed=1)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(durations)))
    for b in batches:
        assert max(durations[i] for i in b) * len(b) <= 30.0 or len(b) == 1


def test_same_seed_same_batches_other_seed_other_order():
    durations = _durations()
    assert duration_batches(durations, 30.0, seed=3) == duration_batches(durations, 30.0, seed=3)
    assert duration_batches(durations, 30.0, seed=3) != duration_batches(durations, 30.0, seed=4)


def test_unshuffled_batches_are_stable_and_sorted_within_buckets():
    durations = _durations(50)
    batches = duration_batches(durations, 20.0, seed=0, shuffle=False)
    assert batches == duration_batches(durations, 20.0, seed=99, shuffle=False)
    flat = [i for b in batches for i in b]
    assert [durations[i] for i in flat] == sorted(durations)


def test_every_rank_gets_the_same_number_of_batches():
    batches = [[i] for i in range(7)]
    shards = [shard_batches(batches, 3, r) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    assert {tuple(b) for s in shards for b in s} == {(i,) for i in range(7)}
    with pytest.raises(ValueError):
        shard_batches(batches, 2, 5)


def test_sampler_skip_resumes_inside_an_epoch():
    sampler = DurationBatchSampler(_durations(), 30.0, seed=5)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, skip=4)
    assert list(sampler) == full[4:]
    assert len(sampler) == len(full) - 4
    sampler.set_epoch(3)
    assert list(sampler) != full


def test_max_batch_items_caps_batch_size():
    batches = duration_batches([1.0] * 40, 100.0, seed=0, max_batch_items=8)
    assert max(len(b) for b in batches) == 8
