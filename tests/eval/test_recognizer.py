"""speechdistill.load: teachers (CTC, Whisper), students through a fake load_student, bundles, wrong dirs."""

import sys
import types

import numpy as np
import pytest
import torch

import speechdistill
from speechdistill.data.audio import load_audio
from speechdistill.decode import BeamSearchOptions
from speechdistill.inference import DecodeOptions, load
from speechdistill.markers import Marker, write_marker
from speechdistill.students import StudentOutput
from speechdistill.text import Vocabulary
from tests.conftest import make_tone_utterances


@pytest.fixture
def audio_files(tmp_path):
    return [u.audio_path for u in make_tone_utterances(tmp_path / "audio", n=3)]


def test_ctc_teacher_transcribes_paths_arrays_and_lists(tiny_teacher_dir, audio_files):
    model = speechdistill.load(tiny_teacher_dir("wav2vec2"))
    assert (model.kind, model.family, model.is_ctc) == ("teacher", "ctc", True)
    assert model.labels == Vocabulary.default().labels and model.num_parameters > 0
    text = model.transcribe(audio_files[0])
    assert isinstance(text, str)
    texts = model.transcribe([str(p) for p in audio_files])
    assert isinstance(texts, list) and len(texts) == 3 and texts[0] == text
    wave = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    assert model.transcribe(wave) == model.transcribe(torch.from_numpy(wave))
    assert isinstance(model.transcribe(np.repeat(wave, 2), sample_rate=32_000), str)


def test_ctc_log_probs_and_beam_decoding(tiny_teacher_dir):
    model = load(tiny_teacher_dir("wav2vec2"), decode=DecodeOptions("beam", BeamSearchOptions(beam_size=4)))
    waves = torch.randn(2, 16000) * 0.1
    log_probs, lengths, frame_ms = model.log_probs(waves, torch.tensor([16000, 8000]))
    assert log_probs.shape[0] == 2 and log_probs.shape[-1] == len(model.labels) and frame_ms == 20.0
    assert lengths.tolist() == [49, 24]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-4)
    beam = model.decode(log_probs, lengths)
    greedy = model.set_decode(DecodeOptions("greedy")).decode(log_probs, lengths)
    assert len(beam) == len(greedy) == 2 and all(isinstance(t, str) for t in beam)


def test_word_timestamps_lie_inside_the_audio(tiny_teacher_dir, audio_files):
    model = load(tiny_teacher_dir("wav2vec2"))
    timed = model.transcribe_timed(audio_files[0])
    assert timed.text == model.transcribe(audio_files[0])
    assert [w.word for w in timed.words] == timed.text.split()
    duration = len(load_audio(audio_files[0])) / 16_000
    assert all(0 <= w.start_s < w.end_s <= duration + 0.02 for w in timed.words)


def test_whisper_teacher_generates_text(tiny_teacher_dir, audio_files):
    model = load(tiny_teacher_dir("whisper"))
    assert (model.kind, model.family, model.is_ctc) == ("teacher", "whisper", False)
    short = np.zeros(8000, np.float32) + 0.01 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    assert isinstance(model.transcribe(short), str)
    model.set_decode(DecodeOptions("beam", BeamSearchOptions(beam_size=2)))
    assert len(model.transcribe([short, short])) == 2
    with pytest.raises(ValueError, match="no CTC log-probabilities"):
        model.log_probs([short])
    with pytest.raises(ValueError, match="not to Whisper"):
        model.set_decode(DecodeOptions("beam", BeamSearchOptions(lm=str(audio_files[0]))))


class FakeStudent(torch.nn.Module):
    """Stands in for a real student: 40 ms frames that always say 'a' then blank."""

    def __init__(self, vocab: Vocabulary):
        super().__init__()
        self.vocab = vocab
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> StudentOutput:
        frames = torch.div(lengths, 640, rounding_mode="floor").clamp(min=1)
        logits = torch.zeros(waveforms.shape[0], int(frames.max()), len(self.vocab))
        logits[:, 0, self.vocab.index["a"]] = 10.0 * self.scale
        return StudentOutput(logits=logits, lengths=frames, frame_period_ms=40.0)


@pytest.mark.parametrize("wrapped", [True, False], ids=["loaded-student", "bare-module"])
def test_student_dirs_dispatch_to_load_student(tmp_path, monkeypatch, audio_files, wrapped):
    student_dir = tmp_path / "student"
    student_dir.mkdir()
    write_marker(student_dir, Marker(kind="student", vocabulary=Vocabulary.default().labels))
    seen = []

    def load_student(directory, *, device="cpu"):
        seen.append((directory, device))
        model = FakeStudent(Vocabulary.default())
        return types.SimpleNamespace(model=model, vocab=model.vocab) if wrapped else model

    fake = types.ModuleType("speechdistill.students")
    fake.load_student = load_student
    monkeypatch.setitem(sys.modules, "speechdistill.students", fake)
    model = speechdistill.load(student_dir)
    assert seen == [(student_dir, "cpu")] and (model.kind, model.family, model.num_parameters) == ("student", "ctc", 1)
    assert model.transcribe(audio_files[0]) == "a"
    assert model.log_probs([np.zeros(6400, np.float32)])[2] == 40.0


def test_a_saved_student_transcribes(tmp_path, audio_files):
    students = pytest.importorskip("speechdistill.students")
    if not hasattr(students, "save_student"):
        pytest.skip("students cannot be saved yet")
    directory = students.save_student(students.build_student("conformer", "1m"), Vocabulary.default(), tmp_path / "s")
    model = speechdistill.load(directory)
    assert model.kind == "student" and model.labels == Vocabulary.default().labels
    assert isinstance(model.transcribe(audio_files[0]), str)
    assert [w.word for w in model.transcribe_timed(audio_files[0]).words] == model.transcribe(audio_files[0]).split()


def test_student_without_load_student_is_a_clear_error(tmp_path, monkeypatch):
    write_marker(tmp_path, Marker(kind="student"))
    monkeypatch.setitem(sys.modules, "speechdistill.students", types.ModuleType("speechdistill.students"))
    with pytest.raises(ValueError, match="cannot load students yet"):
        load(tmp_path)


def test_broken_bundles_and_unknown_directories_are_refused(tmp_path):
    bundle, corpus, empty = tmp_path / "bundle", tmp_path / "corpus", tmp_path / "empty"
    for directory in (bundle, corpus, empty):
        directory.mkdir()
    write_marker(bundle, Marker(kind="bundle"))
    write_marker(corpus, Marker(kind="corpus"))
    with pytest.raises(ValueError, match="bundle marker lists no model files"):
        load(bundle)
    with pytest.raises(ValueError, match="holds a corpus, not a model; known model kinds: teacher"):
        load(corpus)
    with pytest.raises(ValueError, match="not a model directory.*known model kinds: teacher .*student .*bundle"):
        load(empty)
