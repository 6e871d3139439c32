"""Cached teacher outputs equal the live teacher's (within fp16) and come back as a normal TeacherOutput."""

import json

import pytest
import torch

from speechdistill.cache import CachedTeacherSource, CacheError, build_cache, open_cache
from speechdistill.cache.encode import orthogonal_projection
from speechdistill.data.dataset import UtteranceDataset, collate
from speechdistill.distill.sources import TeacherRequest
from speechdistill.losses.frame_kl import pool_probs
from speechdistill.teachers import LOG_ZERO, load_teacher
from speechdistill.text import Vocabulary
from tests.cache.conftest import live_items

FP16_ATOL = 2e-3  # fp16 rounding of values of magnitude < 4


def assert_same_argmax(cached: torch.Tensor, live: torch.Tensor) -> None:
    """The argmax path is the live one, except where the live best labels are within fp16 rounding (ties)."""
    best = live.gather(-1, cached.argmax(-1, keepdim=True))[:, 0]
    assert (best >= live.max(-1).values - FP16_ATOL).all()


@pytest.fixture(scope="module")
def ctc_cache(ctc_config):
    config = ctc_config()
    result = build_cache(config)
    assert result.complete and result.written == (0, 1, 2) and result.reused == ()
    return config, open_cache(config.out_dir)


def test_layout_and_metadata(ctc_cache):
    config, cache = ctc_cache
    out = cache.directory
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cache.json", "index.json", "shards", "speechdistill.json"]
    assert json.loads((out / "speechdistill.json").read_text())["kind"] == "cache"
    assert sorted(p.name for p in (out / "shards").iterdir()) == [f"shard-0000{i}.safetensors" for i in range(3)]
    meta = json.loads((out / "cache.json").read_text())
    assert meta["complete"] and meta["utterances"] == 6 and meta["outputs"]["hidden_layers"] == [0, 2]
    assert cache.hidden_dim == 16 and cache.frame_period_ms == 20.0
    assert meta["vocab_map"]["index"] == list(range(32))  # the tiny teacher speaks the default vocabulary
    per_hour = meta["disk"]["bytes_per_audio_hour"]
    assert set(per_hour) == {"log_probs", "nbest", "hidden", "attentions", "overhead", "total"}
    assert all(v > 0 for v in per_hour.values())
    assert cache.vocab_bridge().student == Vocabulary.default()


def test_log_probs_match_live_teacher(ctc_cache, cache_corpus):
    config, cache = ctc_cache
    utterances, _ = cache_corpus
    teacher = load_teacher(config.teacher)
    out = cache.outputs([u.id for u in utterances])
    assert out.hidden_states == {} and out.attentions is None and out.nbest is None  # only what was asked
    assert out.log_probs.shape[-1] == 32 and out.frame_period_ms == 20.0
    for row, live in enumerate(live_items(teacher, utterances)):
        frames = int(live.lengths[0])
        assert int(out.lengths[row]) == frames
        cached, ref = out.log_probs[row, :frames], live.log_probs[0]
        assert torch.allclose(cached.logsumexp(-1), torch.zeros(frames), atol=1e-5)  # mass 1 per frame
        top = ref.topk(4, -1)
        assert torch.allclose(cached.gather(-1, top.indices), top.values, atol=FP16_ATOL)
        assert_same_argmax(cached, ref)
        padded = out.log_probs[row, frames:]
        assert (padded[:, 0] == 0).all() and (padded[:, 1:] == LOG_ZERO).all()


def test_hidden_attention_and_nbest_match_live_teacher(ctc_cache, cache_corpus):
    config, cache = ctc_cache
    utterances, _ = cache_corpus
    teacher = load_teacher(config.teacher)
    request = TeacherRequest(hidden_layers=(0, -1), attentions=True, nbest=2)
    out = cache.outputs([u.id for u in utterances], request)
    assert sorted(out.hidden_states) == [0, 2] and len(out.attentions) == 2
    lives = live_items(teacher, utterances, hidden_layers=(0, 2), attentions=True, nbest=2)
    for row, live in enumerate(lives):
        frames = int(live.lengths[0])
        for layer in (0, 2):
            hidden = out.hidden_states[layer][row]
            assert torch.allclose(hidden[:frames], live.hidden_states[layer][0], atol=FP16_ATOL, rtol=1e-3)
            assert (hidden[frames:] == 0).all()
        for cached, ref in zip(out.attentions, live.attentions):
            assert torch.allclose(cached[row, :, :frames, :frames], ref[0], atol=1e-3)
        assert out.nbest[row] == live.nbest[0]  # text, score, posterior and tokens, exactly


def test_smaller_nbest_request_renormalises(ctc_cache, cache_corpus):
    _, cache = ctc_cache
    utterances, _ = cache_corpus
    out = cache.outputs([utterances[0].id], TeacherRequest(nbest=1, log_probs=False))
    assert out.log_probs is None and len(out.nbest[0]) == 1 and out.nbest[0][0].posterior == 1.0


def test_source_serves_batches_and_refuses_what_the_cache_lacks(ctc_cache, cache_corpus):
    config, cache = ctc_cache
    utterances, _ = cache_corpus
    batch = collate([UtteranceDataset(utterances, Vocabulary.default())[i] for i in (4, 1)])
    source = CachedTeacherSource({"w2v": config.out_dir}, {"w2v": TeacherRequest(hidden_layers=(2,))})
    assert source.names == ("w2v",)
    out = source.outputs(batch)["w2v"]
    alone = cache.outputs([utterances[4].id, utterances[1].id], TeacherRequest(hidden_layers=(2,)))
    assert torch.equal(out.log_probs, alone.log_probs) and torch.equal(out.hidden_states[2], alone.hidden_states[2])
    with pytest.raises(CacheError, match=r"lacks hidden layers \[1\] \(cached: \[0, 2\]\); 3-best"):
        CachedTeacherSource({"w2v": config.out_dir}, {"w2v": TeacherRequest(hidden_layers=(1,), nbest=3)})


def test_missing_utterance_is_a_clear_error(ctc_cache, cache_corpus):
    _, cache = ctc_cache
    utterances, _ = cache_corpus
    with pytest.raises(CacheError, match=r"1 utterance\(s\) missing .*not in the manifest .*6 utterances\): 'nope'"):
        cache.outputs([utterances[0].id, "nope"])


def test_projection_and_time_pooling(ctc_config, cache_corpus):
    config = ctc_config(time_pool=2, feature_dim=8, hidden_layers=(2,), attentions=False, nbest=0)
    assert build_cache(config).complete
    cache = open_cache(config.out_dir)
    utterances, _ = cache_corpus
    out = cache.outputs([u.id for u in utterances], TeacherRequest(hidden_layers=(2,)))
    assert out.frame_period_ms == 40.0 and out.hidden_states[2].shape[-1] == 8
    projection = orthogonal_projection(16, 8, seed=0)
    for row, live in enumerate(live_items(load_teacher(config.teacher), utterances, hidden_layers=(2,))):
        frames = int(live.lengths[0])
        pooled = -(-frames // 2)
        assert int(out.lengths[row]) == pooled
        hidden = live.hidden_states[2][0] @ projection
        ref = torch.stack([hidden[i:i + 2].mean(0) for i in range(0, frames, 2)])
        assert torch.allclose(out.hidden_states[2][row, :pooled], ref, atol=FP16_ATOL)
        probs, _ = pool_probs(live.log_probs.exp(), live.lengths, 2)
        top = probs[0].topk(4, -1)
        assert torch.allclose(out.log_probs[row, :pooled].exp().gather(-1, top.indices), top.values, atol=1e-4)
        assert_same_argmax(out.log_probs[row, :pooled], probs[0].log())


def test_whisper_cache_holds_encoder_states_and_nbest(tiny_teacher_dir, ctc_config, cache_corpus):
    # The tiny Whisper's window is 1 s: longer utterances are skipped (on_error: skip) and named on request.
    config = ctc_config(teacher=str(tiny_teacher_dir("whisper")), nbest=2, hidden_layers=(1,), attentions=False,
                        on_error="skip")
    result = build_cache(config)
    cache = open_cache(config.out_dir)
    utterances, _ = cache_corpus
    kept = [u for u in utterances if u.duration_s <= 1.0]
    assert result.complete and 0 < len(kept) < len(utterances) and set(cache.ids) == {u.id for u in kept}
    out = cache.outputs([u.id for u in kept], TeacherRequest(hidden_layers=(1,), nbest=2))
    assert out.log_probs is None and cache.vocab_bridge() is None
    lives = live_items(load_teacher(config.teacher), kept, hidden_layers=(1,), nbest=2)
    for row, live in enumerate(lives):
        frames = int(live.lengths[0])
        assert torch.allclose(out.hidden_states[1][row, :frames], live.hidden_states[1][0], atol=4e-3, rtol=1e-3)
        assert out.nbest[row] == live.nbest[0]
    too_long = next(u for u in utterances if u.duration_s > 1.0)
    with pytest.raises(CacheError, match=f"'{too_long.id}' was skipped when the cache was built .*window"):
        cache.outputs([too_long.id])
    assert (cache.directory / "skipped.jsonl").is_file()
