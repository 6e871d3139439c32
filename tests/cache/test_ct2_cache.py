"""cache-teacher with the CTranslate2 backend: N-best lists from CTranslate2, hidden states from torch."""

from __future__ import annotations

import pytest
import torch

from speechdistill.cache import CacheConfig, build_cache, open_cache
from speechdistill.distill.sources import TeacherRequest
from speechdistill.teachers import load_teacher
from tests.cache.conftest import live_items
from tests.teachers.tiny_ct2 import convert_to_ct2, save_tiny_hf_whisper

pytest.importorskip("ctranslate2", reason="the CTranslate2 backend needs ctranslate2")


def test_ctranslate2_nbest_with_torch_hidden_states(ctc_config, cache_corpus, tmp_path):
    teacher_dir = save_tiny_hf_whisper(tmp_path / "whisper")
    convert_to_ct2(teacher_dir, teacher_dir / "ct2")
    config = ctc_config(teacher=str(teacher_dir), nbest=3, hidden_layers=(1,), attentions=False, on_error="skip",
                        backend="ctranslate2", compute_type="float32", batch_seconds=5.0)
    assert config.settings()["backend"] == "ctranslate2" and config.settings()["compute_type"] == "float32"
    assert "backend" not in ctc_config().settings()  # keys of torch caches stay as they were
    assert build_cache(config).complete
    cache = open_cache(config.out_dir)
    utterances = [u for u in cache_corpus[0] if u.id in set(cache.ids)]
    out = cache.outputs([u.id for u in utterances], TeacherRequest(hidden_layers=(1,), nbest=3))
    live = load_teacher(teacher_dir, backend="ctranslate2", compute_type="float32")
    for row, item in enumerate(live_items(live, utterances, hidden_layers=(1,), nbest=3)):
        frames = int(item.lengths[0])
        assert torch.allclose(out.hidden_states[1][row, :frames], item.hidden_states[1][0], atol=4e-3, rtol=1e-3)
        assert [h.text for h in out.nbest[row]] == [h.text for h in item.nbest[0]]
        assert [h.posterior for h in out.nbest[row]] == pytest.approx([h.posterior for h in item.nbest[0]], abs=1e-4)
    with pytest.raises(ValueError, match="backend must be one of"):
        CacheConfig(teacher="x", manifest="m", out_dir="o", backend="onnx")
