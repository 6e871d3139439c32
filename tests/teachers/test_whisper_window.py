"""``window_s`` (a shorter Whisper encoder window) reaches the teacher from every place a teacher is named.

load_teacher, the cache recipe, the distillation recipe (live and cached), eval and transcribe; each
checks it is positive, and CTC teachers refuse it. The tiny Whisper's trained window is 1 s (50 frames).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from speechdistill.cache import CacheConfig, build_cache, open_cache
from speechdistill.cli import main
from speechdistill.config import ConfigError
from speechdistill.data.errors import DataError
from speechdistill.data.manifests import write_nemo_manifest
from speechdistill.data.records import Utterance
from speechdistill.distill.config import TeacherSpec
from speechdistill.distill.live import LiveTeacherSource
from speechdistill.distill.sources import TeacherRequest
from speechdistill.distill.training import open_cached_source
from speechdistill.eval.evaluate import EvalOptions
from speechdistill.inference import load
from speechdistill.teachers import TeacherLoadError, load_teacher

SAMPLE_RATE = 16_000


def test_window_shortens_the_encoder_and_its_outputs(tiny_teacher_dir):
    full = load_teacher(tiny_teacher_dir("whisper"))
    short = load_teacher(tiny_teacher_dir("whisper"), window_s=0.5)
    assert full.window_s == 1.0 and short.window_s == 0.5
    encoder = short.model.model.encoder
    assert short.model.config.max_source_positions == 25 and encoder.embed_positions.num_embeddings == 25
    assert torch.equal(encoder.embed_positions.weight, full.model.model.encoder.embed_positions.weight[:25])
    out = short([np.zeros(4_800, np.float32)], hidden_layers=(2,))  # 0.3 s -> 15 frames of 20 ms
    assert out.lengths.tolist() == [15] and out.hidden_states[2].shape[:2] == (1, 15)
    assert short._features([np.zeros(4_800, np.float32)]).shape[-1] == 50  # 25 positions x 2 mel frames
    with pytest.raises(DataError, match="0.6 s is longer than this Whisper teacher's 0.5 s window"):
        short([np.zeros(9_600, np.float32)])


@pytest.mark.parametrize("window_s, message", [(0.0, "window_s 0 must be between"),
                                               (-1.0, "window_s -1 must be between"),
                                               (2.0, "and the trained window, 1 s")])
def test_window_out_of_range_is_refused(tiny_teacher_dir, window_s, message):
    with pytest.raises(ValueError, match=message):
        load_teacher(tiny_teacher_dir("whisper"), window_s=window_s)


def test_ctc_teachers_refuse_a_window(tiny_teacher_dir):
    with pytest.raises(TeacherLoadError, match="window_s applies to Whisper teachers"):
        load_teacher(tiny_teacher_dir("wav2vec2"), window_s=0.5)


@pytest.fixture
def short_corpus(tmp_path):
    """Two utterances (0.3 s, 0.45 s) that fit a 0.5 s window, and their manifest."""
    from speechdistill.data.audio import save_audio

    utterances = []
    for i, seconds in enumerate((0.3, 0.45)):
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        path = save_audio(tmp_path / f"u{i}.flac", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
        utterances.append(Utterance(f"u{i}", path, seconds, "stop", "spk0"))
    return utterances, write_nemo_manifest(tmp_path / "manifest.jsonl", utterances)


def test_cache_recipe_builds_with_the_window(tiny_teacher_dir, short_corpus, tmp_path):
    utterances, manifest = short_corpus
    with pytest.raises(ValueError, match="window_s must be positive"):
        CacheConfig(teacher="t", manifest="m", out_dir="o", window_s=0)
    config = CacheConfig(teacher=str(tiny_teacher_dir("whisper")), manifest=str(manifest),
                         out_dir=str(tmp_path / "cache"), top_k=0, hidden_layers=(2,), device="cpu", window_s=0.5)
    assert config.settings()["window_s"] == 0.5 and "window_s" not in CacheConfig("t", "m", "o").settings()
    assert build_cache(config).complete
    cache = open_cache(config.out_dir)
    assert cache.meta["config"]["window_s"] == 0.5
    out = cache.outputs(["u0", "u1"], TeacherRequest(hidden_layers=(2,), log_probs=False))
    assert out.lengths.tolist() == [15, 23]  # ceil(samples / 320)


def test_distill_recipe_passes_the_window(tiny_teacher_dir, short_corpus, tmp_path):
    with pytest.raises(ValueError, match="window_s must be positive"):
        TeacherSpec(spec="whisper-base", window_s=-0.5)
    spec = TeacherSpec(spec=str(tiny_teacher_dir("whisper")), window_s=0.5)
    source = LiveTeacherSource.load({"w": spec}, {"w": TeacherRequest(hidden_layers=(2,), log_probs=False)})
    assert source.teachers["w"].window_s == 0.5

    _, manifest = short_corpus
    build_cache(CacheConfig(teacher=spec.spec, manifest=str(manifest), out_dir=str(tmp_path / "cache"), top_k=0,
                            hidden_layers=(2,), device="cpu", window_s=0.5))
    requests = {"w": TeacherRequest(hidden_layers=(2,), log_probs=False)}

    def recipe(window_s):
        return SimpleNamespace(data=SimpleNamespace(train=str(manifest)), cache_dirs={"w": str(tmp_path / "cache")},
                               teachers={"w": TeacherSpec(spec=spec.spec, window_s=window_s)})

    assert open_cached_source(recipe(0.5), requests, torch.device("cpu")).names == ("w",)
    with pytest.raises(ConfigError, match="teachers.w.window_s is None, but its cache .* built with window_s 0.5"):
        open_cached_source(recipe(None), requests, torch.device("cpu"))


def test_eval_and_transcribe_take_the_window(tiny_teacher_dir, short_corpus, capsys):
    utterances, _ = short_corpus
    teacher = str(tiny_teacher_dir("whisper"))
    assert load(teacher, window_s=0.5).teacher.window_s == 0.5
    with pytest.raises(ValueError, match="--window-s must be positive"):
        EvalOptions(model=teacher, manifest="m", window_s=0)
    assert main(["transcribe", "--model", teacher, "--device", "cpu", "--window-s", "0.5",
                 str(utterances[0].audio_path)]) == 0
    assert capsys.readouterr().out.startswith(str(utterances[0].audio_path))
    with pytest.raises(SystemExit):
        main(["transcribe", "--model", teacher, "--window-s", "0", str(utterances[0].audio_path)])
    assert "--window-s: must be positive" in capsys.readouterr().err
    assert main(["transcribe", "--model", teacher, "--device", "cpu", "--window-s", "0.2",
                 str(utterances[0].audio_path)]) == 2
    assert "0.3 s is longer than this Whisper teacher's 0.2 s window" in capsys.readouterr().err
