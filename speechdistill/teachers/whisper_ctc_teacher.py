"""The ``whisper-ctc`` teacher at inference: a frozen Whisper encoder + the trained head, saved as a small dir.

A saved teacher directory holds ``whisper_ctc.json`` (the config, naming the base weights by teacher name
and sha256), ``head.safetensors`` (the head and any fine-tuned encoder layers), ``vocab.json``, a model
card and the ``speechdistill.json`` marker (``extra.architecture = "whisper-ctc"``). Loading fetches the base
from the installed package (or the directory it names) and refuses a base whose weights differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..decode.beam import BeamSearchOptions
from ..io import atomic_write, atomic_write_text, file_sha256
from ..markers import Marker, read_marker, write_marker
from ..text import WORD_DELIMITER, Vocabulary
from .base import HFTeacher, TeacherOutput, Waveforms, mask_hidden
from .ctc import CTCBeamNbest, mask_log_probs
from .whisper import encoder_frames, encoder_samples_per_frame, shorten_encoder_window, window_log_mel
from .whisper_ctc import (
    HeadConfig,
    WhisperCTCConfig,
    WhisperCTCHead,
    build_head,
    encoder_layer_forward,
)

ARCHITECTURE = "whisper-ctc"
CONFIG_NAME = "whisper_ctc.json"
HEAD_NAME = "head.safetensors"


class WhisperCTCTeacher(CTCBeamNbest, HFTeacher):
    """A frozen whisper-ctc teacher: per-frame CTC log-posteriors (20 ms), the encoder's hidden states and
    attention maps (layers above ``read_layer`` are the fine-tuned ones), CTC N-best with posteriors."""

    family = "ctc"

    def __init__(self, encoder: torch.nn.Module, processor, head: WhisperCTCHead, config: WhisperCTCConfig, *,
                 name: str, device: str | torch.device = "cpu", nbest: int = 0, beam: BeamSearchOptions | None = None):
        super().__init__(encoder, processor, name=name, device=device, labels=config.labels, nbest=nbest)
        self.head = head.to(device).eval().requires_grad_(False)
        self.config = config
        self.blank_id = 0
        self.beam = BeamSearchOptions(**{**asdict(beam or BeamSearchOptions()), "blank_token": config.labels[0],
                                         "sil_token": WORD_DELIMITER})
        self.samples_per_frame = encoder_samples_per_frame(encoder, processor.feature_extractor)
        self.window_samples = encoder.config.max_source_positions * self.samples_per_frame

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def num_parameters(self) -> int:
        return super().num_parameters + sum(p.numel() for p in self.head.parameters())

    @property
    def frame_period_ms(self) -> float:
        return 1000.0 * self.samples_per_frame / self.sample_rate

    def encoder_inputs(self, audio: list[np.ndarray]) -> torch.Tensor:
        """Log-mel features padded to the window (longer audio is an error)."""
        return window_log_mel(self.processor.feature_extractor, audio, self.window_samples, "teacher").to(self.device)

    def __call__(self, waveforms: Waveforms, lengths: torch.Tensor | Sequence[int] | None = None, *,
                 sample_rate: int | None = None, hidden_layers: Sequence[int] = (), attentions: bool = False,
                 nbest: int | None = None) -> TeacherOutput:
        """Run encoder and head on a batch; see ``TeacherOutput``."""
        audio = self.prepare_audio(waveforms, lengths, sample_rate)
        layers = self.resolve_layers(hidden_layers)
        frames = torch.tensor([encoder_frames(len(a), self.samples_per_frame) for a in audio], device=self.device)
        num_frames = int(frames.max())
        read = self.config.read_layer
        with torch.inference_mode(), self.attention_implementation(attentions):
            bottom, bottom_maps = run_frozen_encoder(self.model, self.encoder_inputs(audio), read, attentions)
            logits, top, top_maps = self.head.run(bottom[read][:, :num_frames], frames, attentions)
        states = [h[:, :num_frames] for h in bottom] + top
        log_probs = mask_log_probs(logits.float().log_softmax(-1), frames, self.blank_id)
        maps = None
        if attentions:
            maps = tuple(m[..., :num_frames, :num_frames].clone() for m in bottom_maps) + tuple(
                m.clone() for m in top_maps)
        n = self.default_nbest if nbest is None else nbest
        return TeacherOutput(
            lengths=frames, frame_period_ms=self.frame_period_ms, labels=self.labels, log_probs=log_probs,
            hidden_states={i: mask_hidden(states[i].clone(), frames) for i in layers}, attentions=maps,
            nbest=self._nbest(log_probs, frames, n) if n > 0 else None)



def run_frozen_encoder(encoder: torch.nn.Module, features: torch.Tensor, read_layer: int, attentions: bool
                       ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Hidden states 0..read_layer of a Whisper encoder over the whole window (the last index layer-normed
    when it is the final layer, as Hugging Face numbers them), and the attention maps of those layers."""
    x = torch.nn.functional.gelu(encoder.conv1(features))
    x = torch.nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = x + encoder.embed_positions.weight[:x.shape[1]]
    states, maps = [x], []
    for layer in encoder.layers[:read_layer]:
        x, weights = encoder_layer_forward(layer, x, None, attentions)
        states.append(x)
        maps.append(weights)
    if read_layer == encoder.config.encoder_layers:
        states[-1] = encoder.layer_norm(x)
    return states, maps


def base_identity(base: str) -> tuple[Path, str]:
    """(Hugging Face directory, sha256 identifying the weights) of a base: a packaged name or a directory."""
    from .packaged import PACKAGED_WHISPER, is_packaged_name, resolve_packaged

    if is_packaged_name(base):
        return resolve_packaged(base), PACKAGED_WHISPER[base].model_bin_sha256
    directory = Path(base).expanduser()
    weights = directory / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"whisper-ctc base {base}: neither a packaged teacher name nor a Whisper directory "
                                "with model.safetensors")
    return directory, file_sha256(weights)


def load_base_encoder(base: str, window_s: float, expected_sha256: str | None = None):
    """(encoder, processor, sha256) of a base Whisper, its window shortened to ``window_s``."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    directory, sha = base_identity(base)
    if expected_sha256 is not None and sha != expected_sha256:
        raise ValueError(f"whisper-ctc base {base}: its weights have sha256 {sha}, but this teacher was trained on "
                         f"{expected_sha256}; install the base it names (or retrain the head on this one)")
    model = WhisperForConditionalGeneration.from_pretrained(directory, dtype=torch.float32)
    processor = WhisperProcessor.from_pretrained(directory)
    shorten_encoder_window(model, window_s, processor.feature_extractor)
    encoder = model.model.encoder
    return encoder, processor, sha


def save_whisper_ctc(directory: str | Path, config: WhisperCTCConfig, head: WhisperCTCHead, *,
                     extra: dict | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Write config, head weights, vocabulary and marker into ``directory`` (files replaced atomically)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(config), "labels": list(config.labels), "architecture": ARCHITECTURE}
    atomic_write_text(directory / CONFIG_NAME, json.dumps(payload, indent=2) + "\n")
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in head.state_dict().items()}
    atomic_write(directory / HEAD_NAME, lambda tmp: save_file(state, str(tmp)))
    Vocabulary(config.labels).save(directory / "vocab.json")
    write_marker(directory, Marker(kind="teacher", vocabulary=config.labels,
                                   extra={"architecture": ARCHITECTURE, "base": config.base,
                                          "base_sha256": config.base_sha256, **(extra or {})}))
    return directory


def read_whisper_ctc_config(directory: str | Path) -> WhisperCTCConfig:
    """The config saved in ``directory/whisper_ctc.json``; errors name the file."""
    path = Path(directory) / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
        data.pop("architecture", None)
        head = HeadConfig(**data.pop("head"))
        return WhisperCTCConfig(**{**data, "labels": tuple(data["labels"]), "head": head})
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable whisper-ctc config: {exc}") from None


def is_whisper_ctc_dir(directory: str | Path) -> bool:
    """True for a directory holding a saved whisper-ctc teacher."""
    marker = read_marker(directory)
    return marker is not None and marker.extra.get("architecture") == ARCHITECTURE


def load_whisper_ctc(directory: str | Path, device: str | torch.device = "cpu", *, nbest: int = 0,
                     beam: BeamSearchOptions | None = None, name: str | None = None) -> WhisperCTCTeacher:
    """A saved whisper-ctc teacher, its base fetched from the installed package (or directory) it names."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config = read_whisper_ctc_config(directory)
    encoder, processor, _ = load_base_encoder(config.base, config.window_s, config.base_sha256)
    head = build_head(encoder, config)
    state = load_file(str(directory / HEAD_NAME))
    missing, unexpected = head.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if missing or unexpected:
        raise ValueError(f"{directory / HEAD_NAME}: does not fit the head its config describes (missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]})")
    encoder.layers = encoder.layers[:config.read_layer]  # the head holds the fine-tuned copies of the rest
    return WhisperCTCTeacher(encoder, processor, head, config, name=name or str(directory), device=device,
                             nbest=nbest, beam=beam)
