"""The from-scratch Whisper teacher: tokenizer, features, step, shared loop, save -> plain HF reload."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from transformers import (
    AutoProcessor,
    AutoTokenizer,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
    WhisperTokenizerFast,
)

from speechdistill.data.dataset import UtteranceDataset, collate
from speechdistill.teachers.architectures import get_architecture
from speechdistill.teachers.train_whisper import (
    DEFAULT_WHISPER,
    FrontEnd,
    LabelEncoder,
    build_whisper,
    ce_step,
    log_mel,
    split_model_config,
)
from speechdistill.teachers.whisper_tokenizer import (
    DEFAULT_BPE_VOCAB_SIZE,
    EXTRA_SPECIAL_TOKENS,
    SpecialIds,
    build_whisper_tokenizer,
    tokenizer_for_run,
)
from speechdistill.text import Vocabulary
from speechdistill.train import TrainOptions, train

TINY = {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
        "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_source_positions": 100,
        "max_target_positions": 32, "bpe_vocab_size": 300}
NO_AUGMENT = {"dropout": 0.0, "apply_spec_augment": False}
TINY_TEXTS = ("turn on the lights", "set a timer", "call mom", "play some jazz", "what is the weather",
              "stop", "open the door", "add milk to the list")
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "teachers" / "whisper.yaml"


@pytest.fixture(scope="module")
def tokenizer():
    return build_whisper_tokenizer(TINY_TEXTS, 300, 32)


def _items(seconds, texts=TINY_TEXTS, seed=0):
    rng = np.random.default_rng(seed)
    return [{"id": f"u{i}", "audio": (0.1 * rng.standard_normal(int(16_000 * s))).astype(np.float32),
             "labels": [1], "text": texts[i % len(texts)]} for i, s in enumerate(seconds)]


def test_tokenizer_round_trip_and_whisper_layout(tokenizer):
    text = "add milk to the list"
    ids = tokenizer(" " + text).input_ids
    special = SpecialIds.of(tokenizer)
    assert ids[:4] == list(special.prefix) == tokenizer.prefix_tokens and ids[-1] == special.eot
    assert tokenizer.decode(ids, skip_special_tokens=True) == " " + text
    assert tokenizer.decode(tokenizer(" unseen words", add_special_tokens=False).input_ids) == " unseen words"
    # Whisper's id layout: generate and WhisperTokenizer derive ids from it.
    assert special.sot == special.eot + 1 and special.english == special.sot + 1
    assert special.no_timestamps == len(tokenizer) - 1 and special.no_speech == special.no_timestamps - 1
    assert tokenizer.convert_ids_to_tokens(list(range(special.sot, len(tokenizer)))) == list(EXTRA_SPECIAL_TOKENS)
    assert set(tokenizer.all_special_ids) == set(range(special.eot, len(tokenizer)))
    again = build_whisper_tokenizer(list(reversed(TINY_TEXTS)), 300, 32)
    assert again.get_vocab() == tokenizer.get_vocab() and again(" " + text).input_ids == ids


def test_run_tokenizer_is_saved_reused_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    first = tokenizer_for_run(tmp_path / "tok", TINY_TEXTS, 300)
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    assert tokenizer_for_run(tmp_path / "tok", TINY_TEXTS, 300).get_vocab() == first.get_vocab()
    for cls in (WhisperTokenizer, WhisperTokenizerFast, AutoTokenizer):
        assert cls.from_pretrained(tmp_path / "tok").prefix_tokens == first.prefix_tokens
    with pytest.raises(ValueError, match="other training texts"):
        tokenizer_for_run(tmp_path / "tok", TINY_TEXTS, 280)


def test_features_match_whisper_feature_extractor():
    batch = collate(_items([0.3, 1.7, 2.0, 0.01]))
    features, frames = log_mel(batch.waveforms, batch.waveform_lengths, FrontEnd(80, 2))
    audio = [it.numpy()[:n] for it, n in zip(batch.waveforms, batch.waveform_lengths.tolist())]
    reference = WhisperFeatureExtractor(feature_size=80, chunk_length=2)(
        audio, sampling_rate=16_000, return_tensors="pt", return_attention_mask=True)
    assert features.shape == reference.input_features.shape == (4, 80, 200)
    torch.testing.assert_close(features, reference.input_features, atol=2e-5, rtol=0)
    assert torch.equal(frames, reference.attention_mask.long())


def test_over_long_audio_and_transcripts_are_errors(tokenizer):
    batch = collate(_items([2.1]))
    with pytest.raises(ValueError, match="longer than the Whisper window of 2 s"):
        log_mel(batch.waveforms, batch.waveform_lengths, FrontEnd(80, 2))
    with pytest.raises(ValueError, match="max_target_positions"):
        LabelEncoder(tokenizer, SpecialIds.of(tokenizer), 8).encode(("add milk to the list",), "cpu")


def test_teacher_forcing_pairs(tokenizer):
    special = SpecialIds.of(tokenizer)
    inputs, labels = LabelEncoder(tokenizer, special, 32).encode(("stop", "call mom"), torch.device("cpu"))
    words = tokenizer(" call mom", add_special_tokens=False).input_ids
    assert inputs[1].tolist() == [*special.prefix, *words]
    assert labels[1].tolist() == [-100, -100, -100, *words, special.eot]
    stop = tokenizer(" stop", add_special_tokens=False).input_ids
    assert labels[0].tolist() == [-100, -100, -100, *stop, special.eot] + [-100] * (len(words) - len(stop))
    assert inputs[0, len(special.prefix) + len(stop):].eq(special.eot).all()


def test_model_config_keys_are_checked():
    assert split_model_config({"bpe_vocab_size": 400, "d_model": 64}) == (400, {"d_model": 64})
    assert split_model_config({})[0] == DEFAULT_BPE_VOCAB_SIZE
    with pytest.raises(ValueError, match="'hidden_dim'"):
        split_model_config({"hidden_dim": 3})
    with pytest.raises(ValueError, match="multiple of 50"):
        FrontEnd.of(WhisperConfig(max_source_positions=420))


def _ids_inside(eot):
    return {"pad_token_id": eot, "bos_token_id": eot, "eos_token_id": eot, "decoder_start_token_id": eot + 1,
            "begin_suppress_tokens": None}


def test_default_model_has_5_to_6m_parameters():
    largest_vocab = DEFAULT_BPE_VOCAB_SIZE + 1 + len(EXTRA_SPECIAL_TOKENS)
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(WhisperConfig(**DEFAULT_WHISPER, vocab_size=largest_vocab,
                                                              **_ids_inside(DEFAULT_BPE_VOCAB_SIZE)))
    assert 5_000_000 <= sum(p.numel() for p in model.parameters()) <= 6_000_000


def test_loss_falls_when_overfitting_one_batch(tokenizer):
    torch.manual_seed(0)
    model = build_whisper(tokenizer, {**{k: v for k, v in TINY.items() if k != "bpe_vocab_size"}, **NO_AUGMENT})
    front, labels = FrontEnd.of(model.config), LabelEncoder(tokenizer, SpecialIds.of(tokenizer), 32)
    batch = collate(_items([0.5, 0.8, 1.1, 0.6]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        out = ce_step(model, batch, front, labels)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.terms["ce"])
    assert losses[-1] < 0.4 * losses[0]  # 6.0 -> ~1.3 at this seed


def test_trains_in_shared_loop_and_saved_dir_transcribes(tone_utterances, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    arch, vocab = get_architecture("whisper"), Vocabulary.default()
    model = arch.build(vocab, TINY, [u.text for u in tone_utterances], tmp_path / "run")
    best = tmp_path / "run" / "best"
    options = TrainOptions(max_updates=4, lr=2e-3, warmup_updates=1, batch_seconds=4.0, eval_every=2,
                           checkpoint_every=2, log_every=1, cpu=True)
    result = train(model, UtteranceDataset(tone_utterances, vocab), arch.step,
                   arch.eval_fn(UtteranceDataset(tone_utterances[:3], vocab)), tmp_path / "run", options,
                   on_best=lambda m, metrics, state: arch.save(m, best))
    assert result.updates == 4 and np.isfinite(result.best_metric)
    assert get_architecture("whisper").build(vocab, TINY, [u.text for u in tone_utterances], tmp_path / "run")

    reloaded = WhisperForConditionalGeneration.from_pretrained(best).eval()
    processor = WhisperProcessor.from_pretrained(best)
    assert isinstance(AutoProcessor.from_pretrained(best), WhisperProcessor)
    audio = UtteranceDataset(tone_utterances[:2], vocab)[0]["audio"]
    features = processor(audio, sampling_rate=16_000, return_tensors="pt").input_features
    assert features.shape == (1, 80, 200)
    texts = processor.batch_decode(reloaded.generate(features), skip_special_tokens=True)
    assert len(texts) == 1 and isinstance(texts[0], str) and "<|" not in texts[0]
    assert arch.eval_fn(UtteranceDataset(tone_utterances[:2], vocab))(reloaded).keys() == {"wer", "cer"}


def test_recipe_model_settings_are_valid():
    recipe = yaml.safe_load(RECIPE.read_text())
    assert recipe["architecture"] == "whisper"
    _, overrides = split_model_config(recipe["model"])
    window_s = FrontEnd.of(WhisperConfig(**{**DEFAULT_WHISPER, **overrides})).window_s
    slowest = min(recipe.get("augment", {}).get("speed_factors", [1.0]))
    assert recipe["data"]["max_duration_s"] / slowest <= window_s  # speed perturbation stays inside the window
    training = pytest.importorskip("speechdistill.teachers.training")
    from speechdistill.config import load_config

    assert load_config(training.TeacherConfig, RECIPE, []).architecture == "whisper"
