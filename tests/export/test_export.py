"""Export: the trained tiny student (tests/assets/tiny_student) -> ONNX bundle, checked against PyTorch,
onnxruntime without torch, and sherpa-onnx's own zipformer-CTC recogniser."""

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

from speechdistill.data.audio import load_audio
from speechdistill.eval.metrics import cer
from speechdistill.export import export_bundle
from speechdistill.export.onnx import EXAMPLE_FRAMES
from speechdistill.features import kaldi_fbank, reference_fbank
from speechdistill.inference import load
from speechdistill.runtime import BundleRecognizer, OnnxCTCModel, fbank, read_bundle
from speechdistill.runtime.bundle import FP32_NAME, INT8_NAME, TOKENS_NAME, read_tokens
from speechdistill.students import load_student

ASSET = Path(__file__).resolve().parents[1] / "assets" / "tiny_student"
REPO = Path(__file__).resolve().parents[2]


def _audio() -> list[Path]:
    return sorted((ASSET / "audio").glob("*.flac"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "bundle"
    export_bundle(ASSET, out)
    return out


@pytest.fixture(scope="module")
def torch_texts() -> list[str]:
    recognizer = load(ASSET)
    return recognizer.transcribe([str(p) for p in _audio()])


def test_asset_is_small_and_emits_words(torch_texts):
    size = sum(p.stat().st_size for p in ASSET.rglob("*") if p.is_file())
    assert size <= 2_000_000
    assert len(torch_texts) >= 8
    assert all(len(t.split()) >= 1 for t in torch_texts)  # non-blank output
    references = [json.loads(line)["text"] for line in (ASSET / "manifest.jsonl").read_text().splitlines()]
    assert cer(references, torch_texts) < 0.2


@pytest.mark.parametrize("num_samples", [1, 160, 399, 400, 401, 12_345, 48_000])
def test_numpy_fbank_matches_kaldi_native_fbank_and_torch(num_samples):
    signal = np.random.default_rng(num_samples).uniform(-0.5, 0.5, num_samples).astype(np.float32)
    ours, reference = fbank(signal), reference_fbank(signal)
    assert ours.shape == reference.shape
    if len(ours):
        np.testing.assert_allclose(ours, reference, atol=2e-3)
        trained, _ = kaldi_fbank(torch.from_numpy(signal)[None], torch.tensor([num_samples]))
        np.testing.assert_allclose(ours, trained[0].numpy(), atol=2e-3)


def test_bundle_files_metadata_and_tokens(bundle):
    names = {p.name for p in bundle.iterdir()}
    assert {FP32_NAME, INT8_NAME, TOKENS_NAME, "README.md", "speechdistill.json"} <= names
    assert (bundle / INT8_NAME).stat().st_size <= 0.4 * (bundle / FP32_NAME).stat().st_size
    tokens = read_tokens(bundle / TOKENS_NAME)
    assert tokens[0] == "<blk>" and "\u2581" in tokens and "|" not in tokens and len(tokens) == 32
    for name in (FP32_NAME, INT8_NAME):
        model = onnx.load(str(bundle / name))
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["model_type"] == "zipformer2_ctc" and meta["vocab_size"] == "32"
        assert meta["subsampling_factor"] == "4" and meta["sample_rate"] == "16000"
        output = model.graph.output[0].type.tensor_type.shape.dim
        assert output[2].dim_value == 32  # sherpa-onnx reads the vocabulary size from this dimension
    card = (bundle / "README.md").read_text()
    assert "| parameters | 0.30 M |" in card and "real-time factor | fp32: 0." in card and "from_zipformer_ctc" in card
    marker = read_bundle(bundle).extra
    assert set(marker["rtf_1thread_5s"]) == {"fp32", "int8"} and all(v > 0 for v in marker["rtf_1thread_5s"].values())
    int8_ops = {n.op_type for n in onnx.load(str(bundle / INT8_NAME)).graph.node}
    assert "ConvInteger" not in int8_ops and ("MatMulInteger" in int8_ops or "DynamicQuantizeMatMul" in int8_ops)


def _features(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    waves = [torch.from_numpy(load_audio(p, 16_000)) for p in paths]
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    return kaldi_fbank(batch, lengths)


@pytest.mark.parametrize("count", [1, 3, 5])
def test_fp32_graph_matches_pytorch_at_lengths_other_than_the_example(bundle, count):
    import onnxruntime as ort

    paths = _audio()[-count:] if count > 1 else _audio()[:1]
    features, lengths = _features(paths)
    assert EXAMPLE_FRAMES not in lengths.tolist()
    student = load_student(ASSET).model
    with torch.no_grad():
        out = student.encode(features, lengths)
    session = ort.InferenceSession(str(bundle / FP32_NAME), providers=["CPUExecutionProvider"])
    log_probs, out_lengths = session.run(None, {"x": features.numpy(), "x_lens": lengths.numpy()})
    assert out_lengths.tolist() == out.lengths.tolist()
    reference = out.log_probs.numpy()
    mask = np.arange(log_probs.shape[1])[None] < out_lengths[:, None]
    assert np.abs(log_probs - reference)[mask].max() < 1e-3
    assert (log_probs.argmax(-1) == reference.argmax(-1))[mask].all()


def test_runtime_transcripts_equal_pytorch_fp32_and_close_int8(bundle, torch_texts):
    paths = [str(p) for p in _audio()]
    fp32 = BundleRecognizer(bundle, "fp32").transcribe(paths)
    int8 = BundleRecognizer(bundle, "int8").transcribe(paths)
    assert fp32 == torch_texts
    diff = cer(fp32, int8)
    print(f"int8 vs fp32 character error difference: {diff:.4f}")
    assert diff < 0.05


def test_sherpa_onnx_decodes_the_bundle_like_pytorch(bundle, torch_texts):
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    from speechdistill.text import normalize_text

    recognizer = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(model=str(bundle / FP32_NAME),
                                                                   tokens=str(bundle / TOKENS_NAME), num_threads=1)
    texts = []
    for path in _audio():
        samples, rate = sf.read(path, dtype="float32")
        stream = recognizer.create_stream()
        stream.accept_waveform(rate, samples)
        recognizer.decode_stream(stream)
        texts.append(normalize_text(stream.result.text))
    assert texts == torch_texts


def test_bundle_path_imports_no_torch(bundle, torch_texts):
    code = ("import sys\nfrom speechdistill.cli import main\n"
            f"main(['transcribe', '--model', {str(bundle)!r}, '--precision', 'fp32', {str(_audio()[0])!r}])\n"
            "bad = [m for m in ('torch', 'torchaudio', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().split("\t")[1] == torch_texts[0]


def test_load_accepts_bundles_for_eval_and_beam(bundle, torch_texts):
    recognizer = load(bundle, precision="fp32")
    assert recognizer.kind == "bundle"
    assert recognizer.transcribe([str(p) for p in _audio()]) == torch_texts
    timed = recognizer.transcribe_timed(str(_audio()[0]))
    assert timed.text == torch_texts[0] and len(timed.words) == len(torch_texts[0].split())


def test_other_sample_rates_are_resampled(bundle, tmp_path):
    signal, rate = sf.read(_audio()[-1], dtype="float32")
    path = tmp_path / "a8k.wav"
    sf.write(path, signal[::2], rate // 2)  # crude 8 kHz copy
    model = BundleRecognizer(bundle, "fp32")
    from speechdistill.runtime import read_audio

    assert abs(len(read_audio(path, 16_000)) - len(signal)) <= 2
    assert isinstance(model.transcribe(str(path)), str)


def test_export_refuses_teachers_unknown_dirs_and_foreign_targets(tiny_teacher_dir, tmp_path):
    with pytest.raises(ValueError, match="holds a teacher, not a student"):
        export_bundle(tiny_teacher_dir(), tmp_path / "b")
    (tmp_path / "junk").mkdir()
    with pytest.raises(ValueError, match="neither a speechdistill directory"):
        export_bundle(tmp_path / "junk", tmp_path / "b")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a bundle"):
        export_bundle(ASSET, tmp_path / "full")


def test_bundle_missing_file_is_named(bundle, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / TOKENS_NAME).unlink()
    with pytest.raises(FileNotFoundError, match="missing tokens.txt"):
        read_bundle(broken)
    with pytest.raises(FileNotFoundError, match="missing tokens.txt"):
        OnnxCTCModel(broken)


def test_export_cli(tmp_path, capsys):
    from speechdistill.cli import main

    assert main(["export", "--model", str(ASSET), "--out", str(tmp_path / "b"), "--no-int8"]) == 0
    assert "bundle written" in capsys.readouterr().out
    assert read_bundle(tmp_path / "b").files == {"fp32": FP32_NAME}
    assert main(["export", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "c")]) == 2
    assert "no such student directory" in capsys.readouterr().err


def test_bench_runs_bundles_on_onnx_runtimes(bundle, torch_texts, tmp_path):
    from speechdistill.bench.config import BenchConfig, ModelSpec, PeerSettings
    from speechdistill.bench.runner import run_bench

    config = BenchConfig(name="bundle", models=(ModelSpec("tiny", str(bundle), "student", ("onnx-fp32", "onnx-int8")),),
                         manifests={"asset": str(ASSET / "manifest.jsonl")}, out_dir=str(tmp_path), max_utterances=4,
                         warmup=1, repeats=1, memory_probe=False, peers=PeerSettings(pocketsphinx=False))
    rows = json.loads((run_bench(config) / "results.json").read_text())["rows"]
    assert [r["runtime"] for r in rows] == ["onnx-fp32", "onnx-int8"]
    fp32, int8 = rows
    assert fp32["size_mb"] > int8["size_mb"] and fp32["params"] == int8["params"] == 303_800
    assert fp32["wer"] < 0.2 and fp32["rtf_1thread_median"] > 0
