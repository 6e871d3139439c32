"""Top-k log-prob encoding, time pooling and the random projection, against hand-written references."""

import pytest
import torch

from speechdistill.cache import ALIGNMENT_PRESERVING_AUGMENT, check_augment_compatible
from speechdistill.cache.encode import (
    orthogonal_projection,
    pool_attention,
    pool_log_probs,
    pool_time,
    topk_decode,
    topk_encode,
)
from speechdistill.data.augment_pipeline import WaveformAugmentConfig
from speechdistill.losses.frame_kl import pool_probs
from speechdistill.teachers import LOG_ZERO


def _log_probs(frames=7, vocab=10, seed=0, sharp=3.0):
    return (sharp * torch.randn(frames, vocab, generator=torch.Generator().manual_seed(seed))).log_softmax(-1)


def test_topk_keeps_best_labels_and_folds_the_rest_uniformly():
    lp = _log_probs()
    values, ids, other = topk_encode(lp, 3)
    assert values.dtype == other.dtype == torch.float16 and ids.dtype == torch.int16
    assert values.shape == ids.shape == (7, 3) and other.shape == (7,)
    ref_values, ref_ids = lp.topk(3, -1)
    assert torch.equal(ids.long(), ref_ids)
    assert torch.allclose(values.float(), ref_values, atol=2e-3)
    rest = 1 - ref_values.exp().sum(-1)
    assert torch.allclose(other.float().exp(), rest, rtol=2e-3, atol=1e-6)
    dense = topk_decode(values, ids, other, 10)
    assert torch.allclose(dense.logsumexp(-1), torch.zeros(7), atol=1e-6)  # each frame sums to 1
    assert torch.equal(dense.argmax(-1), lp.argmax(-1))
    assert torch.allclose(dense.gather(-1, ref_ids), ref_values, atol=3e-3)
    left_out = torch.ones_like(lp, dtype=torch.bool).scatter(-1, ref_ids, False)
    floor = dense[left_out].view(7, 7)
    assert torch.allclose(floor, floor[:, :1].expand(-1, 7))  # uniform share of the "other" mass
    assert torch.allclose(floor[:, 0].exp() * 7, rest, rtol=3e-3, atol=1e-6)


def test_k_at_least_vocab_is_lossless_up_to_fp16():
    lp = _log_probs(vocab=5)
    values, ids, other = topk_encode(lp, 8)
    assert values.shape == (7, 5) and (other == LOG_ZERO).all()
    assert torch.allclose(topk_decode(values, ids, other, 5), lp, atol=3e-3)


def test_batched_decode_and_certain_probabilities():
    lp = torch.full((2, 3, 6), LOG_ZERO).index_fill(-1, torch.tensor([2]), 0.0)  # all mass on label 2
    values, ids, other = topk_encode(lp.view(6, 6), 2)
    dense = topk_decode(values.view(2, 3, 2), ids.view(2, 3, 2), other.view(2, 3), 6)
    assert dense.shape == (2, 3, 6) and (dense[..., 2] == 0).all() and (dense[..., [0, 1, 3, 4, 5]] == LOG_ZERO).all()


def test_time_pooling_matches_frame_kl_pooling():
    lp = _log_probs(frames=7)
    pooled = pool_log_probs(lp, 3)
    ref, lengths = pool_probs(lp.exp()[None], torch.tensor([7]), 3)
    assert pooled.shape == (3, 10) and lengths.tolist() == [3]
    assert torch.allclose(pooled.exp(), ref[0], atol=1e-6)
    x = torch.arange(10.0).view(5, 2)
    assert pool_time(x, 2).tolist() == [[1, 2], [5, 6], [8, 9]]  # last window averages its one real frame
    assert pool_time(x, 1) is x


def test_attention_pooling_keeps_rows_distributions():
    att = torch.rand(2, 5, 5).softmax(-1)
    pooled = pool_attention(att, 2)
    assert pooled.shape == (2, 3, 3)
    assert torch.allclose(pooled.sum(-1), torch.ones(2, 3))
    assert torch.allclose(pooled[0, 0, 0], (att[0, :2, :2].sum(-1)).mean())


def test_projection_is_orthonormal_and_fixed_by_seed():
    q = orthogonal_projection(16, 4, seed=0)
    assert q.shape == (16, 4) and torch.allclose(q.T @ q, torch.eye(4), atol=1e-6)
    assert torch.equal(q, orthogonal_projection(16, 4, seed=0))
    assert not torch.equal(q, orthogonal_projection(16, 4, seed=1))
    with pytest.raises(ValueError, match="between 1 and"):
        orthogonal_projection(4, 8, seed=0)


def test_only_alignment_preserving_augmentation_with_a_cache():
    assert ALIGNMENT_PRESERVING_AUGMENT == ("gain", "noise", "spec_augment")
    check_augment_compatible(WaveformAugmentConfig(speed_factors=(1.0,)))
    check_augment_compatible(WaveformAugmentConfig(enabled=False))
    check_augment_compatible(None)
    with pytest.raises(ValueError, match=r"speed perturbation .*speed_factors: \[1.0\]"):
        check_augment_compatible(WaveformAugmentConfig())
