"""Training-side features (speechdistill.features): fbank against kaldi-native-fbank configured as sherpa-onnx
does, and the wav2vec2 waveform normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio.compliance.kaldi as tak

from speechdistill.features import (
    FbankConfig,
    kaldi_fbank,
    knf_options,
    normalize_waveforms,
    num_frames,
    reference_fbank,
)
from tests.students.helpers import padded_batch

# Log-mel units (natural log of power). Measured max difference to kaldi-native-fbank: ~1.2e-4.
KNF_ATOL = 1e-3


def test_options_are_sherpa_onnx_defaults():
    opts = knf_options()
    frame, mel = opts.frame_opts, opts.mel_opts
    assert (frame.samp_freq, frame.frame_length_ms, frame.frame_shift_ms) == (16000, 25, 10)
    assert (frame.dither, frame.snip_edges, frame.remove_dc_offset, frame.window_type) == (0, False, True, "povey")
    assert frame.preemph_coeff == pytest.approx(0.97)
    assert (mel.num_bins, mel.low_freq, mel.high_freq, mel.is_librosa, opts.use_energy) == (80, 20, -400, False, False)


def test_matches_kaldi_native_fbank_on_a_padded_batch():
    lengths = [16_000, 12_345, 4_001, 400, 161]  # down to shorter than one window (Kaldi mirrors the edges)
    waveforms, lens = padded_batch(lengths)
    features, frame_lengths = kaldi_fbank(waveforms, lens)
    assert features.shape == (len(lengths), 100, 80)
    for i, n in enumerate(lengths):
        reference = reference_fbank(waveforms[i, :n].numpy())
        assert frame_lengths[i] == reference.shape[0]
        np.testing.assert_allclose(features[i, :frame_lengths[i]].numpy(), reference, atol=KNF_ATOL, rtol=0)
        assert not features[i, frame_lengths[i]:].any()


def test_matches_torchaudio_fbank_and_quiet_input():
    waveforms, lens = padded_batch([8_000])
    waveforms[0, 2_000:4_000] *= 1e-4  # near the log floor
    ours, _ = kaldi_fbank(waveforms, lens)
    theirs = tak.fbank(waveforms, num_mel_bins=80, high_freq=-400, snip_edges=False, dither=0.0)
    torch.testing.assert_close(ours[0], theirs, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours[0].numpy(), reference_fbank(waveforms[0].numpy()), atol=KNF_ATOL, rtol=0)


def test_autocast_does_not_reach_the_features():
    waveforms, lens = padded_batch([4_000, 3_000])
    plain, _ = kaldi_fbank(waveforms, lens)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = kaldi_fbank(waveforms, lens)
    assert mixed.dtype == torch.float32 and torch.equal(plain, mixed)


@pytest.mark.parametrize("snip_edges", [False, True])
def test_frame_count_formula(snip_edges):
    config = FbankConfig(snip_edges=snip_edges)
    samples = torch.tensor([0, 1, 79, 80, 239, 240, 399, 400, 401, 559, 560, 16_000])
    expected = [reference_fbank(np.zeros(int(n), np.float32) + 0.1, config).shape[0] for n in samples]
    assert num_frames(samples, config).tolist() == expected


def test_waveform_normalisation_ignores_padding():
    x = torch.tensor([[1.0, 2.0, 3.0, 0.0], [1.0, 1.0, 5.0, 5.0]])
    out = normalize_waveforms(x, torch.tensor([3, 4]))
    assert out[0, 3] == 0
    torch.testing.assert_close(out[0, :3].mean(), torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1].std(unbiased=False), torch.tensor(1.0), atol=1e-3, rtol=0)


@pytest.mark.parametrize("snip_edges", [False, True])
def test_strided_frames_equal_the_mirrored_index_path(snip_edges):
    """The fast path (a strided view with the mirrored edges written beside each item) reads exactly the samples
    Kaldi's index arithmetic names, for items of every length, the shortest ones included."""
    from speechdistill.features import _frame_indices, _frames

    config = FbankConfig(snip_edges=snip_edges)
    lengths = torch.tensor([16_000, 401, 560, 12_345, 200, 3_999])
    waveforms = torch.randn(len(lengths), int(lengths.max())) * (torch.arange(16_000)[None] < lengths[:, None])
    frames = int(num_frames(lengths, config).max())
    valid = torch.arange(frames)[None, :] < num_frames(lengths, config)[:, None]
    index = _frame_indices(lengths, frames, config)
    expected = torch.gather(waveforms, 1, index.flatten(1)).view(index.shape)
    got = _frames(waveforms, lengths, frames, config)
    assert got.shape == expected.shape
    assert torch.equal(got[valid], expected[valid])
    short = torch.tensor([16_000, 150])  # 150 samples: mirrored more than once, the index path
    assert torch.equal(_frames(waveforms[:2], short, 100, config)[0, :99],
                       _frames(waveforms[:1], short[:1], 100, config)[0, :99])
