import math

import pytest
import torch

from speechdistill.data.dataset import UtteranceDataset
from speechdistill.teachers.train_wav2vec2 import build_wav2vec2, ctc_step, make_eval_fn
from speechdistill.text import Vocabulary
from speechdistill.train import TrainOptions, train
from speechdistill.train.loop import read_log

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "conv_dim": [16, 16, 16, 16, 16, 16, 16], "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}


def _setup(utterances, seed=0):
    torch.manual_seed(seed)
    vocab = Vocabulary.default()
    model = build_wav2vec2(vocab, TINY)
    data = UtteranceDataset(utterances, vocab, seed=seed)
    return vocab, model, data


def _options(**kw):
    base = dict(max_updates=6, lr=1e-3, warmup_updates=2, batch_seconds=2.5, eval_every=3, checkpoint_every=3,
                log_every=1, seed=0, cpu=True)
    return TrainOptions(**{**base, **kw})


def test_loop_trains_logs_and_keeps_best(tone_utterances, tmp_path):
    vocab, model, data = _setup(tone_utterances)
    best = []
    result = train(model, data, ctc_step, make_eval_fn(UtteranceDataset(tone_utterances[:3], vocab), vocab),
                   tmp_path / "run", _options(), on_best=lambda m, metrics, state: best.append(state["update"]))
    assert result.updates == 6
    assert result.audio_hours_seen > 0
    log = read_log(tmp_path / "run")
    train_rows = [r for r in log if r["split"] == "train"]
    assert [r["update"] for r in train_rows] == [1, 2, 3, 4, 5, 6]
    assert all("ctc" in r and "lr" in r for r in train_rows)
    assert [r["update"] for r in log if r["split"] == "dev"] == [3, 6]
    assert best and best[0] == 3
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()


class _Crash(RuntimeError):
    pass


def test_resume_after_crash_matches_uninterrupted_run(tone_utterances, tmp_path):
    vocab, model, data = _setup(tone_utterances)
    eval_fn = make_eval_fn(UtteranceDataset(tone_utterances[:2], vocab), vocab)
    train(model, data, ctc_step, eval_fn, tmp_path / "a", _options())
    reference = {k: v.clone() for k, v in model.state_dict().items()}

    calls = {"n": 0}

    def crashing_step(m, batch):
        calls["n"] += 1
        if calls["n"] == 5:  # after the update-3 checkpoint, before update 6
            raise _Crash
        return ctc_step(m, batch)

    _, model_b, data_b = _setup(tone_utterances)
    with pytest.raises(_Crash):
        train(model_b, data_b, crashing_step, eval_fn, tmp_path / "b", _options())
    _, model_c, data_c = _setup(tone_utterances, seed=123)  # fresh weights: all state must come from the checkpoint
    result = train(model_c, data_c, ctc_step, eval_fn, tmp_path / "b", _options(), resume=True)
    assert result.updates == 6
    for key, value in model_c.state_dict().items():
        torch.testing.assert_close(value, reference[key], msg=key)


def test_gradient_accumulation_counts_updates_not_batches(tone_utterances, tmp_path):
    vocab, model, data = _setup(tone_utterances)
    eval_fn = make_eval_fn(UtteranceDataset(tone_utterances[:2], vocab), vocab)
    result = train(model, data, ctc_step, eval_fn, tmp_path / "acc", _options(max_updates=2, grad_accum=2))
    assert result.updates == 2


def test_schedule_follows_time_when_it_is_further_along_than_updates():
    from speechdistill.train.schedule import warmup_cosine

    def lr_after(time_used: float, update: int) -> float:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        scheduler = warmup_cosine(optimizer, warmup_updates=0, total_updates=100, time_fraction=lambda: time_used)
        for _ in range(update):
            optimizer.step()
            scheduler.step()
        return scheduler.get_last_lr()[0]

    assert lr_after(0.0, 10) == pytest.approx(0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 0.10)))  # updates lead
    assert lr_after(0.5, 10) == pytest.approx(0.05 + 0.95 * 0.5)  # half the time box gone: mid-cosine
    assert lr_after(1.0, 10) == pytest.approx(0.05)  # the box is over: the final learning rate


def test_decay_over_wall_ends_the_schedule_with_the_time_box(tone_utterances, tmp_path):
    vocab, model, data = _setup(tone_utterances)
    options = _options(warmup_updates=0, max_wall_minutes=1e-9, decay_over_wall=True)
    result = train(model, data, ctc_step, make_eval_fn(UtteranceDataset(tone_utterances[:2], vocab), vocab),
                   tmp_path / "run", options)
    assert result.stopped_early and result.updates == 1
    first = next(r for r in read_log(tmp_path / "run") if r["split"] == "train")
    assert first["lr"] == pytest.approx(1e-3 * 0.05)  # the whole (tiny) box was used by the first update
    with pytest.raises(ValueError, match="decay_over_wall needs max_wall_minutes"):
        _options(decay_over_wall=True)
