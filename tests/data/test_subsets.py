"""The labelled share of a training set: its size, and that the ids alone fix it."""

from __future__ import annotations

import random

import pytest

from speechdistill.data.subsets import labelled_ids


def test_the_share_has_the_asked_size_and_is_fixed_by_the_ids_alone():
    ids = [f"utt{i:04d}" for i in range(1000)]
    share = labelled_ids(ids, 0.1)
    assert len(share) == 100 and share <= set(ids)
    shuffled = ids[:]
    random.Random(0).shuffle(shuffled)
    assert labelled_ids(shuffled, 0.1) == share  # manifest order does not matter
    assert labelled_ids(ids, 0.2) > share  # a larger share holds the smaller one
    assert sorted(share) != ids[:100]  # not simply the first lines of the manifest


def test_edges():
    assert labelled_ids(["a", "b", "c"], 0.01) == {labelled_ids(["a", "b", "c"], 0.34).pop()}  # never empty
    assert labelled_ids(["a", "b"], 1.0) == {"a", "b"} and labelled_ids([], 0.5) == set()
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            labelled_ids(["a"], bad)
