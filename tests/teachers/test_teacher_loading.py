"""load_teacher: families, freezing, offline handling and the inputs it must refuse."""

import json
import shutil

import pytest
import torch

from speechdistill.markers import Marker, write_marker
from speechdistill.teachers import CTCTeacher, TeacherLoadError, WhisperTeacher, load_teacher


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper"])
def test_loads_each_family_frozen(tiny_teacher_dir, family):
    teacher = load_teacher(tiny_teacher_dir(family))
    assert isinstance(teacher, WhisperTeacher if family == "whisper" else CTCTeacher)
    assert not teacher.model.training
    assert not any(p.requires_grad for p in teacher.model.parameters())
    assert all(p.dtype == torch.float32 for p in teacher.model.parameters())
    assert teacher.num_parameters == sum(p.numel() for p in teacher.model.parameters()) > 0
    assert teacher.frame_period_ms == 20.0 and teacher.sample_rate == 16_000 and teacher.num_layers == 2


def test_dtype_is_honoured(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("wav2vec2"), dtype=torch.float64)
    assert next(teacher.model.parameters()).dtype == torch.float64


@pytest.mark.parametrize("kind", ["student", "bundle", "cache", "corpus"])
def test_refuses_directories_marked_as_something_else(tiny_teacher_dir, tmp_path, kind):
    directory = shutil.copytree(tiny_teacher_dir("wav2vec2"), tmp_path / kind)
    write_marker(directory, Marker(kind=kind))
    with pytest.raises(TeacherLoadError, match=f"holds a {kind}, expected teacher"):
        load_teacher(directory)


def test_accepts_a_directory_marked_teacher(tiny_teacher_dir, tmp_path):
    directory = shutil.copytree(tiny_teacher_dir("wav2vec2"), tmp_path / "home_trained")
    write_marker(directory, Marker(kind="teacher"))
    assert isinstance(load_teacher(directory), CTCTeacher)


def test_pickle_only_checkpoint_needs_allow_pickle(tiny_teacher_dir):
    directory = tiny_teacher_dir("wav2vec2", pickle_only=True)
    assert not (directory / "model.safetensors").exists()
    with pytest.raises(TeacherLoadError, match="allow_pickle=True"):
        load_teacher(directory)
    teacher = load_teacher(directory, allow_pickle=True)
    reference = load_teacher(tiny_teacher_dir("wav2vec2"))  # same seed, saved as safetensors
    for (name, p), q in zip(teacher.model.state_dict().items(), reference.model.state_dict().values()):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("model_type", ["bert", "not-a-model"])
def test_unknown_model_type_names_the_supported_families(tmp_path, model_type):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
    with pytest.raises(TeacherLoadError, match="wav2vec2, hubert, wavlm, data2vec-audio, whisper"):
        load_teacher(tmp_path)


def test_missing_local_path_and_offline_hub_id(tmp_path, monkeypatch):
    with pytest.raises(TeacherLoadError, match="not a model directory"):
        load_teacher(tmp_path / "nowhere")
    with pytest.raises(TeacherLoadError, match="neither a speechdistill directory"):
        load_teacher(tmp_path)  # an empty directory
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TeacherLoadError, match="offline"):
        load_teacher("speechdistill-tests/no-such-teacher")


def test_whisper_refuses_ctc_only_beam_options(tiny_teacher_dir, tmp_path):
    from speechdistill.decode import BeamSearchOptions

    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("a a |\n")
    with pytest.raises(TeacherLoadError, match="CTC teachers"):
        load_teacher(tiny_teacher_dir("whisper"), beam=BeamSearchOptions(lexicon=str(lexicon)))
