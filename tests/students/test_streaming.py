"""Streaming Conformer students: chunk masks, dynamic chunks, and chunk-by-chunk decoding with caches equal to
masked full-sequence decoding of the same model."""

from __future__ import annotations

import pytest
import torch

from speechdistill.students import conformer_ctc, load_student, save_student
from speechdistill.students.streaming import (
    FULL_CONTEXT,
    chunk_attention_mask,
    chunk_input_frames,
    init_state,
    sample_chunk_frames,
    stream_features,
)
from speechdistill.text import Vocabulary
from tests.students.helpers import padded_batch

TINY = dict(d_model=48, num_layers=3, num_heads=4, subsampling_channels=8, conv_kernel=7, dropout=0.0)


def _model(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return conformer_ctc("0.5m", streaming=True, **{**TINY, **overrides}).eval()


def test_chunk_mask_by_hand():
    mask = chunk_attention_mask(5, 2, left_chunks=1).int().tolist()
    assert mask == [[1, 1, 0, 0, 0],
                    [1, 1, 0, 0, 0],
                    [1, 1, 1, 1, 0],
                    [1, 1, 1, 1, 0],
                    [0, 0, 1, 1, 1]]
    assert chunk_attention_mask(5, 2).int()[4].tolist() == [1, 1, 1, 1, 1]  # unlimited left context
    assert chunk_attention_mask(3, FULL_CONTEXT).all()


def test_input_frames_per_chunk_match_sherpa_onnx():
    assert chunk_input_frames(16) == 67 and chunk_input_frames(8) == 35  # (C - 1) * 4 + 6 + 1


def test_dynamic_chunk_draws_cover_full_context_and_small_chunks():
    generator = torch.Generator().manual_seed(0)
    draws = [sample_chunk_frames(25, 0.5, generator) for _ in range(400)]
    assert 150 < draws.count(FULL_CONTEXT) < 250
    assert set(draws) - {FULL_CONTEXT} <= set(range(1, 26)) and len(set(draws)) > 15


@pytest.mark.parametrize("chunk, left", [(4, 2), (3, -1), (1, 3)])
def test_chunk_by_chunk_with_caches_equals_masked_full_sequence(chunk, left):
    model = _model(left_chunks=left)
    chunks = 7
    frames = chunk_input_frames(chunk) + (chunks - 1) * chunk * 4
    features = torch.randn(frames + 2, 80, generator=torch.Generator().manual_seed(1)) * 3 - 5
    with torch.no_grad():
        masked = model.encode(features[None], torch.tensor([frames + 2]), chunk_frames=chunk)
    reference = torch.log_softmax(masked.logits, -1)[0, : chunks * chunk]
    streamed = stream_features(model, features, chunk, left if left >= 0 else chunks)
    assert streamed.shape == reference.shape
    torch.testing.assert_close(streamed, reference, atol=2e-5, rtol=0)


def test_caches_have_sherpa_onnx_shapes():
    model = _model(left_chunks=4)
    state = init_state(model, 16, 4)
    assert state.attn_cache.shape == (3, 4, 64, 2 * 48 // 4)  # (num_blocks, head, cache, output_size / head * 2)
    assert state.conv_cache.shape == (3, 1, 48, 6)  # (num_blocks, 1, output_size, kernel - 1)
    assert state.offset == 64
    assert state.cache_mask(16).int().sum() == 16  # the first chunk sees no cache


def test_streaming_output_does_not_depend_on_the_future():
    model = _model()
    waveforms, lengths = padded_batch([16_000])
    changed = waveforms.clone()
    changed[0, 12_000:] = 0.5 * torch.randn(4_000)
    with torch.no_grad():
        a = model(waveforms, lengths, chunk_frames=4).logits
        b = model(changed, lengths, chunk_frames=4).logits
        full_a = model(waveforms, lengths, chunk_frames=FULL_CONTEXT).logits
        full_b = model(changed, lengths, chunk_frames=FULL_CONTEXT).logits
    # chunks 0-3 (frames 0-15) read fbank frames up to 15 * 4 + 6 = 66, whose window ends at sample 10 840
    torch.testing.assert_close(a[0, :16], b[0, :16])
    assert not torch.allclose(full_a[0, :16], full_b[0, :16])


def test_padding_does_not_change_streaming_outputs_and_no_nan():
    model = _model(left_chunks=1)
    waveforms, lengths = padded_batch([16_000, 5_000])
    with torch.no_grad():
        batch = model(waveforms, lengths, chunk_frames=2)
        alone = model(waveforms[1:, :5_000], lengths[1:], chunk_frames=2)
    n = int(alone.lengths)
    assert torch.isfinite(batch.logits).all()
    torch.testing.assert_close(batch.logits[1, :n], alone.logits[0], atol=1e-5, rtol=0)


def test_training_draws_chunks_and_gradients_flow():
    model = _model()
    model.train()
    waveforms, lengths = padded_batch([8_000, 6_000])
    out = model(waveforms, lengths)
    out.logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_non_streaming_student_refuses_chunks():
    model = conformer_ctc("0.5m", **TINY).eval()
    waveforms, lengths = padded_batch([4_000])
    with pytest.raises(ValueError, match="streaming"):
        model(waveforms, lengths, chunk_frames=4)


def test_streaming_student_saves_and_loads(tmp_path):
    vocab = Vocabulary.default()
    model = conformer_ctc("0.5m", streaming=True, vocab_size=len(vocab), **TINY).eval()
    save_student(model, vocab, tmp_path / "s")
    student = load_student(tmp_path / "s")
    loaded = student.model
    assert loaded.config.streaming and loaded.feature_norm is not None
    assert student.marker.extra["streaming"] == {"chunk_frames": 16, "left_chunks": -1, "sample_scale": 32768.0}
    assert "32768" in (tmp_path / "s" / "README.md").read_text()
    waveforms, lengths = padded_batch([6_000])
    with torch.no_grad():
        torch.testing.assert_close(loaded(waveforms, lengths).logits, model(waveforms, lengths).logits)
