"""The ``cache-teacher`` recipe (a frozen dataclass read from YAML) and the augmentation policy of cached runs.

Disk cost of each content type, per hour of audio, for a teacher with P ms frames (20 ms: F = 180,000 frames
per hour) and ``time_pool`` k (k divides the frame count):

- log_probs: top_k x (2 B fp16 value + 2 B int16 index) + 2 B "other" per frame: top_k 8 -> 34 B x F / k
  (6.1 MB/h at 20 ms); the dense matrix would be V x 4 B per frame (32 labels: 23 MB/h).
- hidden: 2 B x D per frame per layer (D = feature_dim when projecting): D 768 -> 276 MB/h per layer,
  feature_dim 256 -> 92 MB/h; time_pool k divides it by k.
- attentions: 2 B x heads x T^2 per utterance per layer (T = its frames / k): it grows with utterance
  length, about 2 x heads x T x F / k bytes per hour: 10 s utterances at 20 ms, 12 heads -> 2.2 GB/h per
  layer; time_pool k divides it by k^2. Cache attention maps only for short utterances or with pooling.
- nbest: a few dozen bytes of JSON per hypothesis, nbest per utterance: kilobytes per hour.

Augmentation policy: cached outputs are aligned frame by frame with the original audio, so a student
that reads a cache may only use augmentation that keeps that alignment: gain, additive noise and
SpecAugment (``ALIGNMENT_PRESERVING_AUGMENT``). Speed perturbation changes the number of frames and is
refused (``check_augment_compatible``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..teachers.ct2_decoder import DEFAULT_COMPUTE_TYPE, check_backend

ALIGNMENT_PRESERVING_AUGMENT = ("gain", "noise", "spec_augment")
ErrorPolicy = Literal["raise", "skip"]
DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class CacheConfig:
    """YAML recipe of ``speechdistill cache-teacher`` (costs of each content type: module docstring).

    teacher: hub id or model directory. manifest: any manifest ``read_manifest`` reads. out_dir: the cache.
    top_k: teacher labels kept per frame (0: no log-probs; CTC teachers only). nbest / beam_size:
    N-best hypotheses per utterance (0: none) and beams (None: the teacher's default, 50 CTC / 5 Whisper).
    hidden_layers: teacher layers to keep (0 = embeddings, -1 = last). attentions: keep every layer's map.
    feature_dim: project hidden states to this size with a fixed random orthogonal matrix (seed
    ``projection_seed``); None keeps the teacher's size. time_pool: average k consecutive frames of every
    frame-aligned output (log-probs in probability space, as frame_kl pools), frames become k times longer;
    pick a k that divides student period / teacher period. shard_size: utterances per shard file.
    batch_seconds: padded audio per teacher batch. device: torch device ("auto": cuda when available, GPU LOCAL_RANK under torchrun).
    dtype: teacher parameter dtype. on_error: bad manifest lines or audio raise, or are skipped and listed
    in skipped.jsonl. student_vocab: vocab.json (file or directory) of the student the teacher->student
    label map is built for (None: the default character vocabulary); unknown_to_unk as in build_vocab_bridge.
    window_s: Whisper teachers only: encoder window in seconds (None: the model's own, 30 s for OpenAI's).
    backend: Whisper teachers only: who beam-searches the N-best lists, "torch" (Hugging Face) or
    "ctranslate2" (CTranslate2 over the torch encoder's output, in ``compute_type``; hidden states and
    attentions still come from torch). Both are part of the cache key when the backend is not torch.
    """

    teacher: str
    manifest: str
    out_dir: str
    top_k: int = 8
    nbest: int = 0
    beam_size: int | None = None
    hidden_layers: tuple[int, ...] = ()
    attentions: bool = False
    feature_dim: int | None = None
    projection_seed: int = 0
    time_pool: int = 1
    shard_size: int = 256
    batch_seconds: float = 60.0
    device: str = "auto"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    on_error: ErrorPolicy = "raise"
    student_vocab: str | None = None
    unknown_to_unk: bool = False
    window_s: float | None = None
    backend: Literal["torch", "ctranslate2"] = "torch"
    compute_type: str = DEFAULT_COMPUTE_TYPE

    def __post_init__(self) -> None:
        for name in ("top_k", "nbest"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("time_pool", "shard_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.beam_size is not None and self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.feature_dim is not None and self.feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {self.feature_dim}")
        if self.batch_seconds <= 0:
            raise ValueError(f"batch_seconds must be positive, got {self.batch_seconds}")
        if self.window_s is not None and self.window_s <= 0:
            raise ValueError(f"window_s must be positive, got {self.window_s}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        check_backend(self.backend, self.compute_type)
        object.__setattr__(self, "hidden_layers", tuple(int(x) for x in self.hidden_layers))

    def settings(self) -> dict:
        """What shapes the cached values and the shard layout (part of the cache key).

        Paths (teacher, manifest, student_vocab, out_dir) enter the key through their content instead
        (the builder adds the student labels); device and batch_seconds change results only within
        floating-point noise and are left out.
        """
        settings = {"top_k": self.top_k, "nbest": self.nbest, "beam_size": self.beam_size,
                    "hidden_layers": list(self.hidden_layers), "attentions": self.attentions,
                    "feature_dim": self.feature_dim, "projection_seed": self.projection_seed,
                    "time_pool": self.time_pool, "shard_size": self.shard_size, "dtype": self.dtype,
                    "unknown_to_unk": self.unknown_to_unk}
        if self.window_s is not None:  # only when set, so that keys of earlier caches stay valid
            settings["window_s"] = self.window_s
        if self.backend != "torch":  # likewise: N-best lists differ (slightly) between backends
            settings.update(backend=self.backend, compute_type=self.compute_type)
        return settings


def check_augment_compatible(augment) -> None:
    """Refuse waveform augmentation that breaks frame alignment with cached teacher outputs.

    ``augment``: a ``WaveformAugmentConfig`` or None.
    Gain, noise and SpecAugment are fine; speed factors other than 1.0 are a ValueError.
    """
    if augment is None or not augment.stretches_time:
        return
    raise ValueError(
        f"speed perturbation (speed_factors {list(augment.speed_factors)}) changes the number of frames, so cached "
        f"teacher outputs would no longer line up with the student's frames; with a teacher cache set "
        f"augment.speed_factors: [1.0] and keep to {', '.join(ALIGNMENT_PRESERVING_AUGMENT)}")
