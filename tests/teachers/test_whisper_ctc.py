"""whisper-ctc: a CTC head on a (tiny random) Whisper encoder — training, caching, save/load, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml

from speechdistill.cache.build import build_cache
from speechdistill.cache.reader import open_cache
from speechdistill.distill.sources import TeacherRequest
from speechdistill.teachers import load_teacher
from speechdistill.teachers.train_whisper_ctc import WhisperCTCRecipe, encoder_cache_configs, make_step
from speechdistill.teachers.training import TeacherDataConfig, train_teacher_from_config
from speechdistill.teachers.whisper_ctc import HeadConfig, WhisperCTCConfig, build_head
from speechdistill.teachers.whisper_ctc_teacher import (
    WhisperCTCTeacher,
    load_base_encoder,
    load_whisper_ctc,
    save_whisper_ctc,
)
from speechdistill.text import Vocabulary
from speechdistill.train.loop import TrainOptions
from tests.conftest import make_tone_utterances

WINDOW_S = 2.0  # the tiny Whisper's trained window (100 frames)
HEAD = HeadConfig(dim=16, layers=1, heads=2, ffn_dim=32, dropout=0.0, time_masks=0)


def _manifest(directory, utts) -> str:
    path = directory / "manifest.jsonl"
    path.write_text("".join(json.dumps({"audio_filepath": str(u.audio_path), "duration": u.duration_s,
                                        "text": u.text}) + "\n" for u in utts))
    return str(path)


def _read(manifest: str):
    """The utterances as the package reads them (ids derived from the paths)."""
    from speechdistill.data.manifests import read_manifest

    return read_manifest(manifest, labelled=True, vocab=Vocabulary.default())


def _teacher(base_dir, read_layer: int, seed: int = 0, fine_tune_above: bool = True) -> WhisperCTCTeacher:
    encoder, processor, sha = load_base_encoder(str(base_dir), WINDOW_S)
    config = WhisperCTCConfig(str(base_dir), sha, WINDOW_S, read_layer, len(encoder.layers),
                              Vocabulary.default().labels, HEAD, fine_tune_above)
    torch.manual_seed(seed)
    head = build_head(encoder, config)
    encoder.layers = encoder.layers[:read_layer]
    return WhisperCTCTeacher(encoder, processor, head, config, name="tiny")


@pytest.fixture
def base_dir(tiny_teacher_dir):
    return tiny_teacher_dir("whisper", max_source_positions=100)


@pytest.mark.parametrize(("read_layer", "fine_tune_above"), [(1, True), (2, True), (1, False)])
def test_save_load_round_trip_gives_identical_outputs(base_dir, tmp_path, tone_utterances, read_layer,
                                                      fine_tune_above):
    teacher = _teacher(base_dir, read_layer, fine_tune_above=fine_tune_above)
    save_whisper_ctc(tmp_path / "t", teacher.config, teacher.head)
    loaded = load_teacher(tmp_path / "t")
    assert isinstance(loaded, WhisperCTCTeacher)
    layers = tuple(range(loaded.num_layers + 1))
    assert loaded.num_layers == (2 if fine_tune_above else read_layer)
    audio = [np.asarray(torch.randn(int(16000 * s)) * 0.1) for s in (0.3, 0.9)]
    a = teacher(audio, hidden_layers=layers, attentions=True, nbest=2)
    b = loaded(audio, hidden_layers=layers, attentions=True, nbest=2)
    assert torch.equal(a.lengths, b.lengths) and a.lengths.tolist() == [15, 45]
    torch.testing.assert_close(a.log_probs, b.log_probs, rtol=0, atol=0)
    for i in layers:
        torch.testing.assert_close(a.hidden_states[i], b.hidden_states[i], rtol=0, atol=0)
    assert len(a.attentions) == loaded.num_layers and a.attentions[0].shape == (2, 2, 45, 45)
    assert [h.text for h in a.nbest[0]] == [h.text for h in b.nbest[0]]
    # padded frames of the short item are a certain blank
    assert torch.all(a.log_probs[0, 15:, 0] == 0)


def test_hidden_states_below_read_layer_are_the_frozen_encoders(base_dir):
    from transformers import WhisperForConditionalGeneration

    teacher = _teacher(base_dir, read_layer=1)
    model = WhisperForConditionalGeneration.from_pretrained(base_dir).eval()
    audio = [np.asarray(torch.randn(12000) * 0.1)]
    features = teacher.encoder_inputs(teacher.prepare_audio(audio))
    with torch.inference_mode():
        reference = model.model.encoder(features, output_hidden_states=True).hidden_states
    out = teacher(audio, hidden_layers=(0, 1))
    torch.testing.assert_close(out.hidden_states[1][0], reference[1][0, :38], rtol=1e-5, atol=1e-5)


def test_a_different_base_is_refused(base_dir, tmp_path, tiny_teacher_dir):
    teacher = _teacher(base_dir, read_layer=2)
    save_whisper_ctc(tmp_path / "t", teacher.config, teacher.head)
    other = tmp_path / "other_base"
    shutil.copytree(tiny_teacher_dir("whisper", max_source_positions=100, seed=1), other)
    config = json.loads((tmp_path / "t" / "whisper_ctc.json").read_text())
    (tmp_path / "t" / "whisper_ctc.json").write_text(json.dumps({**config, "base": str(other)}))
    with pytest.raises(ValueError, match="sha256 .* but this teacher was trained on") as info:
        load_whisper_ctc(tmp_path / "t")
    assert "\n" not in str(info.value)


def test_a_missing_base_is_a_one_line_error(base_dir, tmp_path):
    teacher = _teacher(base_dir, read_layer=2)
    save_whisper_ctc(tmp_path / "t", teacher.config, teacher.head)
    config = json.loads((tmp_path / "t" / "whisper_ctc.json").read_text())
    (tmp_path / "t" / "whisper_ctc.json").write_text(json.dumps({**config, "base": str(tmp_path / "gone")}))
    with pytest.raises(FileNotFoundError, match="neither a packaged teacher name nor a Whisper directory") as info:
        load_whisper_ctc(tmp_path / "t")
    assert "\n" not in str(info.value)


def _encoded(base_dir, tmp_path, read_layer: int = 1):
    """Four tone utterances (as the package reads them) and the stage-1 cache of their encoder states."""
    manifest = _manifest(tmp_path, make_tone_utterances(tmp_path / "audio", n=4))
    data = TeacherDataConfig(train=manifest, dev=manifest)
    recipe = WhisperCTCRecipe(architecture="whisper-ctc", out_dir=str(tmp_path / "run"), data=data,
                              base=str(base_dir), window_s=WINDOW_S, read_layer=read_layer, head=HEAD)
    config = encoder_cache_configs(recipe, read_layer)["train"]
    build_cache(config)
    return _read(manifest), open_cache(config.out_dir)


def test_cached_encoder_states_equal_live_ones(base_dir, tmp_path):
    utts, cache = _encoded(base_dir, tmp_path)
    cached = cache.outputs([u.id for u in utts], TeacherRequest(hidden_layers=(1,), log_probs=False), "cpu")
    live = _teacher(base_dir, read_layer=1)([_load(u) for u in utts], hidden_layers=(1,))
    assert torch.equal(cached.lengths, live.lengths)
    # the cache keeps fp16; the live teacher computes in fp32
    torch.testing.assert_close(cached.hidden_states[1], live.hidden_states[1], rtol=2e-3, atol=2e-3)


def _load(utt):
    from speechdistill.data.audio import load_audio

    return load_audio(utt.audio_path, 16000)


def test_the_head_learns_on_cached_states(base_dir, tmp_path):
    utts, cache = _encoded(base_dir, tmp_path)
    teacher = _teacher(base_dir, read_layer=1)
    head = teacher.head.train().requires_grad_(True)
    from speechdistill.data.dataset import UtteranceDataset, collate

    vocab = Vocabulary.default()
    dataset = UtteranceDataset(utts, vocab)
    batch = collate([dataset[i] for i in range(len(utts))])
    step = make_step(cache, 1)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = step(head, batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_teacher_train_recipe_runs_end_to_end(base_dir, tmp_path):
    utts = make_tone_utterances(tmp_path / "audio", n=6)
    manifest = _manifest(tmp_path, utts)
    recipe = {"architecture": "whisper-ctc", "out_dir": str(tmp_path / "run"), "base": str(base_dir),
              "window_s": WINDOW_S, "read_layer": -2, "cache_layers": [1, 2],
              "data": {"train": manifest, "dev": manifest, "test": {"test": manifest}},
              "head": {"dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32},
              "train": {"max_updates": 4, "eval_every": 2, "checkpoint_every": 2, "log_every": 1,
                        "batch_seconds": 3.0, "warmup_updates": 1}}
    path = tmp_path / "whisper_ctc.yaml"
    path.write_text(yaml.safe_dump(recipe))
    best = train_teacher_from_config(path, [])
    teacher = load_teacher(best)
    assert isinstance(teacher, WhisperCTCTeacher) and teacher.config.read_layer == 1
    card = (best / "README.md").read_text()
    assert "WER" in card and "sha256" in card
    marker = json.loads((best / "speechdistill.json").read_text())
    assert set(marker["extra"]["wer"]) == {"dev", "test"}
    assert (tmp_path / "run" / "encoder" / "train" / "cache.json").is_file()
    # stage 1 is resumable: a second run finds every encoder shard done
    assert train_teacher_from_config(path, ["train.max_updates=5"], resume=True) == best


def test_recipe_yaml_is_valid():
    from speechdistill.config import load_config

    recipe = load_config(WhisperCTCRecipe, "recipes/teachers/whisper_ctc.yaml")
    assert recipe.base == "whisper-base" and recipe.read_layer == -1 and recipe.train.decay_over_wall
    assert isinstance(recipe.train, TrainOptions)


def test_weight_dirs_of_a_whisper_ctc_teacher_include_its_base(base_dir, tmp_path):
    from speechdistill.teachers.loader import teacher_weight_dirs

    teacher = _teacher(base_dir, read_layer=2)
    save_whisper_ctc(tmp_path / "t", teacher.config, teacher.head)
    assert teacher_weight_dirs(str(tmp_path / "t")) == [tmp_path / "t", base_dir]
    assert teacher_weight_dirs(str(base_dir)) == [base_dir]
