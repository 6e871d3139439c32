"""import_ct2_whisper: a round trip through CTranslate2's own converter, and the inputs it must refuse.

A tiny random Hugging Face Whisper is converted by ``ctranslate2.converters.TransformersConverter`` and
imported back: every tensor must come back equal, ``generate`` must give the original's tokens (greedy
and beam) and CTranslate2's own decoder the same ones. Broken model.bin files (truncated, corrupt,
trailing bytes, another spec, int8 weights, an unmapped variable) fail with one line naming the file.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from speechdistill.cli import main
from speechdistill.io import file_sha256
from speechdistill.markers import read_marker
from speechdistill.teachers.ct2_format import CT2FormatError, read_ct2_model
from speechdistill.teachers.whisper_import import import_ct2_whisper
from tests.teachers.tiny_ct2 import convert_to_ct2, save_tiny_hf_whisper, write_ct2_model

ctranslate2 = pytest.importorskip("ctranslate2", reason="the round trip needs CTranslate2's converter")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """(original HF dir, CTranslate2 dir, imported HF dir)."""
    root = tmp_path_factory.mktemp("ct2_round_trip")
    hf_dir = save_tiny_hf_whisper(root / "hf")
    ct2_dir = convert_to_ct2(hf_dir, root / "ct2")
    return hf_dir, ct2_dir, import_ct2_whisper(ct2_dir, root / "imported").directory


def _models(converted):
    from transformers import WhisperForConditionalGeneration

    hf_dir, _, imported = converted
    return (WhisperForConditionalGeneration.from_pretrained(hf_dir).eval(),
            WhisperForConditionalGeneration.from_pretrained(imported).eval())


def _features(directory, seed: int) -> torch.Tensor:
    from transformers import WhisperProcessor

    audio = 0.1 * np.random.default_rng(seed).standard_normal(12_000).astype(np.float32)
    extractor = WhisperProcessor.from_pretrained(directory).feature_extractor
    return extractor(audio, sampling_rate=16_000, return_tensors="pt").input_features


def test_every_tensor_comes_back_equal(converted):
    original, imported = _models(converted)
    want, got = original.state_dict(), imported.state_dict()
    assert set(want) == set(got)
    for name, tensor in want.items():
        assert torch.equal(tensor, got[name]), name
    assert imported.proj_out.weight.data_ptr() == imported.model.decoder.embed_tokens.weight.data_ptr()
    assert imported.config.max_source_positions == original.config.max_source_positions


def test_generate_gives_the_original_tokens_and_ctranslate2s(converted):
    original, imported = _models(converted)
    ct2 = ctranslate2.models.Whisper(str(converted[1]), device="cpu", compute_type="float32")
    prompt = [imported.generation_config.decoder_start_token_id, imported.generation_config.no_timestamps_token_id]
    for seed in range(2):
        features = _features(converted[2], seed)
        assert features.shape[-1] == 2 * original.config.max_source_positions  # the processor pads to 1 s
        for beams in (1, 4):
            want = original.generate(features, num_beams=beams).tolist()[0]
            assert imported.generate(features, num_beams=beams).tolist()[0] == want
            # CTranslate2 stops earlier (its length limit counts differently): compare its tokens as a prefix.
            theirs = ct2.generate(ctranslate2.StorageView.from_array(features.numpy()), [prompt], beam_size=beams,
                                  max_length=original.config.max_target_positions)[0].sequences_ids[0]
            assert len(theirs) >= 4 and want[:len(theirs)] == theirs


def test_output_loads_offline_and_records_the_source_sha(converted):
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    hf_dir, ct2_dir, imported = converted
    WhisperForConditionalGeneration.from_pretrained(imported, local_files_only=True)
    processor = WhisperProcessor.from_pretrained(imported, local_files_only=True)
    assert processor.tokenizer.get_vocab() == WhisperProcessor.from_pretrained(hf_dir).tokenizer.get_vocab()
    sha = file_sha256(ct2_dir / "model.bin")
    marker = read_marker(imported)
    assert marker.kind == "teacher" and marker.extra["model_bin_sha256"] == sha
    assert marker.extra["origin"] == "ctranslate2-import"
    assert sha in (imported / "README.md").read_text()
    generation = json.loads((imported / "generation_config.json").read_text())
    ct2_config = json.loads((ct2_dir / "config.json").read_text())
    assert generation["suppress_tokens"] == ct2_config["suppress_ids"]
    assert generation["begin_suppress_tokens"] == ct2_config["suppress_ids_begin"]


def test_the_reader_reads_every_byte(converted, tmp_path):
    model_bin = converted[1] / "model.bin"
    rewritten = write_ct2_model(read_ct2_model(model_bin), tmp_path / "model.bin")
    assert rewritten.read_bytes() == model_bin.read_bytes()


def test_existing_output_needs_overwrite(converted, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite"):
        import_ct2_whisper(converted[1], converted[2])


def _copy_ct2(converted, tmp_path, model_bytes: bytes | None = None):
    source = converted[1]
    target = tmp_path / "ct2"
    target.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (target / name).write_bytes((source / name).read_bytes())
    (target / "model.bin").write_bytes((source / "model.bin").read_bytes() if model_bytes is None else model_bytes)
    return target


def _renamed_spec(data: bytes, name: str) -> bytes:
    (length,) = struct.unpack_from("<H", data, 4)
    raw = name.encode() + b"\0"
    return data[:4] + struct.pack("<H", len(raw)) + raw + data[6 + length:]


def _with_extra_variable(model_bin, tmp_path) -> bytes:
    model = read_ct2_model(model_bin)
    model.variables["decoder/layer_0/ffn/linear_9/weight"] = np.zeros((2, 2), np.float32)
    return write_ct2_model(model, tmp_path / "extra.bin").read_bytes()


BROKEN = {
    "truncated": (lambda data, _: data[:-1000], "truncated at byte"),
    "wrong version": (lambda data, _: struct.pack("<I", 99) + data[4:], "binary version 99"),
    "garbage": (lambda data, _: bytes(range(256)) * 16, "binary version"),
    "trailing bytes": (lambda data, _: data + b"\0" * 7, "7 unexpected bytes after the last record"),
    "another spec": (lambda data, _: _renamed_spec(data, "TransformerSpec"), "TransformerSpec model, not a Whisper"),
    "unmapped variable": (None, "linear_9/weight maps to nothing"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_model_bin_is_one_line_naming_the_file(converted, tmp_path, case):
    edit, message = BROKEN[case]
    data = (converted[1] / "model.bin").read_bytes()
    broken = _with_extra_variable(converted[1] / "model.bin", tmp_path) if edit is None else edit(data, tmp_path)
    src = _copy_ct2(converted, tmp_path, broken)
    with pytest.raises(CT2FormatError, match=message) as error:
        import_ct2_whisper(src, tmp_path / "out")
    assert str(error.value).startswith(str(src / "model.bin")) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_int8_weights_are_refused(converted, tmp_path):
    src = convert_to_ct2(converted[0], tmp_path / "int8", quantization="int8")
    with pytest.raises(CT2FormatError, match="quantised .* convert the model with --quantization float16"):
        import_ct2_whisper(src, tmp_path / "out")


@pytest.mark.parametrize("name", ["model.bin", "config.json", "tokenizer.json"])
def test_missing_file_is_named(converted, tmp_path, name):
    src = _copy_ct2(converted, tmp_path)
    (src / name).unlink()
    with pytest.raises(CT2FormatError, match=f"{src / name}: missing"):
        import_ct2_whisper(src, tmp_path / "out")


def test_cli_import_prints_what_it_wrote(converted, tmp_path, capsys):
    out = tmp_path / "half"
    assert main(["teacher", "import", str(converted[1]), "--out", str(out), "--dtype", "float16"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and file_sha256(converted[1] / "model.bin") in printed and "parameters" in printed
    from safetensors import safe_open

    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.float16}
    assert main(["teacher", "import", str(converted[1]), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["teacher", "import", str(converted[1]), "--out", str(out), "--overwrite"]) == 0
