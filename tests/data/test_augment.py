"""Augmentation: lengths after speed perturbation, exact SNR, determinism, SpecAugment and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechdistill.data.augment import (
    SpecAugment,
    WaveAugment,
    add_noise,
    apply_gain,
    change_speed,
    fit_noise,
    random_speed,
)


def snr_db(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(clean.pow(2).mean(-1) / (noisy - clean).pow(2).mean(-1))


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_change_speed_length(factor):
    wave = torch.randn(2, 16_000)
    out = change_speed(wave, factor)
    assert out.shape[0] == 2 and abs(out.shape[-1] - 16_000 / factor) <= 1


def test_change_speed_moves_pitch():
    t = torch.arange(16_000) / 16_000
    out = change_speed(torch.sin(2 * torch.pi * 1000 * t), 1.1)
    peak_hz = torch.fft.rfft(out).abs().argmax().item() * 16_000 / out.shape[-1]
    assert peak_hz == pytest.approx(1100, abs=5)


def test_random_speed_is_deterministic_for_a_seed():
    wave = torch.randn(8000)
    lengths = {random_speed(wave, generator=seed).shape[-1] for seed in range(20)}
    assert lengths == {8000, round(8000 / 1.1), round(8000 / 0.9)}
    assert torch.equal(random_speed(wave, generator=3), random_speed(wave, generator=3))


@pytest.mark.parametrize("target", [-5.0, 0.0, 12.5, 40.0])
def test_add_noise_hits_the_snr_exactly(target):
    g = torch.Generator().manual_seed(0)
    clean = torch.randn(3, 4000, generator=g, dtype=torch.float64) * torch.tensor([[0.1], [1.0], [3.0]],
                                                                                   dtype=torch.float64)
    noise = torch.rand(3, 4000, generator=g, dtype=torch.float64) - 0.3  # not zero-mean on purpose
    assert torch.allclose(snr_db(clean, add_noise(clean, noise, target)),
                          torch.full((3,), target, dtype=torch.float64), atol=1e-9)


def test_add_noise_per_row_snr_and_silent_noise():
    clean, noise = torch.randn(2, 1000), torch.randn(2, 1000)
    out = add_noise(clean, noise, torch.tensor([5.0, 20.0]))
    assert torch.allclose(snr_db(clean, out), torch.tensor([5.0, 20.0]), atol=1e-3)
    assert torch.equal(add_noise(clean, torch.zeros(2, 1000), 10.0), clean)


def test_gain_and_fit_noise():
    wave = torch.ones(10)
    assert torch.allclose(apply_gain(wave, 20.0), torch.full((10,), 10.0))
    assert torch.allclose(apply_gain(wave, -6.0), torch.full((10,), 0.5012), atol=1e-4)
    noise = torch.arange(5.0)
    assert fit_noise(noise, 12, generator=0).shape == (12,)
    crop = fit_noise(torch.arange(100.0), 10, generator=1)
    assert torch.equal(crop, torch.arange(crop[0].item(), crop[0].item() + 10))


def test_wave_augment_is_reproducible_from_the_dataset_rng():
    audio = np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1
    augment = WaveAugment(noise_prob=1.0, noise=(torch.randn(3000),))
    first = augment(audio, np.random.default_rng((0, 1, 2)))
    again = augment(audio, np.random.default_rng((0, 1, 2)))
    other = [augment(audio, np.random.default_rng((0, 1, i))) for i in range(3, 8)]
    assert first.dtype == np.float32 and np.array_equal(first, again)
    assert any(o.shape != first.shape or not np.array_equal(o, first) for o in other)
    assert augment(audio, 7).shape == augment(audio, torch.Generator().manual_seed(7)).shape


def test_spec_augment_masks_only_valid_frames():
    torch.manual_seed(0)
    features = torch.rand(4, 120, 20) + 1.0  # no zeros anywhere, so zeros mark masks
    lengths = torch.tensor([120, 60, 7, 0])
    masker = SpecAugment(freq_masks=2, freq_width=8, time_masks=3, time_width=30, max_time_ratio=0.3).train()
    state = torch.get_rng_state()
    out = masker(features, lengths, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)  # torch's global RNG is left as it was
    for b, n in enumerate(lengths.tolist()):
        assert torch.equal(out[b, n:], features[b, n:])  # padding untouched
    masked = out == 0
    assert masked[0].any() and masked[1, :60].any()
    time_masked = masked.all(dim=2)  # whole frames masked by a time mask
    assert time_masked[1, :60].sum() <= 3 * int(60 * 0.3)  # widths follow the item's own length
    assert torch.equal(out, masker(features, lengths, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(out, masker(features, lengths, generator=torch.Generator().manual_seed(2)))


def test_spec_augment_is_off_in_eval_mode():
    features = torch.rand(2, 50, 10)
    assert SpecAugment().eval()(features, torch.tensor([50, 20])) is features
    out = SpecAugment(freq_masks=1, freq_width=10, time_masks=0).train()(features, generator=0)
    assert out.shape == features.shape
