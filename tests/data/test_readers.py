"""Every manifest reader on fixtures written here: NeMo JSONL, LibriSpeech, Kaldi, HF save_to_disk."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechdistill.data.errors import DataError
from speechdistill.data.manifests import (
    manifest_kind,
    read_hf_dataset,
    read_kaldi_dir,
    read_librispeech,
    read_manifest,
    read_nemo_manifest,
    write_nemo_manifest,
)
from speechdistill.data.records import Utterance
from speechdistill.data.validate import validate_audio


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


# ---------------------------------------------------------------- NeMo JSONL

def test_nemo_resolves_relative_paths_and_normalises(tmp_path, tone):
    tone(tmp_path / "corpus" / "wavs" / "a.wav", seconds=0.5)
    absolute = tone(tmp_path / "elsewhere" / "b.flac", seconds=0.25)
    manifest = write_jsonl(tmp_path / "corpus" / "train.jsonl", [
        {"audio_filepath": "wavs/a.wav", "duration": 9.9, "text": "Turn on 2 lights!", "speaker": 7},
        {"audio_filepath": str(absolute), "duration": 0.25, "text": "Dr. Who", "id": "custom"},
    ])
    a, b = read_nemo_manifest(manifest)
    assert a == Utterance("wavs/a", tmp_path / "corpus" / "wavs" / "a.wav", 0.5, "turn on two lights", "7")
    assert (b.id, b.audio_path, b.text, b.speaker) == ("custom", absolute, "doctor who", None)
    assert b.duration_s == pytest.approx(0.25)


def test_nemo_unlabelled(tmp_path, tone):
    tone(tmp_path / "a.wav")
    tone(tmp_path / "b.wav")
    manifest = write_jsonl(tmp_path / "u.jsonl", [{"audio_filepath": "a.wav"},
                                                  {"audio_filepath": "b.wav", "text": "Hi, there"}])
    a, b = read_nemo_manifest(manifest, labelled=False)
    assert a.text is None and not a.labelled
    assert b.text == "hi there"


def test_nemo_writer_round_trip(tmp_path, tone):
    inside = tone(tmp_path / "out" / "audio" / "x.flac")
    outside = tone(tmp_path / "other" / "y.flac")
    utts = [Utterance("x", inside, 0.5, "hello", "s1"), Utterance("y", outside, 0.5, None, None)]
    manifest = write_nemo_manifest(tmp_path / "out" / "m.jsonl", utts)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert lines[0] == {"audio_filepath": "audio/x.flac", "duration": 0.5, "id": "x", "text": "hello",
                        "speaker": "s1"}
    assert lines[1]["audio_filepath"] == str(outside) and "text" not in lines[1]
    assert read_nemo_manifest(manifest, labelled=False) == utts
    assert [p.name for p in manifest.parent.iterdir() if p.is_file()] == ["m.jsonl"]  # no temp files


def test_nemo_writer_root_anchors_relative_paths(tmp_path, tone):
    tone(tmp_path / "corpus" / "audio" / "x.flac")
    utts = [Utterance("x", Path("audio/x.flac"), 0.5, "hello")]
    beside = write_nemo_manifest(tmp_path / "corpus" / "m.jsonl", utts, root=tmp_path / "corpus")
    assert json.loads(beside.read_text())["audio_filepath"] == "audio/x.flac"
    # audio outside the manifest's folder is written as an absolute path
    below = write_nemo_manifest(tmp_path / "corpus" / "splits" / "m.jsonl", utts, root=tmp_path / "corpus")
    assert json.loads(below.read_text())["audio_filepath"] == str(tmp_path / "corpus" / "audio" / "x.flac")
    assert read_nemo_manifest(beside)[0].audio_path == read_nemo_manifest(below)[0].audio_path


# ---------------------------------------------------------------- LibriSpeech

def make_librispeech(root: Path, tone) -> Path:
    for speaker, chapter, n in (("19", "198", 2), ("26", "495", 1)):
        folder = root / "train-clean-100" / speaker / chapter
        lines = []
        for i in range(n):
            uid = f"{speaker}-{chapter}-{i:04d}"
            tone(folder / f"{uid}.flac", seconds=0.25 * (i + 1))
            lines.append(f"{uid} THE {i + 1}ST CHAPTER'S END\n")
        (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    return root


def test_librispeech_layout(tmp_path, tone):
    root = make_librispeech(tmp_path / "LibriSpeech", tone)
    utts = read_librispeech(root)
    assert [u.id for u in utts] == ["19-198-0000", "19-198-0001", "26-495-0000"]
    assert [u.speaker for u in utts] == ["19", "19", "26"]
    assert utts[1].text == "the second chapter's end"
    assert [u.duration_s for u in utts] == pytest.approx([0.25, 0.5, 0.25])
    assert utts[0].audio_path == root / "train-clean-100" / "19" / "198" / "19-198-0000.flac"


# ---------------------------------------------------------------- Kaldi

def make_kaldi(directory: Path, tone) -> Path:
    tone(directory / "wav" / "u1.wav", seconds=0.5)
    absolute = tone(directory.parent / "shared" / "u2.flac", seconds=0.25)
    (directory / "wav.scp").write_text(f"u1 wav/u1.wav\nu2 {absolute}\n")
    (directory / "text").write_text("u1 HELLO WORLD\nu2 it's 5:30\n")
    (directory / "utt2spk").write_text("u1 alice\nu2 bob\n")
    return directory


def test_kaldi_dir(tmp_path, tone):
    directory = make_kaldi(tmp_path / "data" / "train", tone)
    u1, u2 = read_kaldi_dir(directory)
    assert u1 == Utterance("u1", directory / "wav" / "u1.wav", 0.5, "hello world", "alice")
    assert (u2.text, u2.speaker) == ("it's five thirty", "bob")


def test_kaldi_unlabelled_without_text_file(tmp_path, tone):
    directory = make_kaldi(tmp_path / "d", tone)
    (directory / "text").unlink()
    (directory / "utt2spk").unlink()
    assert [(u.text, u.speaker) for u in read_kaldi_dir(directory, labelled=False)] == [(None, None)] * 2
    with pytest.raises(DataError, match=r"text: file not found \(pass labelled=False"):
        read_kaldi_dir(directory)


@pytest.mark.parametrize("entry, problem", [
    ("sox raw/u1.wav -t wav - |", "not pipe commands"),
    ("feats/raw_wav.1.ark:1234", "not ark offsets"),
])
def test_kaldi_only_plain_paths(tmp_path, tone, entry, problem):
    directory = make_kaldi(tmp_path / "d", tone)
    (directory / "wav.scp").write_text(f"u1 {entry}\n")
    (directory / "text").write_text("u1 hi\n")
    with pytest.raises(DataError, match="only plain audio paths are supported") as info:
        read_kaldi_dir(directory)
    assert str(info.value).startswith(f"{directory / 'wav.scp'}:1: ") and problem in str(info.value)
    assert "\n" not in str(info.value)


def test_kaldi_segments_refused(tmp_path, tone):
    directory = make_kaldi(tmp_path / "d", tone)
    (directory / "segments").write_text("u1 rec1 0.0 1.0\n")
    with pytest.raises(DataError, match="segments.*not supported"):
        read_kaldi_dir(directory)


def test_kaldi_transcript_without_audio(tmp_path, tone):
    directory = make_kaldi(tmp_path / "d", tone)
    (directory / "text").write_text("u1 hi\nu2 there\nu3 orphan\n")
    with pytest.raises(DataError, match=r"text:3: utterance 'u3' has a transcript but no entry in wav\.scp"):
        read_kaldi_dir(directory)


# ---------------------------------------------------------------- Hugging Face save_to_disk

def wav_bytes(seconds: float, rate: int = 16_000, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(seconds * rate), np.float32) + 0.1, rate, format=fmt)
    return buffer.getvalue()


def make_hf(path: Path, as_dict: bool = False, **columns) -> Path:
    datasets = pytest.importorskip("datasets")
    rows = {"audio": [{"bytes": wav_bytes(0.5), "path": "clip0.wav"},
                      {"bytes": wav_bytes(0.25, fmt="FLAC"), "path": None}],
            "text": ["Hello 2 you", None], "id": ["a", "b"], "speaker_id": [1, 2]}
    rows.update(columns)
    dataset = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(sampling_rate=16_000))
    saved = datasets.DatasetDict({"train": dataset, "test": dataset}) if as_dict else dataset
    saved.save_to_disk(str(path))
    return path


def test_hf_dataset_materialises_bytes_once(tmp_path):
    directory = make_hf(tmp_path / "hf")
    cache = tmp_path / "cache"
    a, b = read_hf_dataset(directory, labelled=False, cache_dir=cache)
    assert (a.id, a.text, a.speaker, b.text) == ("a", "hello two you", "1", None)
    assert a.audio_path.parent == cache and a.audio_path.suffix == ".wav" and b.audio_path.suffix == ".flac"
    assert [a.duration_s, b.duration_s] == pytest.approx([0.5, 0.25])
    assert validate_audio([a, b]) == [a, b]
    stamp = a.audio_path.stat().st_mtime_ns
    assert read_hf_dataset(directory, labelled=False, cache_dir=cache) == [a, b]
    assert a.audio_path.stat().st_mtime_ns == stamp and len(list(cache.iterdir())) == 2


def test_hf_dataset_dict_splits_and_columns(tmp_path):
    directory = make_hf(tmp_path / "hf", as_dict=True, sentence=["Yes", "No"], client=["x", "y"])
    utts = read_hf_dataset(directory, "test", cache_dir=tmp_path / "c", text_column="sentence",
                           speaker_column="client")
    assert [(u.id, u.text, u.speaker) for u in utts] == [("a", "yes", "x"), ("b", "no", "y")]
    with pytest.raises(DataError, match="no split given; choose one of train, test"):
        read_hf_dataset(directory, cache_dir=tmp_path / "c")
    via_spec = read_manifest(f"{directory}:train", labelled=False, cache_dir=tmp_path / "c")
    assert [u.id for u in via_spec] == ["a", "b"]


def test_hf_dataset_plain_path_column_and_row_ids(tmp_path, tone):
    datasets = pytest.importorskip("datasets")
    tone(tmp_path / "hf" / "clips" / "x.wav", seconds=0.5)
    datasets.Dataset.from_dict({"file": ["clips/x.wav"], "text": ["ok"]}).save_to_disk(str(tmp_path / "hf"))
    (utt,) = read_hf_dataset(tmp_path / "hf", audio_column="file", cache_dir=tmp_path / "c")
    assert (utt.id, utt.audio_path, utt.text) == ("row-000000", tmp_path / "hf" / "clips" / "x.wav", "ok")
    with pytest.raises(DataError, match="no column 'audio'; columns are file, text"):
        read_hf_dataset(tmp_path / "hf", cache_dir=tmp_path / "c")


# ---------------------------------------------------------------- read_manifest dispatch

def test_read_manifest_dispatches_on_the_path(tmp_path, tone):
    tone(tmp_path / "a.wav")
    jsonl = write_jsonl(tmp_path / "m.jsonl", [{"audio_filepath": "a.wav", "text": "a"}])
    libri = make_librispeech(tmp_path / "LibriSpeech", tone)
    kaldi = make_kaldi(tmp_path / "kaldi", tone)
    hf = make_hf(tmp_path / "hf")
    kinds = {jsonl: "nemo", libri: "librispeech", kaldi: "kaldi", hf: "hf"}
    assert {path: manifest_kind(path) for path in kinds} == kinds
    assert len(read_manifest(jsonl)) == 1
    assert len(read_manifest(libri)) == 3
    assert len(read_manifest(kaldi)) == 2
    assert len(read_manifest(hf, labelled=False, cache_dir=tmp_path / "c")) == 2


def test_read_manifest_refuses_unknown_things(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "m.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="not a manifest folder: expected wav.scp"):
        read_manifest(tmp_path / "empty")
    with pytest.raises(DataError, match="m.csv: not a manifest: a file must be NeMo JSONL"):
        read_manifest(tmp_path / "m.csv")
    with pytest.raises(DataError, match="missing.jsonl: manifest not found"):
        read_manifest(tmp_path / "missing.jsonl")
