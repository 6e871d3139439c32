"""Save and load students as directories.

A student directory holds ``config.json`` (the family's frozen config dataclass), ``model.safetensors``,
``vocab.json`` (Wav2Vec2CTCTokenizer format), a model card ``README.md`` and the ``speechdistill.json``
marker (kind "student", the vocabulary, and the family in ``extra``). The marker is written last, so a
directory that has one is complete.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from ..io import atomic_write, atomic_write_text
from ..markers import Marker, read_marker, require_kind, write_marker
from ..text import Vocabulary
from .conformer import SUBSAMPLING_FACTOR, ConformerCTC
from .factory import config_from_dict, get_family, num_parameters, preset_name

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class LoadedStudent:
    """A student read back from its directory (model in eval mode), with its vocabulary and marker."""

    model: nn.Module
    vocab: Vocabulary
    marker: Marker


def student_description(student: nn.Module) -> dict:
    """The marker's ``extra``: family, preset size, parameter count, frame period and input."""
    extra = {"family": student.family, "size": preset_name(student.family, student.config) or "custom",
             "num_parameters": num_parameters(student), "frame_period_ms": student.frame_period_ms}
    if isinstance(student, ConformerCTC):
        extra.update(input="kaldi fbank", fbank=dataclasses.asdict(student.fbank),
                     subsampling_factor=SUBSAMPLING_FACTOR)
        if student.config.streaming:
            extra.update(streaming={"chunk_frames": student.config.chunk_frames,
                                    "left_chunks": student.config.left_chunks, "sample_scale": student.sample_scale})
    else:
        extra.update(input="waveform")
    return extra


def save_student(student: nn.Module, vocab: Vocabulary, directory: str | Path, *, notes: str = "") -> Path:
    """Write ``student`` (any family in :data:`FAMILIES`) and ``vocab`` into ``directory``; return it.

    notes: free Markdown appended to the model card (training data, results, command).
    """
    directory = Path(directory)
    if len(vocab) != student.config.vocab_size:
        raise ValueError(f"vocabulary has {len(vocab)} labels but the student outputs {student.config.vocab_size}")
    directory.mkdir(parents=True, exist_ok=True)
    extra = student_description(student)
    atomic_write_text(directory / CONFIG_NAME, json.dumps(dataclasses.asdict(student.config), indent=2) + "\n")
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_model(student, str(tmp), metadata={"format": "pt"}))
    atomic_write(directory / "vocab.json", vocab.save)
    atomic_write_text(directory / "README.md", model_card(student.config, extra, notes))
    write_marker(directory, Marker(kind="student", vocabulary=vocab.labels, extra=extra))
    return directory


def load_student(directory: str | Path, *, device: str | torch.device = "cpu") -> LoadedStudent:
    """Read a directory written by :func:`save_student`; anything that is not a student is refused."""
    directory = Path(directory)
    require_kind(directory, "student")
    marker = read_marker(directory)
    family = marker.extra.get("family")
    if family is None:
        raise ValueError(f"{directory}: student marker names no family")
    config = config_from_dict(family, json.loads((directory / CONFIG_NAME).read_text()))
    vocab = Vocabulary.load(directory)
    if len(vocab) != config.vocab_size:
        raise ValueError(f"{directory}: vocab.json has {len(vocab)} labels, config says {config.vocab_size}")
    model = get_family(family).model_class(config)
    load_model(model, str(directory / WEIGHTS_NAME), strict=True)
    return LoadedStudent(model.to(device).eval(), vocab, marker)


def model_card(config, extra: dict, notes: str = "") -> str:
    """README.md text for a student directory."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in dataclasses.asdict(config).items())
    inputs = ("80-dim Kaldi log-mel fbank (25 ms / 10 ms, povey window, snip_edges false, 20-7600 Hz, "
              "samples in [-1, 1]), the features sherpa-onnx computes for zipformer-CTC models; "
              "per-utterance normalisation is part of the model" if extra.get("input") == "kaldi fbank"
              else "raw 16 kHz waveforms, normalised per utterance inside the model")
    if "streaming" in extra:
        inputs = ("80-dim Kaldi log-mel fbank of samples scaled to [-32768, 32768) (what sherpa-onnx feeds WeNet-CTC "
                  "models); streaming: chunked attention (eval chunk {chunk_frames} x 40 ms, {left_chunks} left "
                  "chunks), causal convolutions; export with `speechdistill export --streaming`"
                  ).format(**extra["streaming"])
    return f"""---
library_name: speechdistill
tags: [automatic-speech-recognition, ctc, speechdistill, student]
---
# {extra['family']} CTC student ({extra['size']})

A compact CTC speech recogniser built by speechdistill to be distilled from a larger teacher.

| | |
|---|---|
| family | {extra['family']} |
| parameters | {extra['num_parameters'] / 1e6:.2f} M |
| output frame period | {extra['frame_period_ms']:g} ms |
| input | {inputs} |

## Configuration

| field | value |
|---|---|
{rows}

## Load

```python
from speechdistill.students import load_student
student = load_student("path/to/this/dir")  # .model, .vocab
out = student.model(waveforms, lengths)  # StudentOutput: logits (B, T, V), lengths, ...
```
{notes}
"""
