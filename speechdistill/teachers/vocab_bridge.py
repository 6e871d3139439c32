"""Bridges from a teacher's labels to the student's character ``Vocabulary``.

CTC teachers (label level): every teacher label maps to one student label and teacher posteriors are
projected by summing the probabilities of teacher labels that share a student label.

- the teacher blank (``<pad>``) -> student blank, the word delimiter (``|``) -> student ``|``;
- characters map exactly, else case-folded ("A" -> "a", so upper-case wav2vec2-base-960h labels fit);
- special tokens (angle-bracketed: ``<s>``, ``</s>``, ``<unk>``, ``<unusedN>``) map to the student's
  same-named token when it has one, else to the blank: a CTC-trained teacher gives them ~no probability,
  and counting what little they get as blank keeps each projected frame a distribution;
- any other label (a character that carries real mass, e.g. a digit or "é") with no student equivalent
  is an error listing them all, unless ``unknown_to_unk`` sends them to the student's ``<unk>``.

BPE teachers (Whisper) bridge at the text level: ``bridge_text`` puts a transcript into spoken form with
the shared normaliser and checks that the student can spell it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..decode.beam import is_special_label
from ..text import BLANK, WORD_DELIMITER, Vocabulary, normalize_text
from .base import LOG_ZERO


@dataclass(frozen=True)
class VocabBridge:
    """``index[i]`` is the student label id for teacher label ``i``."""

    teacher_labels: tuple[str, ...]
    student: Vocabulary
    index: tuple[int, ...]

    def matrix(self, device: torch.device | str | None = None) -> torch.Tensor:
        """(V_teacher, V_student) 0/1 float32 matrix with one 1 per row."""
        m = torch.zeros(len(self.teacher_labels), len(self.student), device=device)
        m[torch.arange(len(self.index)), torch.tensor(self.index)] = 1.0
        return m

    def map_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Teacher label ids (any shape) -> student label ids."""
        return torch.tensor(self.index, device=ids.device)[ids]

    def map_log_probs(self, log_probs: torch.Tensor) -> torch.Tensor:
        """(B, T, V_teacher) log-probs -> (B, T, V_student) log-probs, summing merged labels' probabilities.

        Student labels no teacher label maps to get ``LOG_ZERO`` (finite). Computed in float32.
        """
        if log_probs.shape[-1] != len(self.teacher_labels):
            raise ValueError(f"expected {len(self.teacher_labels)} teacher labels, got {log_probs.shape[-1]}")
        log_probs = log_probs.float()
        peak = log_probs.amax(-1, keepdim=True)
        summed = (log_probs - peak).exp() @ self.matrix(log_probs.device)
        return (summed.log() + peak).clamp_min(LOG_ZERO)


def _student_label(label: str, index: dict[str, int]) -> int | None:
    if label in index:
        return index[label]
    return index.get(label.lower())


def build_vocab_bridge(teacher_labels: Sequence[str], student: Vocabulary, *, teacher_blank: str = BLANK,
                       teacher_delimiter: str = WORD_DELIMITER, unknown_to_unk: bool = False) -> VocabBridge:
    """Map CTC teacher labels onto ``student`` (rules in the module docstring).

    Raises ValueError naming every teacher label that carries probability mass but has no student equivalent.
    """
    index = student.index
    mapped, missing = [], []
    for label in teacher_labels:
        if label == teacher_blank:
            target = student.blank_id
        elif label == teacher_delimiter:
            target = student.delimiter_id
        elif is_special_label(label):
            target = index.get(label, student.blank_id)
        else:
            target = _student_label(label, index)
        if target is None:
            missing.append(label)
            target = student.unk_id
        mapped.append(target)
    if missing and not unknown_to_unk:
        raise ValueError(f"teacher labels with no student equivalent: {', '.join(map(repr, missing))}; the student "
                         f"vocabulary has {', '.join(map(repr, student.labels))}. Extend the student vocabulary or "
                         "pass unknown_to_unk=True to count them as <unk>")
    return VocabBridge(tuple(teacher_labels), student, tuple(mapped))


def bridge_text(text: str, student: Vocabulary) -> str:
    """Spoken, normalised form of a teacher transcript; ValueError if ``student`` cannot spell it."""
    spoken = normalize_text(text)
    unknown = student.unknown_chars(spoken)
    if unknown:
        raise ValueError(f"student vocabulary cannot spell {''.join(sorted(unknown))!r} in {spoken!r}")
    return spoken
