"""Student directories: save -> load gives identical outputs; other kinds of directory are refused."""

from __future__ import annotations

import json

import pytest
import torch

from speechdistill.markers import read_marker
from speechdistill.students import conformer_ctc, load_student, save_student, wav2vec2_ctc
from speechdistill.text import Vocabulary
from tests.students.helpers import padded_batch

BUILDERS = {"conformer": lambda: conformer_ctc("0.5m", num_layers=2),
            "wav2vec2": lambda: wav2vec2_ctc("0.5m", num_layers=2)}


@pytest.mark.parametrize("family", list(BUILDERS))
def test_save_load_round_trip(tmp_path, family):
    torch.manual_seed(0)
    student = BUILDERS[family]().eval()
    vocab = Vocabulary.default()
    directory = save_student(student, vocab, tmp_path / family, notes="trained on nothing")
    assert {p.name for p in directory.iterdir()} == {"config.json", "model.safetensors", "vocab.json", "README.md",
                                                      "speechdistill.json"}
    marker = read_marker(directory)
    assert marker.kind == "student" and marker.vocabulary == vocab.labels
    assert marker.extra["family"] == family and marker.extra["size"] == "custom"
    assert json.loads((directory / "config.json").read_text())["num_layers"] == 2
    assert "trained on nothing" in (directory / "README.md").read_text()

    loaded = load_student(directory)
    assert loaded.model.config == student.config and loaded.vocab == vocab
    assert not loaded.model.training
    waveforms, lengths = padded_batch([6_000, 4_000])
    with torch.no_grad():
        before, after = student(waveforms, lengths), loaded.model(waveforms, lengths)
    assert torch.equal(before.logits, after.logits) and torch.equal(before.lengths, after.lengths)


def test_preset_name_and_fbank_recorded(tmp_path):
    directory = save_student(conformer_ctc("1m"), Vocabulary.default(), tmp_path / "c")
    extra = read_marker(directory).extra
    assert (extra["size"], extra["frame_period_ms"], extra["subsampling_factor"]) == ("1m", 40, 4)
    assert extra["fbank"]["num_bins"] == 80 and extra["fbank"]["high_freq_hz"] == -400


def test_teacher_directory_refused(tiny_teacher_dir):
    with pytest.raises(ValueError, match="holds a teacher, expected student"):
        load_student(tiny_teacher_dir("wav2vec2"))


def test_vocabulary_must_fit_the_head(tmp_path):
    with pytest.raises(ValueError, match="labels but the student outputs"):
        save_student(conformer_ctc("0.5m", vocab_size=30), Vocabulary.default(), tmp_path / "x")
