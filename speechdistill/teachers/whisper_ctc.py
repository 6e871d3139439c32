"""``whisper-ctc``: a pretrained Whisper encoder with a small CTC head over the character vocabulary.

The encoder runs frozen up to ``read_layer`` (an index of its hidden states: 0 = embeddings, i = after
layer i, the last index = the final, layer-normed output that feeds Whisper's decoder). Above it sit the
trainable parts: the encoder layers after ``read_layer`` (initialised from the pretrained ones) and the
final LayerNorm when there are any, then the head: a projection, a few Transformer layers and a linear
layer onto the CTC labels. Frames are the encoder's, 20 ms. The trainable parts run on the real frames
only (the frozen part sees Whisper's padded window), in training and in inference alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

TIME_MASK_MAX_FRAMES = 10  # longest masked span of encoder frames in training (200 ms)


@dataclass(frozen=True)
class HeadConfig:
    """The CTC head on top of the encoder: projection to ``dim``, ``layers`` pre-norm Transformer layers."""

    dim: int = 256
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    time_masks: int = 2  # SpecAugment-style masks over encoder frames in training (0: none)

    def __post_init__(self) -> None:
        if self.dim < 1 or self.layers < 0 or self.heads < 1 or self.ffn_dim < 1:
            raise ValueError("head: dim, heads and ffn_dim must be >= 1 and layers >= 0")
        if self.dim % self.heads:
            raise ValueError(f"head.dim ({self.dim}) must be a multiple of head.heads ({self.heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"head.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class WhisperCTCConfig:
    """Everything needed to rebuild a whisper-ctc teacher around its base weights.

    base: packaged teacher name (``whisper-base``) or a Hugging Face Whisper directory; base_sha256: the
    identity of those weights (a different base is refused). window_s: encoder window in seconds.
    labels: the CTC output labels (blank first).
    """

    base: str
    base_sha256: str
    window_s: float
    read_layer: int
    num_encoder_layers: int
    labels: tuple[str, ...]
    head: HeadConfig = HeadConfig()
    fine_tune_above: bool = True  # False: the layers above read_layer are dropped, the head reads it normed

    @property
    def trained_encoder_layers(self) -> int:
        """Encoder layers above ``read_layer`` that the teacher fine-tunes (0: a head on the frozen state)."""
        return self.num_encoder_layers - self.read_layer if self.fine_tune_above else 0

    @property
    def num_layers(self) -> int:
        """Encoder layers the teacher runs (and whose hidden states it can return)."""
        return self.num_encoder_layers if self.fine_tune_above else self.read_layer


def key_padding_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, T) bool, True on padded frames."""
    return torch.arange(frames, device=lengths.device)[None, :] >= lengths[:, None]


def additive_mask(lengths: torch.Tensor, frames: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, 1, T, T) additive attention mask for Whisper attention: padded keys get a very large negative."""
    padded = key_padding_mask(lengths, frames)[:, None, None, :]
    return torch.zeros(padded.shape, dtype=dtype, device=lengths.device).masked_fill(padded, torch.finfo(dtype).min)


class WhisperCTCHead(nn.Module):
    """The trainable part: fine-tuned top encoder layers (+ final norm), then the CTC head.

    ``forward(hidden, lengths)`` takes the frozen encoder's hidden state ``read_layer`` (B, T, D) and returns
    (B, T, V) logits; ``run`` also returns the top layers' hidden states and, on request, attention maps.
    """

    def __init__(self, top_layers: list[nn.Module], final_norm: nn.Module | None, d_model: int, vocab_size: int,
                 head: HeadConfig):
        super().__init__()
        self.top_layers = nn.ModuleList(top_layers)
        self.final_norm = final_norm
        self.head_config = head
        self.project = nn.Linear(d_model, head.dim)
        layer = nn.TransformerEncoderLayer(head.dim, head.heads, head.ffn_dim, head.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, head.layers, enable_nested_tensor=False) if head.layers else None
        self.norm = nn.LayerNorm(head.dim)
        self.out = nn.Linear(head.dim, vocab_size)
        self.dropout = nn.Dropout(head.dropout)

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.run(hidden, lengths)[0]

    def run(self, hidden: torch.Tensor, lengths: torch.Tensor, attentions: bool = False
            ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """(logits, hidden states after each top layer (the last one normed), attention maps of the top layers)."""
        if self.training and self.head_config.time_masks:
            hidden = time_mask(hidden, lengths, self.head_config.time_masks)
        frames = hidden.shape[1]
        states, maps = [], []
        if self.top_layers:
            mask = additive_mask(lengths, frames, hidden.dtype)
            for layer in self.top_layers:
                hidden, weights = encoder_layer_forward(layer, hidden, mask, attentions)
                states.append(hidden)
                maps.append(weights)
            states[-1] = hidden = self.final_norm(hidden)
        elif self.final_norm is not None:  # a raw residual-stream state, read without the layers above it
            hidden = self.final_norm(hidden)
        x = self.project(self.dropout(hidden))
        if self.blocks is not None:
            x = self.blocks(x, src_key_padding_mask=key_padding_mask(lengths, frames))
        return self.out(self.norm(x)), states, maps


def encoder_layer_forward(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor, attentions: bool
                          ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A Hugging Face ``WhisperEncoderLayer`` step that also hands back its attention map when asked for."""
    residual = hidden
    attn_out, weights = layer.self_attn(hidden_states=layer.self_attn_layer_norm(hidden), attention_mask=mask)
    hidden = residual + nn.functional.dropout(attn_out, p=layer.dropout, training=layer.training)
    residual = hidden
    x = layer.activation_fn(layer.fc1(layer.final_layer_norm(hidden)))
    x = nn.functional.dropout(x, p=layer.activation_dropout, training=layer.training)
    x = nn.functional.dropout(layer.fc2(x), p=layer.dropout, training=layer.training)
    return residual + x, (weights if attentions else None)


def time_mask(hidden: torch.Tensor, lengths: torch.Tensor, count: int) -> torch.Tensor:
    """Zero ``count`` random spans of up to ``TIME_MASK_MAX_FRAMES`` frames per item (training only)."""
    batch, frames, _ = hidden.shape
    keep = torch.ones(batch, frames, 1, dtype=hidden.dtype, device=hidden.device)
    for row in range(batch):
        length = int(lengths[row])
        for _ in range(count):
            width = int(torch.randint(0, TIME_MASK_MAX_FRAMES + 1, ()))
            if width == 0 or length <= width:
                continue
            start = int(torch.randint(0, length - width, ()))
            keep[row, start:start + width] = 0
    return hidden * keep


def build_head(encoder: nn.Module, config: WhisperCTCConfig) -> WhisperCTCHead:
    """A head for ``encoder`` (a Hugging Face ``WhisperEncoder``): copies of its layers above ``read_layer``."""
    layers = encoder.layers
    if not 0 <= config.read_layer <= len(layers):
        raise ValueError(f"read_layer {config.read_layer} out of range 0..{len(layers)} for this encoder")
    top = [copy.deepcopy(layer) for layer in layers[config.read_layer:]] if config.fine_tune_above else []
    for layer in top:  # share the encoder's config, so switching it to eager attention switches these too
        layer.self_attn.config = encoder.config
    if top:
        final_norm = copy.deepcopy(encoder.layer_norm)
    else:  # the final output is normed already; a middle state is the raw residual stream and needs a norm
        final_norm = nn.LayerNorm(encoder.config.d_model) if config.read_layer < len(layers) else None
    head = WhisperCTCHead(top, final_norm, encoder.config.d_model, len(config.labels), config.head)
    head.top_layers.requires_grad_(True)
    return head
