"""whisper-lora: the LoRA wrapper, adapter save/load/merge on a tiny random Whisper, training, errors, size."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from speechdistill.config import ConfigError, load_config
from speechdistill.io import file_sha256
from speechdistill.teachers import TeacherLoadError, WhisperTeacher, load_teacher, whisper_lora
from speechdistill.teachers.lora import (
    LoRALinear,
    add_lora,
    load_lora_state_dict,
    lora_layers,
    lora_state_dict,
    merge_lora,
)
from speechdistill.teachers.train_whisper_lora import (
    LoRATrainee,
    WhisperLoRARecipe,
    build_trainee,
    make_eval_fn,
    make_step,
    transcript_labels,
)
from speechdistill.teachers.training import TeacherDataConfig, read_split, train_teacher_from_config
from speechdistill.teachers.whisper_lora import (
    DEFAULT_TARGETS,
    WEIGHTS_NAME,
    AdapterConfig,
    LoRAConfig,
    adapt,
    adapted_dir,
    adapter_bytes,
    save_adapter,
)
from speechdistill.text import Vocabulary
from speechdistill.train.loop import TrainOptions, read_log, train
from tests.distill.helpers import write_tiny_corpus

WINDOW_S = 1.5  # within the tiny base's 2 s window; the tone utterances are up to 1.2 s
LORA = LoRAConfig(rank=2, alpha=4.0, dropout=0.0)
MAX_MB = 10.0  # what the issue allows an adapter committed to git


@pytest.fixture
def base_dir(tiny_teacher_dir):
    """A tiny multilingual-style Whisper (2 s window, room for command transcripts in the decoder)."""
    return tiny_teacher_dir("whisper", max_source_positions=100, max_target_positions=64)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHDISTILL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _audio(seconds: tuple[float, ...] = (0.6, 1.1), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(16_000 * s))).astype(np.float32) for s in seconds]


# --- the wrapper ---------------------------------------------------------------------------------------------

def test_lora_linear_matches_a_hand_written_reference_and_merges_exactly():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    weight, bias = base.weight.detach().clone(), base.bias.detach().clone()
    layer = LoRALinear(base, rank=3, alpha=6.0, dropout=0.0)
    assert layer.weight is base.weight and not torch.all(layer.lora_a.weight == 0)
    x = torch.randn(4, 7, 6)
    torch.testing.assert_close(layer(x), x @ weight.T + bias, rtol=0, atol=0)  # B = 0: the base function
    nn.init.normal_(layer.lora_b.weight)
    a, b = layer.lora_a.weight.detach(), layer.lora_b.weight.detach()
    reference = x @ weight.T + bias + (6.0 / 3) * ((x @ a.T) @ b.T)
    torch.testing.assert_close(layer(x), reference, rtol=1e-5, atol=1e-5)
    model = nn.Sequential(layer)
    expected = model(x).detach()
    merge_lora(model)
    assert type(model[0]) is nn.Linear and not lora_layers(model)
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model[0].weight, weight + 2.0 * b @ a, rtol=0, atol=0)


def test_dropout_acts_on_the_adapter_path_in_training_only():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), rank=2, alpha=2.0, dropout=0.5)
    nn.init.normal_(layer.lora_b.weight)
    x = torch.randn(3, 8)
    eval_out = layer.eval()(x)
    torch.testing.assert_close(eval_out, nn.functional.linear(x, layer.weight + layer.delta_weight(), layer.bias))
    train_out = layer.train()(x)
    assert not torch.allclose(train_out, eval_out)
    # the base path is untouched by dropout: with B = 0 training and eval agree
    nn.init.zeros_(layer.lora_b.weight)
    torch.testing.assert_close(layer(x), nn.functional.linear(x, layer.weight, layer.bias))


def test_add_lora_wraps_the_matching_layers_and_freezes_the_rest(base_dir):
    from transformers import WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(base_dir)
    names = add_lora(model, DEFAULT_TARGETS, rank=2, alpha=4.0)
    # 2 encoder layers x (q, v) + 2 decoder layers x (self q, v + cross q, v)
    assert len(names) == 2 * 2 + 2 * 4 and set(names) == set(lora_layers(model))
    assert "model.decoder.layers.1.encoder_attn.v_proj" in names
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(lora_state_dict(model)) and len(trainable) == 2 * len(names)
    assert add_lora(model, ["model.encoder.layers.0.self_attn.k_proj"], 2, 4.0) == [
        "model.encoder.layers.0.self_attn.k_proj"]


def test_a_target_matching_nothing_is_an_error_naming_it(base_dir):
    from transformers import WhisperForConditionalGeneration

    model = WhisperForConditionalGeneration.from_pretrained(base_dir)
    with pytest.raises(ValueError, match=r"LoRA target 'model\.encoder\.layers\.\*\.self_attn\.qproj' matches no") as info:
        add_lora(model, ["model.encoder.layers.*.self_attn.q_proj", "model.encoder.layers.*.self_attn.qproj"], 2, 4.0)
    assert "\n" not in str(info.value)
    assert not lora_layers(model)  # nothing was wrapped before the error


def test_load_lora_state_dict_refuses_an_adapter_of_another_shape():
    model = nn.Sequential(nn.Linear(4, 4))
    add_lora(model, ["0"], rank=2, alpha=2.0)
    state = lora_state_dict(model)
    with pytest.raises(ValueError, match="missing"):
        load_lora_state_dict(model, {})
    with pytest.raises(ValueError, match="another rank"):
        load_lora_state_dict(model, {k: torch.zeros(3, 3) for k in state})


# --- adapter directories -------------------------------------------------------------------------------------

def _adapted_teacher(base_dir, seed: int = 0, window_s: float = WINDOW_S):
    """(in-memory adapted WhisperTeacher, its adapter config): random adapter weights exact in fp16."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    model = WhisperForConditionalGeneration.from_pretrained(base_dir)
    torch.manual_seed(seed)
    adapt(model, LORA)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_b.weight.normal_(0.0, 0.5)
            for weight in (layer.lora_a.weight, layer.lora_b.weight):
                weight.copy_(weight.half().float())
    config = AdapterConfig(base=str(base_dir), base_sha256=file_sha256(base_dir / "model.safetensors"),
                           window_s=window_s, lora=LORA, training={"note": "random"})
    teacher = WhisperTeacher(model, WhisperProcessor.from_pretrained(base_dir), name="mem", window_s=window_s)
    return teacher, config


def test_save_load_round_trip_gives_the_in_memory_adapted_models_nbest(base_dir, tmp_path, home):
    teacher, config = _adapted_teacher(base_dir)
    save_adapter(tmp_path / "adapter", config, teacher.model)
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == ["adapter.json", WEIGHTS_NAME,
                                                                      "speechdistill.json"]
    loaded = load_teacher(tmp_path / "adapter")
    assert isinstance(loaded, WhisperTeacher) and loaded.window_s == WINDOW_S
    assert loaded.name == str(tmp_path / "adapter")
    assert not lora_layers(loaded.model)  # merged: a plain Whisper
    audio = _audio()
    a, b = teacher(audio, nbest=3), loaded(audio, nbest=3)
    for mine, theirs in zip(a.nbest, b.nbest):
        assert [h.text for h in mine] == [h.text for h in theirs]
        torch.testing.assert_close([h.score for h in mine], [h.score for h in theirs], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close([h.posterior for h in mine], [h.posterior for h in theirs], rtol=1e-4, atol=1e-4)
    # the adapter changed the model: the base alone answers differently
    base = load_teacher(base_dir, window_s=WINDOW_S)(audio, nbest=3)
    assert [[h.score for h in n] for n in base.nbest] != [[h.score for h in n] for n in b.nbest]
    assert load_teacher(tmp_path / "adapter", window_s=2.0).window_s == 2.0  # the caller's window wins


def test_a_different_base_is_a_one_line_error_naming_the_adapter_and_the_base(base_dir, tmp_path):
    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    data = json.loads((adapter / "adapter.json").read_text())
    (adapter / "adapter.json").write_text(json.dumps({**data, "base_sha256": "0" * 64}))
    with pytest.raises(TeacherLoadError) as info:
        load_teacher(adapter)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(adapter / WEIGHTS_NAME))
    assert f"trained on {base_dir} (sha256 {'0' * 64})" in message


def test_a_missing_base_is_a_one_line_error(base_dir, tmp_path):
    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    data = json.loads((adapter / "adapter.json").read_text())
    (adapter / "adapter.json").write_text(json.dumps({**data, "base": str(tmp_path / "gone")}))
    with pytest.raises(TeacherLoadError) as info:
        load_teacher(adapter)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(adapter / WEIGHTS_NAME))
    assert f"its base {tmp_path / 'gone'} (sha256 " in str(info.value) and "is not available" in str(info.value)


def test_a_missing_adapter_file_is_a_one_line_error(base_dir, tmp_path):
    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    (adapter / WEIGHTS_NAME).unlink()
    with pytest.raises(TeacherLoadError, match=f"{WEIGHTS_NAME}: missing; this adapter directory is incomplete"):
        load_teacher(adapter)


def test_the_merged_dir_is_made_once_and_a_partial_one_is_never_used(base_dir, tmp_path, home, monkeypatch):
    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    out = adapted_dir(adapter)
    assert out.parent == home / "adapted" and out.name == f"adapter-{file_sha256(adapter / WEIGHTS_NAME)[:12]}"
    leftover = out.parent / f".{out.name}.abc123.partial"  # what a killed merge leaves
    leftover.mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"half")
    merges = []
    original = whisper_lora._write_merged

    def failing(directory, target):
        (target / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(whisper_lora, "_write_merged", failing)
    with pytest.raises(KeyboardInterrupt):
        whisper_lora.materialise_adapter(adapter)
    assert not out.exists() and not list(out.parent.glob("*.partial"))  # the failed merge left nothing behind

    def counted(directory, target):
        merges.append(target)
        original(directory, target)

    monkeypatch.setattr(whisper_lora, "_write_merged", counted)
    leftover.mkdir()
    assert whisper_lora.materialise_adapter(adapter) == out
    assert not leftover.exists() and (out / "model.safetensors").stat().st_size > 100
    load_teacher(adapter)
    assert len(merges) == 1  # the second load reused the directory
    marker = json.loads((out / "speechdistill.json").read_text())
    assert marker["kind"] == "teacher" and marker["extra"]["adapter_sha256"] == file_sha256(adapter / WEIGHTS_NAME)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, out.name + ".lock"])


def test_adapter_size_is_recorded_and_tiny_and_whisper_base_fits_in_10_mb(base_dir, tmp_path):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    marker = json.loads((adapter / "speechdistill.json").read_text())
    assert marker["extra"]["adapter_bytes"] == adapter_bytes(adapter) == (adapter / WEIGHTS_NAME).stat().st_size
    entries = sum(p.numel() for p in lora_state_dict(teacher.model).values())
    assert adapter_bytes(adapter) < 2 * entries + 4096  # fp16 values plus the safetensors header
    # whisper-base's shape (on the meta device: no memory), the recipe's rank 8 on the default targets
    shape = dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                 decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, vocab_size=51865)
    with torch.device("meta"):
        base = WhisperForConditionalGeneration(WhisperConfig(**shape))
    adapt(base, LoRAConfig())
    params = sum(p.numel() for p in lora_state_dict(base).values())
    assert params == 36 * 2 * 8 * 512  # 36 layers x (A + B) x rank x width
    assert 2 * params / 1e6 < 0.1 * MAX_MB  # ~0.59 MB in fp16


def test_weight_dirs_of_an_adapter_are_it_and_its_base(base_dir, tmp_path):
    from speechdistill.teachers.loader import teacher_weight_dirs

    teacher, config = _adapted_teacher(base_dir)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    assert teacher_weight_dirs(str(adapter)) == [adapter, base_dir]


def test_the_ctranslate2_backend_decodes_the_merged_model(tmp_path, home):
    pytest.importorskip("ctranslate2", reason="the CTranslate2 backend needs ctranslate2")
    from speechdistill.inference.whisper import WhisperRecognizer
    from tests.teachers.tiny_ct2 import save_tiny_hf_whisper

    base = save_tiny_hf_whisper(tmp_path / "en_base")  # English-only: the prompt has no language token
    teacher, config = _adapted_teacher(base, window_s=1.0)
    adapter = save_adapter(tmp_path / "adapter", config, teacher.model)
    torch_teacher = load_teacher(adapter)
    ct2_teacher = load_teacher(adapter, backend="ctranslate2", compute_type="float32")
    assert ct2_teacher.decoder.directory.parent == home / "ct2"
    assert ct2_teacher.decoder.directory.name.startswith(adapted_dir(adapter).name)
    audio = _audio((0.6, 0.9))
    greedy = [WhisperRecognizer(t).transcribe_waveforms(audio) for t in (torch_teacher, ct2_teacher)]
    assert greedy[0] == greedy[1]


# --- training ------------------------------------------------------------------------------------------------

def _recipe(base_dir, corpus, out_dir, **train) -> WhisperLoRARecipe:
    data = TeacherDataConfig(train=str(corpus["train"]), dev=str(corpus["dev"]), test={"test": str(corpus["test"])},
                             max_duration_s=WINDOW_S)
    options = TrainOptions(**{"max_updates": 2, "batch_seconds": 3.0, "eval_every": 2, "checkpoint_every": 2,
                              "log_every": 1, "warmup_updates": 1, "lr": 1e-2, **train})
    return WhisperLoRARecipe(architecture="whisper-lora", out_dir=str(out_dir), data=data, base=str(base_dir),
                             window_s=WINDOW_S, lora=LORA, train=options)


def test_labels_score_the_transcript_and_eos_after_the_teachers_prompt(base_dir):
    trainee, processor, _ = build_trainee(_recipe(base_dir, {"train": "t", "dev": "d", "test": "x"}, "out"))
    labels = transcript_labels(trainee.model, processor.tokenizer, "en")
    teacher = load_teacher(base_dir)
    assert list(labels.prompt) == teacher.prompt and len(labels.prompt) == 4
    inputs, targets = labels.encode(["the cat", "on"], torch.device("cpu"))
    tokens = processor.tokenizer([" the cat"], add_special_tokens=False).input_ids[0]
    assert inputs[0].tolist() == [*labels.prompt, *tokens]
    assert targets[0].tolist() == [-100] * 3 + [*tokens, labels.eot]
    short = processor.tokenizer([" on"], add_special_tokens=False).input_ids[0]
    assert targets[1].tolist() == [-100] * 3 + [*short, labels.eot] + [-100] * (len(tokens) - len(short))
    assert inputs[1, 4 + len(short):].tolist() == [labels.eot] * (len(tokens) - len(short))  # padding


def test_two_updates_change_only_the_lora_weights(base_dir, tmp_path):
    corpus = write_tiny_corpus(tmp_path / "corpus")
    recipe = _recipe(base_dir, corpus, tmp_path / "run")
    trainee, processor, _ = build_trainee(recipe)
    before = {k: v.detach().clone() for k, v in trainee.model.state_dict().items()}
    vocab = Vocabulary.default()
    from speechdistill.data.dataset import UtteranceDataset
    from speechdistill.data.errors import SkipReport

    report = SkipReport("raise")
    train_set = UtteranceDataset(read_split(recipe.data.train, recipe.data, report, vocab), vocab)
    dev_set = UtteranceDataset(read_split(recipe.data.dev, recipe.data, report, vocab), vocab)
    labels = transcript_labels(trainee.model, processor.tokenizer, "en")
    window = int(WINDOW_S * 16_000)
    result = train(trainee, train_set, make_step(processor, labels, window),
                   make_eval_fn(dev_set, processor, labels.prompt, window), tmp_path / "run", recipe.train)
    assert result.updates == 2
    after = trainee.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".lora_a." in k or ".lora_b." in k for k in changed)
    assert {k for k in changed if ".lora_b." in k} == {k for k in before if ".lora_b." in k}  # B left zero
    # the loop's checkpoint holds the adapter alone and resumes into it
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "run" / "checkpoints" / "last" / "model.safetensors"))
    assert set(saved) == set(lora_state_dict(trainee.model))
    fresh, _, _ = build_trainee(recipe)
    fresh.load_state_dict(saved)
    assert all(torch.equal(v, lora_state_dict(trainee.model)[k]) for k, v in lora_state_dict(fresh.model).items())


def test_the_recipe_trains_saves_scores_and_resumes(base_dir, tmp_path, home):
    corpus = write_tiny_corpus(tmp_path / "corpus")
    recipe = {"architecture": "whisper-lora", "out_dir": str(tmp_path / "run"), "base": str(base_dir),
              "window_s": WINDOW_S, "lora": {"rank": 2, "alpha": 4.0, "dropout": 0.05},
              "data": {"train": str(corpus["train"]), "dev": str(corpus["dev"]), "test": {"test": str(corpus["test"])},
                       "max_duration_s": WINDOW_S, "dev_max_utterances": 2},
              "augment": {"enabled": True, "speed_factors": [1.0], "noise_prob": 0.5},
              "train": {"max_updates": 2, "eval_every": 1, "checkpoint_every": 1, "log_every": 1,
                        "batch_seconds": 3.0, "warmup_updates": 1, "lr": 0.01}}
    path = tmp_path / "whisper_finetune.yaml"
    path.write_text(yaml.safe_dump(recipe))
    best = train_teacher_from_config(path, [])
    assert best == tmp_path / "run" / "best"
    config = whisper_lora.read_adapter_config(best)
    assert config.window_s == WINDOW_S and config.lora.rank == 2 and config.base == str(base_dir)
    assert set(config.training["wer"]) == set(config.training["base_wer"]) == {"dev", "test"}
    assert config.training["history"][0]["updates"] == 2 and config.training["best_update"] in (1, 2)
    card = (best / "README.md").read_text()
    assert "| split | base (zero-shot) | adapted | change (points) |" in card and "| test |" in card
    assert "sha256" in card and "MB: rank 2" in card and "Robustness not checked" in card
    marker = json.loads((best / "speechdistill.json").read_text())
    assert marker["kind"] == "teacher" and marker["extra"]["architecture"] == "whisper-lora"
    assert marker["extra"]["adapter_bytes"] == adapter_bytes(best) < 0.1 * MAX_MB * 1e6
    log = read_log(tmp_path / "run")
    assert [r["update"] for r in log if r["split"] == "train"] == [1, 2] and "ce" in log[0]
    assert [r["update"] for r in log if r["split"] == "dev"] == [1, 2]
    assert isinstance(load_teacher(best), WhisperTeacher)
    # --resume continues after the last checkpoint
    assert train_teacher_from_config(path, ["train.max_updates=3"], resume=True) == best
    assert [r["update"] for r in read_log(tmp_path / "run") if r["split"] == "train"] == [1, 2, 3]


def test_lora_trainee_state_dict_is_the_adapter(base_dir):
    trainee, _, _ = build_trainee(_recipe(base_dir, {"train": "t", "dev": "d", "test": "x"}, "out"))
    assert isinstance(trainee, LoRATrainee) and set(trainee.state_dict()) == set(lora_state_dict(trainee.model))
    assert trainee.model.config.max_source_positions == math.ceil(WINDOW_S * 50)


def test_the_recipe_yaml_is_valid_and_a_window_too_short_is_refused():
    recipe = load_config(WhisperLoRARecipe, "recipes/teachers/whisper_finetune.yaml")
    assert recipe.base == "whisper-base" and recipe.window_s == 8.0 and recipe.lora == LoRAConfig()
    assert recipe.lora.rank == 8 and recipe.lora.alpha == 16 and recipe.train.max_wall_minutes
    assert set(recipe.data.test) == {"test", "test_noisy", "test_unseen_voices", "test_unseen_engine"}
    with pytest.raises(ConfigError, match="does not fit the 4 s window") as info:
        load_config(WhisperLoRARecipe, "recipes/teachers/whisper_finetune.yaml", ["window_s=4"])
    assert "\n" not in str(info.value)
