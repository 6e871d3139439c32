"""Vocabulary bridge from teacher labels to the student's character vocabulary."""

import math

import pytest
import torch

from speechdistill.teachers import LOG_ZERO, bridge_text, build_vocab_bridge
from speechdistill.text import Vocabulary
from tests.teachers.tiny_models import UPPER_CASE_LABELS


def test_upper_case_wav2vec2_labels_map_onto_the_default_student():
    student = Vocabulary.default()
    bridge = build_vocab_bridge(UPPER_CASE_LABELS, student)
    mapping = dict(zip(UPPER_CASE_LABELS, (student.labels[i] for i in bridge.index)))
    assert mapping["<pad>"] == "<pad>" and mapping["|"] == "|" and mapping["'"] == "'"
    assert all(mapping[c] == c.lower() for c in "ETAONZ")
    assert mapping["<s>"] == "<s>" and mapping["</s>"] == "</s>" and mapping["<unk>"] == "<unk>"
    matrix = bridge.matrix()
    assert matrix.shape == (len(UPPER_CASE_LABELS), len(student)) and (matrix.sum(1) == 1).all()
    ids = torch.tensor([[UPPER_CASE_LABELS.index("E"), 0, 4]])
    assert bridge.map_ids(ids).tolist() == [[student.index["e"], 0, student.delimiter_id]]


def test_special_tokens_the_student_lacks_go_to_blank():
    student = Vocabulary(("<pad>", "<unk>", "|", "a"))
    bridge = build_vocab_bridge(("<pad>", "<s>", "</s>", "<unused3>", "|", "A"), student)
    assert bridge.index == (0, 0, 0, 0, 2, 3)


def test_unmappable_labels_are_listed():
    teacher = ("<pad>", "|", "a", "1", "é", "<s>")
    with pytest.raises(ValueError, match=r"no student equivalent: '1', 'é'"):
        build_vocab_bridge(teacher, Vocabulary.default())
    bridge = build_vocab_bridge(teacher, Vocabulary.default(), unknown_to_unk=True)
    unk = Vocabulary.default().unk_id
    assert bridge.index[3] == bridge.index[4] == unk


def test_map_log_probs_sums_merged_labels():
    student = Vocabulary(("<pad>", "<unk>", "|", "a", "b", "c"))
    teacher = ("<pad>", "|", "A", "a", "B")  # "A" and "a" merge; the student's "c" and "<unk>" get nothing
    probs = torch.tensor([[[0.1, 0.2, 0.3, 0.25, 0.15], [0.7, 0.0, 0.1, 0.1, 0.1]]])
    mapped = build_vocab_bridge(teacher, student).map_log_probs(probs.log())
    expected = torch.tensor([[[0.1, 0.0, 0.2, 0.55, 0.15, 0.0], [0.7, 0.0, 0.0, 0.2, 0.1, 0.0]]])
    real = expected > 0
    assert torch.allclose(mapped[real].exp(), expected[real], atol=1e-6)
    assert (mapped[~real] == LOG_ZERO).all()
    assert torch.allclose(mapped.logsumexp(-1), torch.zeros(1, 2), atol=1e-6)
    assert math.isfinite(float(mapped.min()))
    with pytest.raises(ValueError, match="expected 5 teacher labels"):
        build_vocab_bridge(teacher, student).map_log_probs(torch.zeros(1, 1, 4))


def test_bridge_text_spells_bpe_transcripts_for_the_student():
    assert bridge_text("Dr. Smith left at 5:30, 10% late.", Vocabulary.default()) == \
        "doctor smith left at five thirty ten percent late"
    with pytest.raises(ValueError, match="cannot spell 'z'"):
        bridge_text("zoo", Vocabulary(("<pad>", "<unk>", "|", "o")))
