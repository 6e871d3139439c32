"""init_from_teacher: evenly spaced layers, exact copies where shapes match, clear skips elsewhere."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCTC

from speechdistill.students import conformer_ctc, init_from_teacher, wav2vec2_ctc
from speechdistill.students.init_from_teacher import evenly_spaced
from tests.teachers.tiny_models import tiny_ctc_config

# The tiny teacher: hidden 16, 4 layers, 2 heads, ffn 32, conv front end (8, 8, 8), kernels (10, 4, 16), strides (5, 4, 16).
TEACHER_LAYERS = 4


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return AutoModelForCTC.from_config(tiny_ctc_config("wav2vec2", 32, num_hidden_layers=TEACHER_LAYERS)).eval()


def small_student(**overrides):
    settings = dict(hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, conv_dim=(8, 8, 8),
                    conv_kernel=(10, 4, 16), conv_stride=(5, 4, 16), pos_conv_kernel=16, pos_conv_groups=2)
    return wav2vec2_ctc("1m", **{**settings, **overrides})


def test_evenly_spaced():
    assert evenly_spaced(2, 4) == [0, 3]
    assert evenly_spaced(3, 10) == [0, 5, 9]
    assert evenly_spaced(4, 10) == [0, 3, 6, 9]
    assert evenly_spaced(4, 4) == [0, 1, 2, 3]
    assert evenly_spaced(1, 12) == [11]


def test_copies_matching_tensors_exactly_and_skips_the_rest(teacher):
    torch.manual_seed(1)
    student = small_student(intermediate_size=24, conv_dim=(8, 8, 12))  # ffn and last conv layer differ
    before = {k: v.clone() for k, v in student.state_dict().items()}
    report = init_from_teacher(student, teacher)
    assert report.layer_map == ((0, 0), (1, 3))
    teacher_state = teacher.state_dict()
    student_state = student.state_dict()
    for name in report.copied:
        source = name.replace("model.", "", 1)
        for j, t in report.layer_map:
            source = source.replace(f"encoder.layers.{j}.", f"encoder.layers.<{t}>.")
        source = source.replace("<", "").replace(">", "")
        assert torch.equal(student_state[name], teacher_state[source]), name
    skipped = dict(report.skipped)
    for name in skipped:
        assert torch.equal(student_state[name], before[name]), name
    assert "model.wav2vec2.encoder.layers.1.feed_forward.intermediate_dense.weight" in skipped
    assert "shape (24, 16) vs teacher" in skipped["model.wav2vec2.encoder.layers.1.feed_forward.intermediate_dense.weight"]
    assert "model.wav2vec2.feature_extractor.conv_layers.2.conv.weight" in skipped
    assert "model.wav2vec2.encoder.layers.1.attention.q_proj.weight" in report.copied
    assert "model.wav2vec2.feature_extractor.conv_layers.0.conv.weight" in report.copied
    assert "vs teacher" in skipped["model.wav2vec2.feature_projection.projection.weight"]  # reads 12 channels, not 8
    assert all(name.startswith("model.lm_head") for name in skipped if "not copied" in skipped[name])
    assert "skipped" in report.summary()


def test_head_copied_only_when_asked(teacher):
    student = small_student()
    report = init_from_teacher(student, teacher, copy_head=True)
    assert "model.lm_head.weight" in report.copied
    assert torch.equal(student.model.lm_head.weight, teacher.lm_head.weight)
    # Identical architecture: everything copied but the mask embedding (the teacher was built without masking).
    assert dict(report.skipped) == {"model.wav2vec2.masked_spec_embed": "teacher has no masked_spec_embed"}


def test_refuses_other_students(teacher):
    with pytest.raises(TypeError, match="wav2vec2-style"):
        init_from_teacher(conformer_ctc("0.5m"), teacher)
