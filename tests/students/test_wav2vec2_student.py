"""wav2vec2-style students: sizes, 20 ms frames, padding invariance, layers and attention maps."""

from __future__ import annotations

import pytest
import torch

from speechdistill.students import WAV2VEC2_PRESETS, build_student, num_parameters, wav2vec2_ctc
from tests.students.helpers import padded_batch

NOMINAL = {"0.5m": 0.5e6, "1m": 1e6, "3m": 3e6, "10m": 10e6}
LENGTHS = [16_000, 9_000, 4_000]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return wav2vec2_ctc("1m").eval()


@pytest.fixture(scope="module")
def batch_out(model):
    waveforms, lengths = padded_batch(LENGTHS)
    with torch.no_grad():
        return model(waveforms, lengths, hidden_layers=(0, -1), attention_layers=(2,))


@pytest.mark.parametrize("size", list(NOMINAL))
def test_parameter_count_within_25_percent(size):
    assert size in WAV2VEC2_PRESETS
    assert abs(num_parameters(wav2vec2_ctc(size)) / NOMINAL[size] - 1) <= 0.25


def test_shapes_lengths_and_frame_period(model, batch_out):
    # Valid convolutions, kernels (10, 3, 3, 3, 3, 2, 2), strides (5, 2, 2, 2, 2, 2, 2): 1 s -> 49 frames.
    assert batch_out.lengths.tolist() == [49, 27, 12]
    assert batch_out.logits.shape == (3, 49, 32)
    assert batch_out.frame_period_ms == model.frame_period_ms == 20


def test_padding_does_not_change_valid_outputs(model, batch_out):
    waveforms, lengths = padded_batch(LENGTHS)
    for i in (1, 2):
        with torch.no_grad():
            alone = model(waveforms[i:i + 1, :LENGTHS[i]], lengths[i:i + 1], hidden_layers=(-1,))
        n = alone.lengths.item()
        torch.testing.assert_close(batch_out.logits[i, :n], alone.logits[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(batch_out.hidden_states[4][i, :n], alone.hidden_states[4][0], atol=1e-4, rtol=1e-4)


def test_only_requested_layers_and_attention_probabilities(model, batch_out):
    assert list(batch_out.hidden_states) == [0, 4] and list(batch_out.attentions) == [2]
    assert batch_out.hidden_states[0].shape == (3, 49, 128)
    maps = batch_out.attentions[2]
    assert maps.shape == (3, 4, 49, 49)
    for i, n in enumerate(batch_out.lengths.tolist()):
        torch.testing.assert_close(maps[i, :, :, :n].sum(-1), torch.ones(4, 49))
        assert maps[i, :, :, n:].abs().sum() < 1e-12
    assert model.model.config._attn_implementation != "eager"  # switched back after asking for maps


def test_build_student_by_family_name():
    student = build_student("wav2vec2", "0.5m", vocab_size=40, num_layers=2, conv_dim=[32, 48, 48, 48, 48, 48, 48])
    assert student.config.num_layers == 2 and student.config.conv_dim == (32, 48, 48, 48, 48, 48, 48)
    assert student.model.lm_head.out_features == 40
    with pytest.raises(ValueError, match="unknown student family"):
        build_student("lstm")
