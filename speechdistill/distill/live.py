"""``LiveTeacherSource``: the frozen teachers run on every training batch, each asked only for its request.

The teachers see the batch's waveforms exactly as the student does (after augmentation, speed
perturbation included), so live distillation has no alignment constraint on augmentation. Each teacher
model runs under ``torch.inference_mode()`` inside its ``__call__``; this source adds ``no_grad`` around
the post-processing and drops CTC posteriors that no loss reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch

from ..config import ConfigError
from ..data.dataset import Batch
from ..decode.beam import BeamSearchOptions
from ..teachers.base import Teacher, TeacherOutput
from .config import TeacherSpec
from .sources import TeacherRequest

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class LiveTeacherSource:
    """Teacher outputs computed on the fly; ``names`` are the teachers some loss reads, in recipe order.

    teachers: name -> loaded teacher (``speechdistill.teachers.load_teacher``); requests: name -> what to ask.
    """

    def __init__(self, teachers: Mapping[str, Teacher], requests: Mapping[str, TeacherRequest]):
        missing = sorted(set(teachers) - set(requests))
        if missing:
            raise ValueError(f"no request for teacher(s) {', '.join(missing)}")
        self.teachers = dict(teachers)
        self.requests = {name: requests[name] for name in teachers}
        self.names = tuple(teachers)
        for name in self.names:
            _check_family(name, self.teachers[name], self.requests[name])

    @classmethod
    def load(cls, specs: Mapping[str, TeacherSpec], requests: Mapping[str, TeacherRequest],
             device: str | torch.device = "cpu") -> LiveTeacherSource:
        """Load every teacher that has a request (the others are not needed) onto ``device``."""
        from ..teachers.loader import load_teacher

        teachers = {}
        for name in requests:
            spec = specs[name]
            beam = BeamSearchOptions(beam_size=spec.beam_size) if spec.beam_size else None
            teachers[name] = load_teacher(spec.spec, device, DTYPES[spec.dtype], beam=beam, window_s=spec.window_s,
                                          backend=spec.backend, compute_type=spec.compute_type)
        return cls(teachers, requests)

    @property
    def hidden_sizes(self) -> dict[str, int]:
        """Teacher name -> width of its hidden states (feature-loss projections)."""
        return {name: hidden_size(teacher.model.config) for name, teacher in self.teachers.items()}

    def outputs(self, batch: Batch) -> dict[str, TeacherOutput]:
        """Each teacher's outputs for ``batch`` (on the teacher's device; losses move what they read)."""
        return {name: self._run(name, batch) for name in self.names}

    def _run(self, name: str, batch: Batch) -> TeacherOutput:
        request = self.requests[name]
        with torch.no_grad():
            out = self.teachers[name](batch.waveforms, batch.waveform_lengths, hidden_layers=request.hidden_layers,
                                      attentions=request.attentions, nbest=request.nbest)
        if not request.log_probs and out.log_probs is not None:
            out = replace(out, log_probs=None)
        return out


def hidden_size(model_config) -> int:
    """Hidden width from a Hugging Face config (``hidden_size`` for CTC models, ``d_model`` for Whisper)."""
    size = getattr(model_config, "hidden_size", None) or getattr(model_config, "d_model", None)
    if size is None:
        raise ValueError(f"cannot tell the hidden size of a {type(model_config).__name__}")
    return int(size)


def _check_family(name: str, teacher: Teacher, request: TeacherRequest) -> None:
    """A Whisper teacher has no CTC posteriors: say so before training, not inside a loss."""
    if request.log_probs and getattr(teacher, "family", "ctc") == "whisper":
        raise ConfigError(f"teachers.{name} is a Whisper model, which has no CTC posteriors; frame-level losses "
                          "(frame_kl, multi_teacher average / frame_entropy) need a CTC teacher; distil a Whisper "
                          "teacher through sequence_kd (or its encoder through feature / attention)")
