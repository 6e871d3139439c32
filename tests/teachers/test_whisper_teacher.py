"""Whisper teachers loaded from tiny saved checkpoints: encoder outputs, window policy, N-best posteriors."""

import math

import numpy as np
import pytest
import torch

from speechdistill.data.errors import DataError
from speechdistill.decode import merge_nbest
from speechdistill.teachers import load_teacher
from speechdistill.teachers.whisper import spoken_text
from speechdistill.text import normalize_text


def _audio(seconds, rate: int = 16_000, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(s * rate))).astype(np.float32) for s in seconds]


def test_encoder_outputs_trimmed_to_the_audio(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("whisper"))  # 1 s window
    out = teacher(_audio((0.7, 0.3)), hidden_layers=(0, -1), attentions=True)
    assert out.lengths.tolist() == [35, 15]  # ceil(samples / 320)
    assert out.frame_period_ms == 20.0 and out.log_probs is None and out.nbest is None
    assert out.labels == teacher.labels and len(out.labels) == teacher.model.config.vocab_size
    assert sorted(out.hidden_states) == [0, 2]
    for hidden in out.hidden_states.values():
        assert hidden.shape == (2, 35, 16)
        assert (hidden[1, 15:] == 0).all() and hidden[1, :15].abs().sum() > 0
    assert len(out.attentions) == 2 and all(a.shape == (2, 2, 35, 35) for a in out.attentions)
    plain = teacher(_audio((0.7, 0.3)))
    assert plain.hidden_states == {} and plain.attentions is None


def test_audio_longer_than_the_window_is_refused(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("whisper"))
    assert teacher.window_s == 1.0
    with pytest.raises(DataError, match=r"waveform 1: 1\.2 s is longer than this Whisper teacher's 1 s window"):
        teacher(_audio((0.5, 1.2)))


def test_hub_sized_window_pads_features_to_30_seconds(tiny_teacher_dir, monkeypatch):
    teacher = load_teacher(tiny_teacher_dir("whisper", max_source_positions=1500))
    assert teacher.window_s == 30.0
    shapes, encode = [], teacher.model.model.encoder.forward
    monkeypatch.setattr(teacher.model.model.encoder, "forward",
                        lambda features, **kw: shapes.append(features.shape) or encode(features, **kw))
    out = teacher(_audio((2.0, 0.5)), hidden_layers=(1,))
    assert shapes == [(2, 16, 3000)]
    assert out.lengths.tolist() == [100, 25] and out.hidden_states[1].shape == (2, 100, 16)
    with pytest.raises(DataError, match="30 s window"):
        teacher(_audio((30.5,)))


def test_resamples_8khz_input(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("whisper"))
    out = teacher(_audio((0.5, 0.25), rate=8_000), sample_rate=8_000)
    assert out.lengths.tolist() == [25, 13]


def _teacher_forced_score(teacher, features: torch.Tensor, tokens: tuple[int, ...]) -> float:
    """Summed log-probability of ``tokens`` (plus EOS if the beam stopped early) by one forward pass."""
    eos = teacher.model.generation_config.eos_token_id
    room = teacher.model.config.max_target_positions - len(teacher.prompt)
    target = list(tokens) + ([eos] if len(tokens) < room else [])
    sequence = torch.tensor([teacher.prompt + target])
    with torch.no_grad():
        logits = teacher.model(input_features=features, decoder_input_ids=sequence[:, :-1]).logits
    log_probs = logits.log_softmax(-1)[0, len(teacher.prompt) - 1:]
    return float(log_probs.gather(-1, torch.tensor(target)[:, None]).sum())


def test_nbest_posteriors_come_from_summed_token_log_probs(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("whisper"), nbest=3)
    audio = _audio((0.8,), seed=3)
    out = teacher(audio)
    [nbest] = out.nbest
    texts = [h.text for h in nbest]
    assert len(nbest) == 3 and len(set(texts)) == 3
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)
    features = teacher.processor.feature_extractor(audio, sampling_rate=16_000, padding="max_length",
                                                   max_length=teacher.window_samples, return_tensors="pt").input_features
    [candidates] = teacher.candidates(audio, beams=teacher.beam_size)
    assert len(candidates) == teacher.beam_size and len({c[2] for c in candidates}) == len(candidates)
    by_hand = [(text, _teacher_forced_score(teacher, features, tokens), tokens) for text, _, tokens in candidates]
    for (_, score, _), (_, expected, _) in zip(candidates, by_hand):
        assert score == pytest.approx(expected, abs=1e-4)
    expected_nbest = merge_nbest(by_hand, 3)
    assert texts == [h.text for h in expected_nbest]
    assert [h.posterior for h in nbest] == pytest.approx([h.posterior for h in expected_nbest], abs=1e-4)
    assert math.isclose(sum(h.posterior for h in nbest), 1.0, rel_tol=1e-9)
    # sequences_scores divide by the length; the posteriors above must not
    per_token = torch.tensor([h.score / len(h.tokens) for h in nbest]).softmax(0)
    assert not torch.allclose(per_token, torch.tensor([h.posterior for h in nbest]), atol=1e-3)


def test_transcripts_come_out_in_spoken_form(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("whisper"))
    tokenizer = teacher.processor.tokenizer
    ids = tokenizer.convert_tokens_to_ids(["Ġ", "Dr", ".", "Ġ", "5", ":", "3", "0", "Ġ", "5", "0", "%"])
    assert tokenizer.decode(ids) == " Dr. 5:30 50%"
    assert spoken_text(tokenizer, ids) == "doctor five thirty fifty percent"
    out = teacher(_audio((0.6,)), nbest=2)
    assert all(h.text == normalize_text(h.text) for h in out.nbest[0])
