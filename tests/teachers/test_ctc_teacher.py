"""CTC teachers (wav2vec2, HuBERT, WavLM, Data2Vec-audio) loaded from tiny saved checkpoints."""

import numpy as np
import pytest
import torch

from speechdistill.data.audio import resample
from speechdistill.decode import merge_nbest
from speechdistill.teachers import LOG_ZERO, build_vocab_bridge, load_teacher
from speechdistill.text import Vocabulary, normalize_text
from tests.teachers.tiny_models import CTC_FAMILIES, UPPER_CASE_LABELS

SECONDS = (1.0, 0.5)


def _audio(seconds=SECONDS, rate: int = 16_000, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(s * rate))).astype(np.float32) for s in seconds]


def _spy(monkeypatch, model) -> list[dict]:
    """Record the keyword arguments of every forward call."""
    calls, forward = [], model.forward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    return calls


@pytest.mark.parametrize("family", CTC_FAMILIES)
def test_log_probs_lengths_and_padding(tiny_teacher_dir, family):
    teacher = load_teacher(tiny_teacher_dir(family))
    out = teacher(_audio())
    expected = teacher.model._get_feat_extract_output_lengths(torch.tensor([16_000, 8_000]))
    assert out.lengths.tolist() == expected.tolist() == [49, 24]
    assert out.log_probs.shape == (2, 49, 32) and out.log_probs.dtype == torch.float32
    assert out.labels == teacher.labels == Vocabulary.default().labels
    assert out.frame_period_ms == 20.0
    real = out.frame_mask
    assert real.sum(1).tolist() == [49, 24]
    assert torch.allclose(out.log_probs.logsumexp(-1)[real], torch.zeros(int(real.sum())), atol=1e-5)
    padded = out.log_probs[1, 24:]
    assert (padded[:, 0] == 0).all() and (padded[:, 1:] == LOG_ZERO).all()
    assert out.hidden_states == {} and out.attentions is None and out.nbest is None


def test_only_requested_layers_and_attentions(tiny_teacher_dir, monkeypatch):
    teacher = load_teacher(tiny_teacher_dir("wav2vec2"))
    calls = _spy(monkeypatch, teacher.model)
    plain = teacher(_audio())
    assert calls[-1]["output_hidden_states"] is False and calls[-1]["output_attentions"] is False
    assert plain.hidden_states == {} and plain.attentions is None
    out = teacher(_audio(), hidden_layers=(0, -1, 2), attentions=True)
    assert calls[-1]["output_hidden_states"] is True and calls[-1]["output_attentions"] is True
    assert sorted(out.hidden_states) == [0, 2]
    for hidden in out.hidden_states.values():
        assert hidden.shape == (2, 49, 16)
        assert (hidden[1, 24:] == 0).all() and hidden[1, :24].abs().sum() > 0
    assert len(out.attentions) == 2 and all(a.shape == (2, 2, 49, 49) for a in out.attentions)
    assert teacher.model.config._attn_implementation != "eager"  # eager only while maps were wanted
    with pytest.raises(ValueError, match="layers 0..2"):
        teacher(_audio(), hidden_layers=(3,))


def test_padded_items_match_items_run_alone(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("wav2vec2"))
    audio = _audio()
    batch = teacher(audio, hidden_layers=(2,))
    alone = teacher(audio[1:], hidden_layers=(2,))
    assert torch.allclose(batch.log_probs[1, :24], alone.log_probs[0], atol=1e-4)
    assert torch.allclose(batch.hidden_states[2][1, :24], alone.hidden_states[2][0], atol=1e-4)


def test_group_norm_teacher_gets_no_attention_mask(tiny_teacher_dir, monkeypatch):
    teacher = load_teacher(tiny_teacher_dir("wav2vec2", feat_extract_norm="group"))
    calls = _spy(monkeypatch, teacher.model)
    out = teacher(_audio())
    assert calls[-1]["attention_mask"] is None  # like wav2vec2-base: zero padding only
    assert out.lengths.tolist() == [49, 24]


def test_padded_tensor_input_and_resampling(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("hubert"))
    audio = _audio()
    reference = teacher(audio)
    padded = torch.zeros(2, 16_000)
    padded[0], padded[1, :8_000] = torch.from_numpy(audio[0]), torch.from_numpy(audio[1])
    from_tensor = teacher(padded, torch.tensor([16_000, 8_000]))
    assert torch.allclose(from_tensor.log_probs, reference.log_probs, atol=1e-5)
    low = _audio(rate=8_000, seed=1)
    at_8k = teacher(low, sample_rate=8_000)
    at_16k = teacher([resample(a, 8_000, 16_000) for a in low])
    assert at_8k.lengths.tolist() == [49, 24]
    assert torch.allclose(at_8k.log_probs, at_16k.log_probs, atol=1e-5)


def test_nbest_distinct_sorted_with_posteriors(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("wavlm"), nbest=3)
    out = teacher(_audio())
    assert len(out.nbest) == 2
    for item, nbest in enumerate(out.nbest):
        texts = [h.text for h in nbest]
        assert 1 <= len(nbest) <= 3 and len(set(texts)) == len(texts)
        assert all(t == normalize_text(t) for t in texts)
        scores = torch.tensor([h.score for h in nbest], dtype=torch.float64)
        assert (scores[:-1] >= scores[1:]).all()
        assert torch.allclose(torch.tensor([h.posterior for h in nbest], dtype=torch.float64), scores.softmax(0))
        raw = teacher.beam_decoder.candidates(out.log_probs[item:item + 1], out.lengths[item:item + 1])[0]
        assert list(nbest) == merge_nbest(((normalize_text(t), s, tok) for t, s, tok in raw), 3)
    assert teacher(_audio(), nbest=0).nbest is None
    assert len(teacher(_audio(), nbest=1).nbest[0]) == 1


def test_outputs_can_feed_a_loss_with_gradients(tiny_teacher_dir):
    out = load_teacher(tiny_teacher_dir("data2vec-audio"))(_audio(), hidden_layers=(1,))
    student = torch.zeros_like(out.log_probs, requires_grad=True)
    loss = (out.log_probs.exp() * (out.log_probs - student.log_softmax(-1))).sum() + (out.hidden_states[1] * student[..., :16]).sum()
    loss.backward()  # inference-mode tensors would refuse to be saved for backward
    assert student.grad is not None


def test_upper_case_teacher_bridges_to_the_default_student(tiny_teacher_dir):
    teacher = load_teacher(tiny_teacher_dir("wav2vec2", labels=UPPER_CASE_LABELS), nbest=2)
    out = teacher(_audio())
    student = Vocabulary.default()
    bridge = build_vocab_bridge(teacher.labels, student)
    mapped = bridge.map_log_probs(out.log_probs)
    assert mapped.shape == (2, 49, len(student))
    assert torch.allclose(mapped.logsumexp(-1), torch.zeros(2, 49), atol=1e-5)
    for letter in "etaz":
        assert torch.allclose(mapped[..., student.index[letter]], out.log_probs[..., teacher.labels.index(letter.upper())])
    assert all(h.text == h.text.lower() for nbest in out.nbest for h in nbest)
