import json

import pytest
import torch
import yaml
from transformers import AutoModelForCTC, AutoProcessor

from speechdistill.cli import main
from speechdistill.data.manifests import write_nemo_manifest
from speechdistill.markers import read_marker
from speechdistill.teachers.train_wav2vec2 import DEFAULT_WAV2VEC2, build_wav2vec2
from speechdistill.text import Vocabulary

from ..conftest import make_tone_utterances

TINY_MODEL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
              "conv_dim": [16] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}


def _recipe(tmp_path):
    utts = make_tone_utterances(tmp_path / "audio", n=6)
    write_nemo_manifest(tmp_path / "train.jsonl", utts)
    write_nemo_manifest(tmp_path / "dev.jsonl", utts[:2])
    recipe = {
        "architecture": "wav2vec2", "out_dir": str(tmp_path / "teacher"),
        "data": {"train": str(tmp_path / "train.jsonl"), "dev": str(tmp_path / "dev.jsonl"),
                 "test": {"test": str(tmp_path / "dev.jsonl")}},
        "model": TINY_MODEL,
        "train": {"max_updates": 3, "batch_seconds": 3.0, "eval_every": 2, "checkpoint_every": 2, "log_every": 1,
                  "warmup_updates": 1, "cpu": True},
        "save_dtype": "float16",
    }
    path = tmp_path / "teacher.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_teacher_train_cli_writes_a_standard_hf_directory(tmp_path):
    recipe = _recipe(tmp_path)
    assert main(["teacher", "train", str(recipe), "train.seed=1"]) == 0
    best = tmp_path / "teacher" / "best"
    # Plain transformers loads it like a hub checkpoint.
    model = AutoModelForCTC.from_pretrained(best)
    processor = AutoProcessor.from_pretrained(best)
    assert model.config.vocab_size == len(Vocabulary.default())
    assert next(model.parameters()).dtype == torch.float16
    assert processor.tokenizer.pad_token_id == 0
    assert processor.tokenizer.convert_tokens_to_ids("|") == Vocabulary.default().delimiter_id
    assert read_marker(best).kind == "teacher"
    card = (best / "README.md").read_text()
    kept = read_marker(best).extra["update"]
    assert f"optimiser updates behind these weights | {kept} |" in card and "| test |" in card
    resolved = yaml.safe_load((tmp_path / "teacher" / "config.resolved.yaml").read_text())
    assert resolved["train"]["seed"] == 1
    log = [json.loads(x) for x in (tmp_path / "teacher" / "log.jsonl").read_text().splitlines()]
    assert any(r["split"] == "dev" for r in log)


def test_bad_recipe_key_is_a_one_line_error(tmp_path, capsys):
    recipe = _recipe(tmp_path)
    assert main(["teacher", "train", str(recipe), "train.max_updatez=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "max_updatez" in err and "valid keys" in err and "\n" not in err


def test_unknown_wav2vec2_config_key_is_refused():
    try:
        build_wav2vec2(Vocabulary.default(), {"hidden_sise": 3})
    except ValueError as exc:
        assert "hidden_sise" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_default_teacher_is_at_least_8x_a_1m_student():
    model = build_wav2vec2(Vocabulary.default(), {})
    params = sum(p.numel() for p in model.parameters())
    assert 8e6 <= params <= 10e6, params
    assert DEFAULT_WAV2VEC2["conv_dim"][0] < 512  # slim front end


def test_overrides_may_follow_flags(tmp_path):
    recipe = _recipe(tmp_path)
    assert main(["teacher", "train", str(recipe), "--resume", "train.max_updates=2", "train.seed=3"]) == 0
    resolved = yaml.safe_load((tmp_path / "teacher" / "config.resolved.yaml").read_text())
    assert resolved["train"]["max_updates"] == 2 and resolved["train"]["seed"] == 3


def test_stray_arguments_are_still_refused(tmp_path):
    recipe = _recipe(tmp_path)
    with pytest.raises(SystemExit):
        main(["teacher", "train", str(recipe), "--resume", "not-an-override"])


def test_init_from_continues_from_a_saved_teacher(tmp_path):
    from safetensors.torch import load_file

    from speechdistill.teachers.training import init_weights

    recipe = _recipe(tmp_path)
    assert main(["teacher", "train", str(recipe)]) == 0
    best = tmp_path / "teacher" / "best"
    model = build_wav2vec2(Vocabulary.default(), TINY_MODEL)
    init_weights(model, best)
    saved = load_file(str(best / "model.safetensors"))
    key = "lm_head.weight"
    torch.testing.assert_close(model.state_dict()[key], saved[key].float())
    other = build_wav2vec2(Vocabulary.default(), {**TINY_MODEL, "hidden_size": 48})
    with pytest.raises(ValueError, match="init_from"):
        init_weights(other, best)


def test_a_continued_teacher_keeps_the_history_of_its_weights(tmp_path):
    recipe = _recipe(tmp_path)
    assert main(["teacher", "train", str(recipe)]) == 0
    first = tmp_path / "teacher" / "best"
    assert len(read_marker(first).extra["history"]) == 1
    assert main(["teacher", "train", str(recipe), f"init_from={first}", f"out_dir={tmp_path / 'more'}",
                 "train.max_updates=2"]) == 0
    second = tmp_path / "more" / "best"
    history = read_marker(second).extra["history"]
    assert [stage["updates"] for stage in history] == [3, 2]
    assert history[1]["best_update"] == read_marker(second).extra["update"]
    assert "init_from=" not in history[0]["command"] and "init_from=" in history[1]["command"]
    card = (second / "README.md").read_text()
    behind = history[0]["best_update"] + history[1]["best_update"]
    assert f"optimiser updates behind these weights | {behind} |" in card and "training runs | 2" in card
    assert f"audio seen (all runs) | {sum(s['audio_hours_seen'] for s in history):.1f} h" in card


def test_init_from_weights_without_a_history_says_so_in_the_card(tmp_path):
    recipe = _recipe(tmp_path)
    bare = tmp_path / "bare"
    build_wav2vec2(Vocabulary.default(), TINY_MODEL).save_pretrained(bare)
    assert main(["teacher", "train", str(recipe), f"init_from={bare}", "train.max_updates=2"]) == 0
    best = tmp_path / "teacher" / "best"
    first, second = read_marker(best).extra["history"]
    assert first["updates"] == 0 and "no training history recorded" in first["command"] and second["updates"] == 2
    card = (best / "README.md").read_text()
    assert f"# weights from {bare}: no training history recorded" in card and "unrecorded origin" in card
