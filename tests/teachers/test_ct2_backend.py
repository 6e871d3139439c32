"""The CTranslate2 decoding backend of Whisper teachers, on a tiny random Whisper (no network).

CTranslate2's own converter writes the tiny model's ``ct2/`` folder beside it; the backend must give the
torch backend's tokens (greedy and beam search, also over a shortened encoder window), scores that are
summed token log-probabilities (EOS included) and sorted N-best lists whose posteriors sum to 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from speechdistill.inference.whisper import WhisperRecognizer
from speechdistill.teachers import TeacherLoadError, load_teacher
from tests.teachers.tiny_ct2 import convert_to_ct2, save_tiny_hf_whisper

pytest.importorskip("ctranslate2", reason="the CTranslate2 backend needs ctranslate2")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny Hugging Face Whisper with its CTranslate2 conversion in ``ct2/``."""
    hf_dir = save_tiny_hf_whisper(tmp_path_factory.mktemp("ct2_backend") / "hf")
    convert_to_ct2(hf_dir, hf_dir / "ct2")
    return hf_dir


def _audio(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(16_000 * s))).astype(np.float32) for s in (0.75, 0.5, 0.9)[:n]]


def _teachers(tiny_dir, **options):
    return (load_teacher(tiny_dir, **options),
            load_teacher(tiny_dir, backend="ctranslate2", compute_type="float32", **options))


def _tokens(candidates) -> list[tuple[int, ...]]:
    return [item[0][2] for item in candidates]


def test_greedy_and_beam_give_the_torch_tokens(tiny_dir):
    torch_teacher, ct2_teacher = _teachers(tiny_dir)
    assert torch_teacher.backend == "torch" and ct2_teacher.backend == "ctranslate2"
    audio = _audio(3)
    for beams in (2, 4):
        assert _tokens(ct2_teacher.candidates(audio, beams=beams)) == _tokens(torch_teacher.candidates(audio, beams=beams))
    assert _tokens(ct2_teacher.candidates(audio, beams=1)) == _greedy_tokens(torch_teacher, audio)
    greedy = [WhisperRecognizer(t).transcribe_waveforms(audio) for t in (torch_teacher, ct2_teacher)]
    assert greedy[0] == greedy[1]


def _greedy_tokens(teacher, audio) -> list[tuple[int, ...]]:
    """Hugging Face greedy generation, cut at EOS (the recogniser's own path)."""
    from transformers import GenerationMixin

    prompt = torch.tensor([teacher.prompt] * len(audio))
    with torch.inference_mode():
        rows = GenerationMixin.generate(teacher.model, input_features=teacher._features(audio), decoder_input_ids=prompt,
                                        num_beams=1, do_sample=False,
                                        max_length=teacher.model.config.max_target_positions)[:, prompt.shape[1]:]
    eos = teacher.model.generation_config.eos_token_id
    return [tuple(row[:row.index(eos)] if eos in row else row) for row in rows.tolist()]


def test_a_shortened_window_decodes_the_torch_encoders_output(tiny_dir):
    torch_teacher, ct2_teacher = _teachers(tiny_dir, window_s=0.5)
    assert ct2_teacher.window_s == 0.5
    audio = [a[:8000] for a in _audio(2, seed=1)]
    assert _tokens(ct2_teacher.candidates(audio, beams=3)) == _tokens(torch_teacher.candidates(audio, beams=3))


def _suppressed_score(teacher, audio: np.ndarray, tokens: tuple[int, ...]) -> float:
    """Summed log-probability of ``tokens`` (+ EOS when it fits), suppressed tokens removed before the softmax."""
    config, generation = teacher.model.config, teacher.model.generation_config
    target = list(tokens) + ([generation.eos_token_id] if len(tokens) < config.max_target_positions - len(teacher.prompt) else [])
    sequence = torch.tensor([teacher.prompt + target])
    with torch.inference_mode():
        logits = teacher.model(input_features=teacher._features([audio]), decoder_input_ids=sequence[:, :-1]).logits[0]
    logits = logits[len(teacher.prompt) - 1:].clone()
    logits[:, generation.suppress_tokens] = -math.inf
    logits[0, generation.begin_suppress_tokens] = -math.inf
    return float(logits.log_softmax(-1).gather(-1, torch.tensor(target)[:, None]).sum())


def test_scores_are_summed_log_probs_and_nbest_is_sorted(tiny_dir):
    _, ct2_teacher = _teachers(tiny_dir)
    audio = _audio(2, seed=2)
    candidates = ct2_teacher.candidates(audio, beams=4)
    for item, waveform in zip(candidates, audio):
        assert len(item) == 4 and [c[1] for c in item] == sorted((c[1] for c in item), reverse=True)
        for _, score, tokens in item:
            assert score == pytest.approx(_suppressed_score(ct2_teacher, waveform, tokens), abs=1e-3)
    out = ct2_teacher(audio, nbest=3, hidden_layers=(-1,))
    assert out.hidden_states[2].shape[:2] == (2, 38)
    for nbest in out.nbest:
        assert 1 <= len(nbest) <= 3 and len({h.text for h in nbest}) == len(nbest)
        assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)
        assert math.isclose(sum(h.posterior for h in nbest), 1.0, rel_tol=1e-9)


def test_int8_decodes_and_bad_choices_are_refused(tiny_dir, tiny_teacher_dir):
    teacher = load_teacher(tiny_dir, backend="ctranslate2")  # int8 by default
    assert teacher.decoder.compute_type == "int8" and len(teacher(_audio(1), nbest=2).nbest[0]) >= 1
    with pytest.raises(ValueError, match="backend must be one of torch, ctranslate2"):
        load_teacher(tiny_dir, backend="onnx")
    with pytest.raises(ValueError, match="compute_type must be one of"):
        load_teacher(tiny_dir, backend="ctranslate2", compute_type="float16")
    with pytest.raises(TeacherLoadError, match="not to CTC models"):
        load_teacher(tiny_teacher_dir("wav2vec2"), backend="ctranslate2")


def test_a_directory_without_ct2_is_converted_once(tiny_dir, tmp_path, monkeypatch):
    import shutil

    from speechdistill.teachers.ct2_decoder import teacher_ct2_dir

    monkeypatch.setenv("SPEECHDISTILL_HOME", str(tmp_path / "home"))
    plain = shutil.copytree(tiny_dir, tmp_path / "plain", ignore=shutil.ignore_patterns("ct2"))
    converted = teacher_ct2_dir(str(plain), plain)
    assert converted.parent == tmp_path / "home" / "ct2" and (converted / "model.bin").is_file()
    assert teacher_ct2_dir(str(plain), plain) == converted
    assert not list(converted.parent.glob("*.partial"))
    teacher = load_teacher(plain, backend="ctranslate2", compute_type="float32")
    assert teacher.decoder.directory == converted


def test_backend_reaches_transcribe_eval_and_recipes(tiny_dir, tmp_path, capsys):
    from speechdistill.cli import main
    from speechdistill.data.audio import save_audio
    from speechdistill.data.manifests import write_nemo_manifest
    from speechdistill.data.records import Utterance
    from speechdistill.distill.config import TeacherSpec
    from speechdistill.distill.live import LiveTeacherSource
    from speechdistill.distill.sources import TeacherRequest
    from speechdistill.eval.evaluate import EvalOptions, evaluate

    path = save_audio(tmp_path / "u0.flac", _audio(1)[0])
    assert main(["transcribe", "--model", str(tiny_dir), "--device", "cpu", "--teacher-backend", "ctranslate2",
                 "--compute-type", "float32", str(path)]) == 0
    want = WhisperRecognizer(load_teacher(tiny_dir)).transcribe_waveforms(_audio(1))[0]
    assert capsys.readouterr().out.strip() == f"{path}\t{want}".strip()
    manifest = write_nemo_manifest(tmp_path / "m.jsonl", [Utterance("u0", path, 0.75, "call mom", "spk0")])
    metrics = evaluate(EvalOptions(model=str(tiny_dir), manifest=str(manifest), teacher_backend="ctranslate2",
                                   lexicon="none", progress=False)).metrics
    assert metrics["teacher_backend"] == "ctranslate2" and metrics["compute_type"] == "int8"
    with pytest.raises(ValueError, match="backend must be one of"):
        TeacherSpec(spec="whisper-base", backend="onnx")
    spec = TeacherSpec(spec=str(tiny_dir), backend="ctranslate2", compute_type="float32")
    source = LiveTeacherSource.load({"w": spec}, {"w": TeacherRequest(nbest=2, log_probs=False)})
    assert source.teachers["w"].backend == "ctranslate2"
