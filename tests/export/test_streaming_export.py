"""Streaming bundles: the per-chunk ONNX graph sherpa-onnx's online WeNet-CTC class runs, our torch-free runner,
and the acceptance check that both give the same text on the same audio fed in 0.1 s pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch

from speechdistill.cli import main
from speechdistill.eval.metrics import cer
from speechdistill.export.streaming import STREAMING_INPUT_NAMES, export_streaming_bundle
from speechdistill.runtime import EndpointRules, OnlineFbank, StreamingRecognizer, fbank
from speechdistill.runtime.bundle import FP32_NAME, INT8_NAME, TOKENS_NAME, read_tokens
from speechdistill.runtime.streaming import SUBSAMPLING
from speechdistill.students import load_student
from speechdistill.students.streaming import INT16_SCALE

ASSETS = Path(__file__).resolve().parents[1] / "assets"
ASSET = ASSETS / "tiny_streaming_student"
CLIPS = ASSETS / "tiny_student"  # the clips the streaming asset was trained on
REPO = Path(__file__).resolve().parents[2]
CHUNK, LEFT = 16, 4
TAIL_S = 0.7  # the runner's default tail padding at 640 ms chunks (checked below), fed to sherpa-onnx as well
PIECE = 1600  # 0.1 s


def _clips() -> list[Path]:
    return sorted((CLIPS / "audio").glob("*.flac"))


def _read(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == 16_000
    return samples


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("streaming") / "bundle"
    result = export_streaming_bundle(ASSET, out, chunk_frames=CHUNK, left_chunks=LEFT)
    assert result.max_abs_diff < 1e-4
    return out


@pytest.fixture(scope="module")
def runner_texts(bundle) -> list[str]:
    recognizer = StreamingRecognizer(bundle, "fp32", endpoint=None)
    return [recognizer.transcribe(_read(p)) for p in _clips()]


def _sherpa_texts(bundle: Path, model: str, signals: list[np.ndarray], **options) -> list[list[str]]:
    """Per signal, sherpa-onnx's utterance texts (one unless endpointing splits), fed in 0.1 s pieces."""
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    from speechdistill.text import normalize_text

    recognizer = sherpa_onnx.OnlineRecognizer.from_wenet_ctc(
        tokens=str(bundle / TOKENS_NAME), model=str(bundle / model), chunk_size=CHUNK, num_left_chunks=LEFT,
        num_threads=1, **options)
    results = []
    for signal in signals:
        stream, texts = recognizer.create_stream(), []
        padded = np.concatenate([signal, np.zeros(int(TAIL_S * 16_000), np.float32)])
        for start in range(0, len(padded), PIECE):
            stream.accept_waveform(16_000, padded[start:start + PIECE])
            while recognizer.is_ready(stream):
                recognizer.decode_stream(stream)
            if recognizer.is_endpoint(stream):
                texts.append(normalize_text(recognizer.get_result(stream)))
                recognizer.reset(stream)
        stream.input_finished()
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
        texts.append(normalize_text(recognizer.get_result(stream)))
        results.append([t for t in texts if t])
    return results


@pytest.mark.parametrize("num_samples, piece", [(1, 1), (399, 100), (12_345, 1_600), (48_000, 777), (5_000, 5_000)])
def test_online_fbank_equals_whole_signal_fbank(num_samples, piece):
    signal = np.random.default_rng(num_samples).uniform(-0.5, 0.5, num_samples).astype(np.float32)
    online = OnlineFbank(scale=INT16_SCALE)
    got, done = [], 0
    for start in [*range(0, num_samples, piece), None]:
        if start is None:
            online.input_finished()
        else:
            online.accept(signal[start:start + piece])
        got.append(online.frames(done, online.frames_ready - done))
        done = online.frames_ready
    expected = fbank(signal * INT16_SCALE)
    np.testing.assert_allclose(np.concatenate(got), expected, atol=1e-4, rtol=0)


def test_bundle_signature_metadata_and_tokens(bundle):
    marker = json.loads((bundle / "speechdistill.json").read_text())
    assert marker["kind"] == "bundle" and marker["extra"]["streaming"]["chunk_frames"] == CHUNK
    model = onnx.load(str(bundle / FP32_NAME))
    assert [i.name for i in model.graph.input] == list(STREAMING_INPUT_NAMES)
    shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    config = load_student(ASSET).model.config
    head_dim = config.d_model // config.num_heads
    assert shapes == {"x": [1, 67, 80], "offset": [1], "required_cache_size": [1],
                      "attn_cache": [config.num_layers, config.num_heads, CHUNK * LEFT, 2 * head_dim],
                      "conv_cache": [config.num_layers, 1, config.d_model, config.conv_kernel - 1],
                      "attn_mask": [1, 1, CHUNK * LEFT + CHUNK]}
    assert types["offset"] == types["required_cache_size"] == onnx.TensorProto.INT64
    assert types["attn_mask"] == onnx.TensorProto.BOOL
    assert [o.name for o in model.graph.output] == ["log_probs", "next_attn_cache", "next_conv_cache"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert {k: meta[k] for k in ("head", "num_blocks", "output_size", "cnn_module_kernel", "right_context",
                                 "subsampling_factor", "vocab_size")} == {
        "head": str(config.num_heads), "num_blocks": str(config.num_layers), "output_size": str(config.d_model),
        "cnn_module_kernel": str(config.conv_kernel), "right_context": "6", "subsampling_factor": "4",
        "vocab_size": "32"}
    assert (bundle / INT8_NAME).stat().st_size < 0.6 * (bundle / FP32_NAME).stat().st_size
    tokens = read_tokens(bundle / TOKENS_NAME)
    assert tokens[0] == "<blk>" and "\u2581" in tokens and len(tokens) == 32


def test_runner_equals_pytorch_streaming_decode(bundle, runner_texts):
    from speechdistill.decode.greedy import greedy_decode

    loaded = load_student(ASSET)
    recognizer = StreamingRecognizer(bundle, "fp32", endpoint=None)
    for path, text in zip(_clips()[:6], runner_texts):
        signal = np.concatenate([_read(path), np.zeros(int(TAIL_S * 16_000), np.float32)])
        stream = recognizer.create_stream()
        stream.finish(TAIL_S)  # a stream may finish before any audio came
        assert isinstance(stream.text, str) and not stream.is_ready()
        waveform = torch.from_numpy(signal)[None]
        with torch.no_grad():
            out = loaded.model(waveform, torch.tensor([len(signal)]), chunk_frames=CHUNK)
        chunks = ((len(signal) + 80) // 160 - 67 - 1) // 64 + 1  # the runner runs chunk k once 64k + 67 < frames
        kept = chunks * CHUNK
        expected = greedy_decode(out.logits[:, :kept], torch.tensor([kept]), loaded.vocab)[0]
        assert text == expected


@pytest.mark.parametrize("chunk, tail_s", [(16, 0.7), (8, 0.4)])
def test_default_tail_padding_is_the_least_that_brings_out_every_frame(tmp_path, chunk, tail_s):
    """finish()'s default silence runs the chunk holding the last input frame: more silence adds chunks after it
    but changes none before, and 0.1 s less would leave that chunk unrun for some input length."""
    out = export_streaming_bundle(ASSET, tmp_path / "b", chunk_frames=chunk, left_chunks=LEFT).path
    recognizer = StreamingRecognizer(out, "fp32", endpoint=None)
    assert recognizer.tail_padding_s == tail_s
    signal = _read(_clips()[0])
    shortfall = 0
    for cut in range(0, 64 * 160, 160):  # every position of the last frame within a chunk
        part = signal[: len(signal) - cut]
        default, long = recognizer.log_probs(part), recognizer.log_probs(part, tail_padding_s=3.0)
        np.testing.assert_allclose(long[: len(default)], default, atol=1e-5)
        needed = -(-((len(part) + 80) // 160) // SUBSAMPLING)  # output frames that read input audio
        assert len(default) >= needed
        shortfall += len(recognizer.log_probs(part, tail_padding_s=tail_s - 0.1)) < needed
    assert shortfall > 0


def test_runner_words_are_real(runner_texts):
    references = [json.loads(line)["text"] for line in (CLIPS / "manifest.jsonl").read_text().splitlines()]
    assert all(runner_texts)
    assert cer(references, runner_texts) < 0.3


@pytest.mark.parametrize("precision, model", [("fp32", FP32_NAME), ("int8", INT8_NAME)])
def test_sherpa_onnx_online_wenet_ctc_gives_the_runners_text(bundle, precision, model):
    """Acceptance: sherpa-onnx fed 0.1 s pieces returns exactly our streaming runner's text."""
    signals = [_read(p) for p in _clips()]
    recognizer = StreamingRecognizer(bundle, precision, endpoint=None)
    ours = [recognizer.transcribe(s) for s in signals]
    theirs = [" ".join(t) for t in _sherpa_texts(bundle, model, signals)]
    assert all(ours) and theirs == ours


def test_endpoint_rules_by_hand():
    rules = EndpointRules()
    assert not rules.is_endpoint(utterance_s=3.0, trailing_silence_s=1.0)
    assert rules.is_endpoint(utterance_s=3.0, trailing_silence_s=1.2)  # rule 2: silence after speech
    assert not rules.is_endpoint(utterance_s=2.0, trailing_silence_s=2.0)  # all silence: rule 2 does not apply
    assert rules.is_endpoint(utterance_s=2.4, trailing_silence_s=2.4)  # rule 1
    assert rules.is_endpoint(utterance_s=20.0, trailing_silence_s=0.0)  # rule 3


@pytest.mark.parametrize("rules", [dict(rule2_min_trailing_silence_s=0.4),
                                   dict(rule3_min_utterance_s=1.5)], ids=["silence", "length"])
def test_endpointing_splits_a_long_recording_like_sherpa_onnx(bundle, rules):
    clips = [_read(p) for p in _clips()[:4]]
    silence = np.zeros(int(1.0 * 16_000), np.float32)
    long = np.concatenate([part for clip in clips for part in (clip, silence)])[: -len(silence)]
    recognizer = StreamingRecognizer(bundle, "fp32", endpoint=EndpointRules(**rules))
    ours = list(recognizer.segments(long))
    texts = [s.text for s in ours if s.text]
    assert len(texts) >= 2  # the tiny asset babbles in some pauses; the split must match sherpa-onnx's exactly
    assert all(a.end_s == b.start_s for a, b in zip(ours, ours[1:])) and ours[0].start_s == 0
    sherpa_rules = {"rule2_min_trailing_silence": rules.get("rule2_min_trailing_silence_s", 1.2),
                    "rule3_min_utterance_length": rules.get("rule3_min_utterance_s", 20.0)}
    theirs = _sherpa_texts(bundle, FP32_NAME, [long], enable_endpoint_detection=True, **sherpa_rules)[0]
    assert theirs == texts


def test_export_and_transcribe_stream_cli_without_torch(bundle, runner_texts, tmp_path, capsys):
    out = tmp_path / "cli_bundle"
    assert main(["export", "--model", str(ASSET), "--out", str(out), "--streaming", "--chunk-size", "8",
                 "--left-chunks", "2", "--no-int8"]) == 0
    assert "streaming bundle written" in capsys.readouterr().out
    assert json.loads((out / "speechdistill.json").read_text())["extra"]["streaming"]["chunk_frames"] == 8
    clip = _clips()[0]
    code = ("import sys\nfrom speechdistill.cli import main\n"
            f"main(['transcribe', '--stream', '--model', {str(bundle)!r}, '--precision', 'fp32', {str(clip)!r}])\n"
            "bad = [m for m in ('torch', 'torchaudio', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    path, start, end, text = done.stdout.strip().split("\t")
    assert path == str(clip) and float(start) == 0.0 and float(end) > 1.0 and text == runner_texts[0]
    assert "partial\t" in done.stderr


def test_transcribe_stream_reads_raw_pcm_from_stdin(bundle, runner_texts):
    pcm = (np.clip(_read(_clips()[1]), -1, 1 - 1 / 32768) * 32768).astype("<i2").tobytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "speechdistill.cli", "transcribe", "--stream", "--model", str(bundle),
                           "--precision", "fp32", "-"], input=pcm, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip().split("\t")[-1] == runner_texts[1]


def test_full_context_students_are_refused(tmp_path):
    with pytest.raises(ValueError, match="streaming"):
        export_streaming_bundle(CLIPS, tmp_path / "b")


def test_offline_runtimes_refuse_a_streaming_bundle_with_a_pointer(bundle):
    from speechdistill.runtime import BundleRecognizer

    with pytest.raises(ValueError, match="StreamingRecognizer"):
        BundleRecognizer(bundle)


def test_offline_export_refuses_a_streaming_student(tmp_path):
    from speechdistill.export import export_bundle

    with pytest.raises(ValueError, match="--streaming"):
        export_bundle(ASSET, tmp_path / "offline")


def test_load_and_eval_run_a_streaming_bundle_like_the_runner(bundle, runner_texts, tmp_path, capsys):
    from speechdistill.inference import load

    recognizer = load(bundle, precision="fp32")
    paths = [str(p) for p in _clips()[:4]]
    assert recognizer.transcribe(paths) == runner_texts[:4]
    timed = recognizer.transcribe_timed(paths[0])
    assert timed.text == runner_texts[0] and len(timed.words) == len(runner_texts[0].split())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": p, "duration": 1.0, "text": t}) + "\n"
                                for p, t in zip(paths, runner_texts)))
    assert main(["eval", "--model", str(bundle), "--precision", "fp32", "--manifest", str(manifest)]) == 0
    assert capsys.readouterr().out.startswith("WER 0.00%")  # references = the runner's own texts


def test_transcribe_timestamps_on_a_streaming_bundle(bundle, runner_texts, capsys):
    clip = str(_clips()[0])
    assert main(["transcribe", "--model", str(bundle), "--precision", "fp32", "--timestamps", clip]) == 0
    path, text, words = capsys.readouterr().out.strip().split("\t")
    assert path == clip and text == runner_texts[0] and len(words.split()) == len(text.split())


def test_sherpa_onnx_agrees_at_320_ms_chunks_and_8_left_chunks(tmp_path):
    out = export_streaming_bundle(ASSET, tmp_path / "b8", chunk_frames=8, left_chunks=8).path
    signals = [_read(p) for p in _clips()[:6]]
    recognizer = StreamingRecognizer(out, "int8", endpoint=None)
    ours = [recognizer.transcribe(s) for s in signals]
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    sherpa = sherpa_onnx.OnlineRecognizer.from_wenet_ctc(tokens=str(out / TOKENS_NAME), model=str(out / INT8_NAME),
                                                         chunk_size=8, num_left_chunks=8, num_threads=1)
    theirs = []
    for signal in signals:
        stream = sherpa.create_stream()
        padded = np.concatenate([signal, np.zeros(int(recognizer.tail_padding_s * 16_000), np.float32)])
        for start in range(0, len(padded), PIECE):
            stream.accept_waveform(16_000, padded[start:start + PIECE])
            while sherpa.is_ready(stream):
                sherpa.decode_stream(stream)
        theirs.append(" ".join(sherpa.get_result(stream).split()))
    assert all(ours) and theirs == ours
