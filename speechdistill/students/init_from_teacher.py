"""Initialise a wav2vec2-style student from a wav2vec2-family CTC teacher where shapes allow.

Transformer layers: student layer j (0-based) takes teacher layer ``floor(j * (L_t - 1) / (L_s - 1) + 1/2)``,
so the first and last layers always pair up and the rest are evenly spaced (a one-layer student takes
the teacher's last layer). Conv front-end layers pair by position (layer i <- layer i: each has its own
stride role). Every other tensor of the base model (feature projection, positional conv, final norm,
mask embedding) pairs by name. A tensor is copied only when the shapes match exactly; the rest keep
their random initialisation and are listed with the reason. The CTC head is copied only when asked,
since teacher and student label orders may differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .wav2vec2 import Wav2Vec2Student

_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")


@dataclass(frozen=True)
class InitReport:
    """What :func:`init_from_teacher` did. Names are the student's parameter names (under ``model.``)."""

    layer_map: tuple[tuple[int, int], ...]  # (student layer, teacher layer), 0-based
    copied: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (name, reason)

    def summary(self) -> str:
        """One line per fact, for logs and model cards."""
        pairs = ", ".join(f"{s}<-{t}" for s, t in self.layer_map)
        lines = [f"transformer layers (student<-teacher): {pairs}",
                 f"copied {len(self.copied)} tensors, skipped {len(self.skipped)}"]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped]
        return "\n".join(lines)


def evenly_spaced(num_student: int, num_teacher: int) -> list[int]:
    """Teacher layer (0-based) for each student layer: first to first, last to last, evenly between."""
    if num_student < 1 or num_teacher < 1:
        raise ValueError(f"need at least one layer each, got {num_student} student / {num_teacher} teacher")
    if num_student == 1:
        return [num_teacher - 1]
    return [int(j * (num_teacher - 1) / (num_student - 1) + 0.5) for j in range(num_student)]  # halves round up


def _unwrap(teacher) -> nn.Module:
    """A loaded teacher (not an nn.Module) holds its Hugging Face model as ``.model``."""
    return teacher if isinstance(teacher, nn.Module) else teacher.model


def _base_model(model: nn.Module) -> nn.Module:
    """The wav2vec2/HuBERT/WavLM/Data2Vec encoder inside a *ForCTC model."""
    base = getattr(model, "base_model", model)
    if not hasattr(base, "encoder") or not hasattr(base.encoder, "layers") or not hasattr(base, "feature_extractor"):
        raise ValueError(f"{type(model).__name__} is not a wav2vec2-family model (no encoder.layers / feature_extractor)")
    return base


def _teacher_name(name: str, layer_map: dict[int, int]) -> str:
    match = _LAYER.match(name)
    if match is None:
        return name
    return f"encoder.layers.{layer_map[int(match.group(1))]}.{name[match.end():]}"


@torch.no_grad()
def _copy_matching(target: dict[str, torch.Tensor], source: dict[str, torch.Tensor], rename, prefix: str,
                   copied: list[str], skipped: list[tuple[str, str]]) -> None:
    for name, tensor in target.items():
        source_name = rename(name)
        found = source.get(source_name)
        if found is None:
            skipped.append((prefix + name, f"teacher has no {source_name}"))
        elif found.shape != tensor.shape:
            skipped.append((prefix + name, f"shape {tuple(tensor.shape)} vs teacher {source_name} {tuple(found.shape)}"))
        else:
            tensor.copy_(found.to(tensor.dtype))
            copied.append(prefix + name)


def init_from_teacher(student: Wav2Vec2Student, teacher_model: nn.Module, *, copy_head: bool = False) -> InitReport:
    """Copy teacher tensors into ``student`` in place where shapes match; return what was copied and skipped.

    teacher_model: a wav2vec2-family ``*ForCTC`` model (or a loaded teacher, whose ``.model`` is used).
    copy_head: also copy the CTC head (only right when both use the same labels in the same order).
    """
    if not isinstance(student, Wav2Vec2Student):
        raise TypeError(f"init_from_teacher needs a wav2vec2-style student, got {type(student).__name__}")
    teacher_model = _unwrap(teacher_model)
    teacher_base = _base_model(teacher_model)
    teacher_layers = len(teacher_base.encoder.layers)
    mapping = evenly_spaced(student.num_layers, teacher_layers)
    layer_map = dict(enumerate(mapping))
    copied: list[str] = []
    skipped: list[tuple[str, str]] = []
    _copy_matching(student.model.wav2vec2.state_dict(), teacher_base.state_dict(),
                   lambda name: _teacher_name(name, layer_map), "model.wav2vec2.", copied, skipped)
    head = student.model.lm_head.state_dict()
    teacher_head = getattr(teacher_model, "lm_head", None)
    if copy_head and teacher_head is not None:
        _copy_matching(head, teacher_head.state_dict(), lambda name: name, "model.lm_head.", copied, skipped)
    else:
        skipped.extend((f"model.lm_head.{name}", "CTC head not copied (copy_head=False)") for name in head)
    return InitReport(tuple(enumerate(mapping)), tuple(copied), tuple(skipped))
