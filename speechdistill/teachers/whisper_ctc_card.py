"""The model card (README.md) of a whisper-ctc teacher directory."""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text
from .model_card import reproduce_section, wer_rows


def write_whisper_ctc_card(directory: Path, title: str, teacher, history: list[dict], metrics: dict[str, float],
                           data: str) -> Path:
    """Write ``directory/README.md``: base weights, what was trained, parameters, WER per split, the command."""
    config = teacher.config
    head_params = sum(p.numel() for p in teacher.head.parameters())
    encoder_params = teacher.num_parameters - head_params
    trained = (f"the encoder's top {config.trained_encoder_layers} layer(s) fine-tuned (from the pretrained ones) "
               f"and a {config.head.layers}-layer head" if config.trained_encoder_layers
               else f"a {config.head.layers}-layer head on the frozen encoder's hidden state {config.read_layer}")
    text = f"""---
tags: [automatic-speech-recognition, ctc, whisper, speechdistill]
---
# {title}

A CTC teacher: OpenAI Whisper's pretrained encoder (`{config.base}`, frozen up to hidden state
{config.read_layer} of {config.num_encoder_layers}) with {trained}, over speechdistill's character vocabulary;
per-frame posteriors every 20 ms, encoder window {config.window_s:g} s.

| | |
|---|---|
| base weights | `{config.base}` (sha256 `{config.base_sha256}`), loaded from the installed package |
| parameters | {teacher.num_parameters / 1e6:.2f} M in use ({encoder_params / 1e6:.2f} M frozen encoder, {head_params / 1e6:.2f} M trained) |
| training data | {data} |
| head | {config.head.layers} x {config.head.dim} Transformer layers, {config.head.heads} heads, FFN {config.head.ffn_dim} |

## Word error rate (greedy CTC decoding, shared normaliser)

| split | WER |
|---|---|
{wer_rows(metrics)}

## Reproduce

{reproduce_section(history)}

Load it with `speechdistill.teachers.load_teacher(dir)` (the base comes from the installed
`speechdistill[whisper]` packages; a different base is refused).
"""
    return atomic_write_text(directory / "README.md", text)
