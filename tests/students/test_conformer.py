"""Conformer-CTC students: sizes, lengths, padding invariance, layer selection, attention maps."""

from __future__ import annotations

import pytest
import torch

from speechdistill.features import kaldi_fbank
from speechdistill.students import CONFORMER_PRESETS, conformer_ctc, num_parameters, subsampled_lengths
from speechdistill.students.conformer import normalize_features
from tests.students.helpers import padded_batch

NOMINAL = {"0.5m": 0.5e6, "1m": 1e6, "3m": 3e6, "10m": 10e6}
LENGTHS = [16_000, 9_000, 3_200]  # 1 s, 0.56 s, 0.2 s


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return conformer_ctc("1m").eval()


@pytest.fixture(scope="module")
def batch_out(model):
    waveforms, lengths = padded_batch(LENGTHS)
    with torch.no_grad():
        return model(waveforms, lengths, hidden_layers=(0, 2, -1), attention_layers=(1, -1))


@pytest.mark.parametrize("size", list(NOMINAL))
def test_parameter_count_within_25_percent(size):
    assert size in CONFORMER_PRESETS
    assert abs(num_parameters(conformer_ctc(size)) / NOMINAL[size] - 1) <= 0.25


def test_subsampling_length_formula(model):
    for frames in [7, 8, 9, 10, 11, 12, 50, 99, 100, 101]:
        expected = ((frames - 1) // 2 - 1) // 2
        assert subsampled_lengths(torch.tensor([frames])).item() == expected == (frames - 3) // 4
        with torch.no_grad():
            out = model.encode(torch.randn(1, frames, 80), torch.tensor([frames]))
        assert out.logits.shape[1] == out.lengths.item() == expected
    assert subsampled_lengths(torch.tensor([0, 3, 6])).tolist() == [0, 0, 0]


def test_shapes_lengths_and_frame_period(model, batch_out):
    frames = torch.tensor([100, 56, 20])  # (S + 80) // 160 fbank frames
    assert batch_out.lengths.tolist() == subsampled_lengths(frames).tolist() == [24, 13, 4]
    assert batch_out.logits.shape == (3, 24, 32)
    assert batch_out.lengths.dtype == torch.long
    assert batch_out.frame_period_ms == model.frame_period_ms == 40


def test_padding_does_not_change_valid_outputs(model, batch_out):
    waveforms, lengths = padded_batch(LENGTHS)
    for i in (1, 2):
        with torch.no_grad():
            alone = model(waveforms[i:i + 1, :LENGTHS[i]], lengths[i:i + 1], hidden_layers=(-1,))
        n = alone.lengths.item()
        assert n == batch_out.lengths[i]
        torch.testing.assert_close(batch_out.logits[i, :n], alone.logits[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(batch_out.hidden_states[4][i, :n], alone.hidden_states[4][0], atol=1e-4, rtol=1e-4)


def test_only_requested_layers(model, batch_out):
    assert list(batch_out.hidden_states) == [0, 2, 4]
    assert list(batch_out.attentions) == [1, 4]
    for hidden in batch_out.hidden_states.values():
        assert hidden.shape == (3, 24, 96)
        assert not hidden[2, 4:].any()  # padded frames zeroed
    waveforms, lengths = padded_batch([1_600])
    with torch.no_grad():
        plain = model(waveforms, lengths)
    assert plain.hidden_states == {} and plain.attentions == {}
    with pytest.raises(ValueError, match="out of range"):
        model(waveforms, lengths, hidden_layers=(5,))
    with pytest.raises(ValueError, match="out of range"):
        model(waveforms, lengths, attention_layers=(0,))


def test_attention_maps_are_probabilities_over_valid_keys(batch_out):
    for maps in batch_out.attentions.values():
        assert maps.shape == (3, 4, 24, 24)
        assert (maps >= 0).all()
        for i, n in enumerate(batch_out.lengths.tolist()):
            torch.testing.assert_close(maps[i, :, :, :n].sum(-1), torch.ones(4, 24))
            assert not maps[i, :, :, n:].any()


def test_asking_for_attention_does_not_change_outputs(model, batch_out):
    waveforms, lengths = padded_batch(LENGTHS)
    with torch.no_grad():
        fused = model(waveforms, lengths)  # scaled_dot_product_attention path
    torch.testing.assert_close(fused.logits, batch_out.logits, atol=1e-5, rtol=1e-5)


def test_features_are_normalised_per_utterance_inside_the_model():
    features = torch.randn(2, 30, 80) * 3 + 5
    lengths = torch.tensor([30, 12])
    features[1, 12:] = -23.03  # sherpa-onnx's padding value
    normed = normalize_features(features, lengths)
    torch.testing.assert_close(normed[1, :12].mean(0), torch.zeros(80), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed[1, :12].std(0, unbiased=False), torch.ones(80), atol=1e-3, rtol=0)
    assert not normed[1, 12:].any()


def test_spec_augment_only_in_training(model):
    waveforms, lengths = padded_batch([8_000, 6_000])
    features, frames = kaldi_fbank(waveforms, lengths)
    torch.manual_seed(1)
    model.train()
    try:
        with torch.no_grad():
            trained = model.encode(features, frames)
            changed = model.spec_augment(normalize_features(features, frames), frames)
    finally:
        model.eval()
    with torch.no_grad():
        evaluated = model.encode(features, frames)
    assert not torch.equal(changed, normalize_features(features, frames))
    assert trained.lengths.tolist() == evaluated.lengths.tolist()
    assert conformer_ctc("1m", spec_augment=False).spec_augment is None


def test_backward_runs(model):
    student = conformer_ctc("0.5m")
    waveforms, lengths = padded_batch([4_000, 3_000])
    out = student(waveforms, lengths)
    out.log_probs.sum().backward()
    assert student.head.weight.grad is not None and student.subsampling.out.weight.grad is not None
