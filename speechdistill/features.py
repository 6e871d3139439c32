"""Model inputs from padded waveform batches: Kaldi log-mel filterbanks matching what sherpa-onnx computes,
and the per-utterance waveform normalisation that wav2vec2 models (teachers and students alike) take.

sherpa-onnx's offline CTC recognisers (zipformer-CTC among them) compute features themselves with
kaldi-native-fbank, configured from ``FeatureExtractorConfig`` (sherpa-onnx/csrc/features.h) in
``OfflineStream::Impl`` (sherpa-onnx/csrc/offline-stream.cc):

- 16 kHz, 80 bins, 25 ms windows every 10 ms, povey window, pre-emphasis 0.97, DC offset removed,
  mel bins from 20 Hz to Nyquist - 400 Hz (7600 Hz), snip_edges false, dither 0, no energy column;
- samples in [-1, 1] as given (``normalize_samples`` is true for zipformer-CTC; only WeNet/TeleSpeech
  models have them multiplied by 32768);
- no feature normalisation (only NeMo models get per-feature normalisation), so any per-utterance
  normalisation belongs inside the model;
- a batch is padded with log(1e-10) = -23.03 before it reaches the model, so the model must mask by length.

:func:`kaldi_fbank` is the training-side implementation: the same arithmetic as
``torchaudio.compliance.kaldi.fbank`` (mel banks from torchaudio), vectorised over a padded batch so it
runs as a few large kernels on GPU. :func:`reference_fbank` runs kaldi-native-fbank configured as
sherpa-onnx configures it, for parity tests and offline checks. :func:`normalize_waveforms` is what
``Wav2Vec2FeatureExtractor`` does to raw samples, done on the padded batch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchaudio.compliance.kaldi as tak

from .runtime.fbank import LOG_FLOOR, SHERPA_PADDING_VALUE, FbankOptions  # noqa: F401 (re-exported)

# The options live with the torch-free runtime (bundles read them without torch); one definition for both.
FbankConfig = FbankOptions
DEFAULT_FBANK = FbankConfig()


def num_frames(num_samples: torch.Tensor, config: FbankConfig = DEFAULT_FBANK) -> torch.Tensor:
    """Frames Kaldi makes from ``num_samples`` (any int tensor).

    snip_edges false: (S + shift // 2) // shift (frames centred on multiples of the shift; 0 for S = 0);
    snip_edges true: 1 + (S - window) // shift for S >= window, else 0.
    """
    shift, window = config.shift_samples, config.window_samples
    if config.snip_edges:
        return torch.where(num_samples >= window, 1 + (num_samples - window) // shift, 0)
    return (num_samples + shift // 2) // shift


@lru_cache(maxsize=8)
def _mel_matrix(config: FbankConfig) -> torch.Tensor:
    """(fft_size // 2 + 1, num_bins) float32 Kaldi triangular mel weights (the Nyquist row is zero)."""
    banks, _ = tak.get_mel_banks(config.num_bins, config.fft_size, float(config.sample_rate_hz),
                                 config.low_freq_hz, config.high_freq_hz, 100.0, -500.0, 1.0)
    return torch.nn.functional.pad(banks.float(), (0, 1)).T.contiguous()


def _povey_window(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(size, periodic=False, device=device, dtype=dtype).pow(0.85)


def _frame_indices(lengths: torch.Tensor, frames: int, config: FbankConfig) -> torch.Tensor:
    """(B, frames, window) sample indices; out-of-range ones reflected into [0, length) as Kaldi does."""
    window, shift = config.window_samples, config.shift_samples
    first = 0 if config.snip_edges else shift // 2 - window // 2
    offsets = torch.arange(frames, device=lengths.device)[:, None] * shift + torch.arange(window, device=lengths.device)
    index = (offsets + first)[None] % (2 * lengths.clamp(min=1))[:, None, None]
    # Kaldi's repeated mirror (s < 0 -> -s - 1, s >= S -> 2S - 1 - s) folded into one period of 2S.
    return torch.where(index >= lengths[:, None, None], 2 * lengths[:, None, None] - 1 - index, index).clamp(min=0)


def _edge_samples(config: FbankConfig) -> tuple[int, int]:
    """Samples Kaldi's frames read before sample 0 and past the last sample (snip_edges false): frame i spans
    [i * shift - left, i * shift - left + window), and the last frame of S samples ends at most ``right`` past S."""
    window, shift = config.window_samples, config.shift_samples
    left = window // 2 - shift // 2
    return left, window - left - (shift - shift // 2)


def _frames(waveforms: torch.Tensor, lengths: torch.Tensor, frames: int, config: FbankConfig) -> torch.Tensor:
    """(B, frames, window) samples of each frame, edges mirrored as Kaldi does.

    One strided view over a copy of the batch with each item's mirrored edges written beside it, rather than a
    gather through a (B, frames, window) index: the index arithmetic cost as much as the rest of the fbank. Items
    shorter than an edge (a mirror folding more than once) take the general index path.
    """
    window, shift = config.window_samples, config.shift_samples
    if frames == 0:
        return waveforms.new_zeros(len(waveforms), 0, window)
    if config.snip_edges:
        return waveforms.unfold(1, window, shift)[:, :frames]
    left, right = _edge_samples(config)
    if int(lengths.min()) < max(left, right, 1):
        index = _frame_indices(lengths, frames, config)
        return torch.gather(waveforms, 1, index.flatten(1)).view(index.shape)
    batch, samples = waveforms.shape
    padded = waveforms.new_zeros(batch, left + samples + right)
    padded[:, left:left + samples] = waveforms
    padded[:, :left] = waveforms[:, :left].flip(1)  # sample -1 - s at -1 - s, s < left
    back = torch.arange(right, device=waveforms.device)
    mirrored = waveforms.gather(1, lengths[:, None] - 1 - back)  # sample S - 1 - k at S + k
    padded.scatter_(1, left + lengths[:, None] + back, mirrored)
    return padded.unfold(1, window, shift)[:, :frames]


def kaldi_fbank(waveforms: torch.Tensor, lengths: torch.Tensor, config: FbankConfig = DEFAULT_FBANK, *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel filterbanks of a padded batch, computed per item as Kaldi would on its valid samples.

    waveforms: (B, S) float, samples in [-1, 1] (not scaled to int16), zero padded; lengths: (B,) valid samples.
    Returns features (B, T, num_bins) in the waveforms' dtype (float32 recommended) with frames past each
    item's length set to 0, and frame lengths (B,) int64 (see :func:`num_frames`). Runs on the
    waveforms' device, outside any autocast region (a bf16 mel matmul would drift from the runtime's
    float32 features); no gradients are needed through it.
    """
    with torch.autocast(waveforms.device.type, enabled=False):
        return _kaldi_fbank(waveforms, lengths.to(device=waveforms.device, dtype=torch.long), config, generator)


def _kaldi_fbank(waveforms: torch.Tensor, lengths: torch.Tensor, config: FbankConfig,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    frame_lengths = num_frames(lengths, config)
    frames = int(frame_lengths.max()) if frame_lengths.numel() else 0
    x = _frames(waveforms, lengths, frames, config)  # (B, T, window)
    if config.dither:
        x = x + config.dither * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if config.remove_dc_offset:
        x = x - x.mean(-1, keepdim=True)
    if config.preemphasis:
        x = torch.cat([x[..., :1] * (1 - config.preemphasis), x[..., 1:] - config.preemphasis * x[..., :-1]], -1)
    x = x * _povey_window(config.window_samples, x.device, x.dtype)
    power = torch.view_as_real(torch.fft.rfft(x, n=config.fft_size)).square().sum(-1)  # |X|^2 without the sqrt
    mel = power @ _mel_matrix(config).to(device=x.device, dtype=power.dtype)
    features = mel.clamp(min=LOG_FLOOR).log()
    valid = torch.arange(frames, device=x.device)[None, :] < frame_lengths[:, None]
    return features * valid[..., None].to(features.dtype), frame_lengths


def normalize_waveforms(waveforms: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over its valid samples, as Wav2Vec2FeatureExtractor does.

    waveforms: (B, S) float, zero padded; lengths: (B,) valid samples. Returns (B, S) with padding kept at 0.
    """
    mask = torch.arange(waveforms.shape[1], device=waveforms.device)[None, :] < lengths[:, None]
    count = lengths.clamp(min=1)[:, None].to(waveforms.dtype)
    mean = (waveforms * mask).sum(1, keepdim=True) / count
    var = (((waveforms - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return ((waveforms - mean) / torch.sqrt(var + 1e-7)) * mask


def knf_options(config: FbankConfig = DEFAULT_FBANK):
    """``kaldi_native_fbank.FbankOptions`` set the way sherpa-onnx's ``OfflineStream`` sets them."""
    import kaldi_native_fbank as knf

    opts = knf.FbankOptions()
    frame = opts.frame_opts
    frame.samp_freq = float(config.sample_rate_hz)
    frame.frame_length_ms, frame.frame_shift_ms = config.frame_length_ms, config.frame_shift_ms
    frame.dither, frame.snip_edges = config.dither, config.snip_edges
    frame.remove_dc_offset, frame.window_type = config.remove_dc_offset, "povey"
    frame.preemph_coeff = config.preemphasis
    opts.mel_opts.num_bins = config.num_bins
    opts.mel_opts.low_freq, opts.mel_opts.high_freq = config.low_freq_hz, config.high_freq_hz
    opts.mel_opts.is_librosa = False
    opts.use_energy = False
    return opts


def reference_fbank(waveform: np.ndarray, config: FbankConfig = DEFAULT_FBANK) -> np.ndarray:
    """(T, num_bins) float32 features of one [-1, 1] waveform from kaldi-native-fbank, as sherpa-onnx makes them."""
    import kaldi_native_fbank as knf

    fbank = knf.OnlineFbank(knf_options(config))
    fbank.accept_waveform(float(config.sample_rate_hz), np.asarray(waveform, dtype=np.float32).tolist())
    fbank.input_finished()
    frames = [fbank.get_frame(i) for i in range(fbank.num_frames_ready)]
    return np.asarray(frames, dtype=np.float32).reshape(len(frames), config.num_bins)
