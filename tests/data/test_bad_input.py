"""Each kind of bad input, under both policies: 'raise' gives one line naming the file (and line) and the
problem; 'skip' records the same in the report and keeps the good entries. Nothing is dropped silently."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import soundfile as sf

from speechdistill.data.errors import DataError, SkipReport
from speechdistill.data.manifests import read_hf_dataset, read_kaldi_dir, read_librispeech, read_nemo_manifest
from speechdistill.data.records import Utterance
from speechdistill.data.validate import save_skip_report, skip_report_path, validate_audio

MAX_S = 1.5


def _line(audio: str, text: str | None = "fine") -> str:
    item = {"audio_filepath": audio} if text is None else {"audio_filepath": audio, "text": text}
    return json.dumps(item)


def _unreadable(tmp_path, tone):
    (tmp_path / "junk.wav").write_text("this is not audio")
    return _line("junk.wav")


def _empty(tmp_path, tone):
    tone(tmp_path / "empty.wav", seconds=0.0)
    return _line("empty.wav")


def _too_long(tmp_path, tone):
    tone(tmp_path / "long.wav", seconds=2.0)
    return _line("long.wav")


def _ok(tmp_path, tone):
    tone(tmp_path / "bad.wav")
    return None


# (name, writes the bad entry and returns its line, reason the error must give)
READER_CASES = [
    ("missing audio", lambda p, t: _line("nowhere.wav"), r"audio file not found: .*nowhere\.wav"),
    ("unreadable audio", _unreadable, r"unreadable audio \(.*Format not recognised.*junk\.wav"),
    ("empty audio", _empty, r"empty audio \(0 samples\): .*empty\.wav"),
    ("too long", _too_long, r"audio is 2\.0 s, longer than the maximum 1\.5 s: .*long\.wav"),
    ("malformed JSON", lambda p, t: '{"audio_filepath": "a.wav", "text": ', r"malformed JSON line \(.* column \d+\)"),
    ("not an object", lambda p, t: "[1, 2]", r"expected a JSON object, got list"),
    ("no audio_filepath", lambda p, t: '{"text": "hi"}', r"missing 'audio_filepath' field"),
    ("missing text", lambda p, t: _line("good1.wav", None), r"missing 'text' field"),
    ("outside vocabulary", lambda p, t: _line("good1.wav", "Café crème"),
     r"characters outside the vocabulary: 'è' 'é' in 'café crème'"),
    ("duplicate id", lambda p, t: json.dumps({"audio_filepath": "good3.wav", "id": "good1", "text": "x"}),
     r"duplicate utterance id 'good1' \(first at .*m\.jsonl:1\)"),
    ("offset segment", lambda p, t: json.dumps({"audio_filepath": "good1.wav", "offset": 3.0, "text": "x"}),
     r"'offset' .* is not supported"),
]


def manifest_with(tmp_path, tone, bad_line: str):
    """good1, <bad line>, good3: the bad entry is on line 2."""
    tone(tmp_path / "good1.wav")
    tone(tmp_path / "good3.wav")
    lines = [_line("good1.wav"), bad_line, _line("good3.wav")]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("name, make_bad, reason", READER_CASES, ids=[c[0] for c in READER_CASES])
def test_reader_raise_names_file_and_line(tmp_path, tone, name, make_bad, reason):
    manifest = manifest_with(tmp_path, tone, make_bad(tmp_path, tone))
    with pytest.raises(DataError, match=reason) as info:
        read_nemo_manifest(manifest, max_duration_s=MAX_S)
    message = str(info.value)
    assert message.startswith(f"{manifest}:2: ") and "\n" not in message
    # the default is the raise policy; an explicit raise report behaves the same
    with pytest.raises(DataError, match=reason):
        read_nemo_manifest(manifest, max_duration_s=MAX_S, report=SkipReport("raise"))


@pytest.mark.parametrize("name, make_bad, reason", READER_CASES, ids=[c[0] for c in READER_CASES])
def test_reader_skip_records_reason(tmp_path, tone, name, make_bad, reason):
    manifest = manifest_with(tmp_path, tone, make_bad(tmp_path, tone))
    report = SkipReport("skip")
    utts = read_nemo_manifest(manifest, max_duration_s=MAX_S, report=report)
    assert [u.id for u in utts] == ["good1", "good3"]
    assert len(report) == 1 and report.skipped[0]["where"] == f"{manifest}:2"
    assert re.search(reason, report.skipped[0]["reason"])


def _nan_file(tmp_path):
    audio = np.full(1600, 0.1, np.float32)
    audio[100] = np.inf
    sf.write(str(tmp_path / "inf.wav"), audio, 16_000, subtype="FLOAT")
    return tmp_path / "inf.wav"


def _truncated_flac(tmp_path, tone):
    whole = tone(tmp_path / "whole.flac", seconds=1.0, freq_hz=1234.5).read_bytes()
    (tmp_path / "cut.flac").write_bytes(whole[: len(whole) // 2])  # header intact, frames cut off
    return tmp_path / "cut.flac"


@pytest.mark.parametrize("kind", ["nan/inf samples", "corrupt data"])
def test_validate_audio_catches_what_headers_hide(tmp_path, tone, kind):
    bad = _nan_file(tmp_path) if kind == "nan/inf samples" else _truncated_flac(tmp_path, tone)
    reason = "audio contains NaN or inf samples" if kind == "nan/inf samples" else "unreadable audio"
    (tmp_path / "m.jsonl").write_text(_line("good.wav") + "\n" + _line(bad.name) + "\n")
    tone(tmp_path / "good.wav")
    utts = read_nemo_manifest(tmp_path / "m.jsonl")  # the header looks fine
    assert len(utts) == 2

    with pytest.raises(DataError, match=f"{bad.name}: {reason}.*utterance {bad.stem}") as info:
        validate_audio(utts)
    assert "\n" not in str(info.value)

    report = SkipReport("skip")
    assert validate_audio(utts, report, jobs=2) == utts[:1]
    assert report.skipped[0]["where"] == str(bad) and reason in report.skipped[0]["reason"]


def test_validate_audio_checks_max_duration(tmp_path, tone):
    utt = Utterance("long", tone(tmp_path / "long.wav", seconds=2.0), 2.0, "x")
    report = SkipReport("skip")
    assert validate_audio([utt], report, max_duration_s=MAX_S) == []
    assert "longer than the maximum" in report.skipped[0]["reason"]


def test_skip_report_is_written_beside_the_output(tmp_path):
    report = SkipReport("skip")
    report.handle(DataError("m.jsonl:2", "missing 'text' field"))
    line = save_skip_report(report, tmp_path / "m.jsonl")
    path = skip_report_path(tmp_path / "m.jsonl")
    assert path == tmp_path / "m.jsonl.skipped.jsonl"
    assert line == f"skipped 1 bad item(s); reasons in {path}"
    assert json.loads(path.read_text()) == {"where": "m.jsonl:2", "reason": "missing 'text' field"}
    # a clean rerun removes the stale report
    assert save_skip_report(SkipReport("skip"), tmp_path / "m.jsonl") == "skipped 0 bad item(s)"
    assert not path.exists()


def test_librispeech_bad_entries(tmp_path, tone):
    folder = tmp_path / "ls" / "1" / "2"
    tone(folder / "1-2-0000.flac")
    (folder / "1-2.trans.txt").write_text("1-2-0000 HELLO\n1-2-0001 MISSING AUDIO\n1-2-0000 AGAIN\n")
    with pytest.raises(DataError, match=r"1-2\.trans\.txt:2: audio file not found: .*1-2-0001\.flac"):
        read_librispeech(tmp_path / "ls")
    report = SkipReport("skip")
    assert [u.text for u in read_librispeech(tmp_path / "ls", report=report)] == ["hello"]
    assert [item["where"] for item in report.skipped] == [f"{folder / '1-2.trans.txt'}:{n}" for n in (2, 3)]
    assert report.skipped[0]["reason"].startswith("audio file not found: ")
    assert report.skipped[1]["reason"].startswith("duplicate utterance id '1-2-0000' (first at ")


def test_kaldi_bad_entries(tmp_path, tone):
    directory = tmp_path / "kaldi"
    tone(directory / "a.wav")
    tone(directory / "c.wav")
    (directory / "wav.scp").write_text("a a.wav\nb missing.wav\nc c.wav\n")
    (directory / "text").write_text("a hello\nb there\n")
    with pytest.raises(DataError, match=r"wav\.scp:2: audio file not found"):
        read_kaldi_dir(directory)
    report = SkipReport("skip")
    assert [u.id for u in read_kaldi_dir(directory, report=report)] == ["a"]
    assert [item["where"] for item in report.skipped] == [f"{directory / 'wav.scp'}:{n}" for n in (2, 3)]
    assert "no transcript for 'c'" in report.skipped[1]["reason"]


def test_structural_errors_raise_even_when_skipping(tmp_path):
    with pytest.raises(DataError, match="nothing.jsonl: file not found"):
        read_nemo_manifest(tmp_path / "nothing.jsonl", report=SkipReport("skip"))
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="bin.jsonl: not UTF-8 text"):
        read_nemo_manifest(tmp_path / "bin.jsonl", report=SkipReport("skip"))


def wav_bytes(seconds: float) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.full(int(seconds * 16_000), 0.1, np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def test_hf_bad_rows(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"audio": [{"bytes": wav_bytes(0.5), "path": None}, {"bytes": b"garbage", "path": None},
                      {"bytes": wav_bytes(0.25), "path": None}],
            "text": ["fine", "fine", None]}
    dataset = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio(sampling_rate=16_000))
    dataset.save_to_disk(str(tmp_path / "hf"))
    with pytest.raises(DataError, match=r"hf row 1: unreadable audio bytes"):
        read_hf_dataset(tmp_path / "hf", cache_dir=tmp_path / "c")
    report = SkipReport("skip")
    assert [u.id for u in read_hf_dataset(tmp_path / "hf", cache_dir=tmp_path / "c", report=report)] == ["row-000000"]
    assert [item["where"] for item in report.skipped] == [f"{tmp_path / 'hf'} row {n}" for n in (1, 2)]
    assert report.skipped[1]["reason"].startswith("no transcript in column 'text'")
