"""Manifest statistics, their text form, and `speechdistill corpus stats` end to end."""

from __future__ import annotations

import json

import pytest

from speechdistill.cli import main
from speechdistill.data.errors import DataError
from speechdistill.data.stats import duration_histogram, format_stats, manifest_stats


def write_manifest(tmp_path, tone, durations=(0.5, 1.0, 1.5, 2.5), texts=None, extra_lines=()):
    texts = texts or ["turn on the lights", "turn off the lights", "Café time", None]
    lines = []
    for i, (seconds, text) in enumerate(zip(durations, texts)):
        tone(tmp_path / "wav" / f"u{i}.wav", seconds=seconds, sample_rate=8_000)
        item = {"audio_filepath": f"wav/u{i}.wav", "duration": seconds, "speaker": f"s{i % 2}"}
        if text is not None:
            item["text"] = text
        lines.append(json.dumps(item))
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join([*lines, *extra_lines]) + "\n")
    return path


def test_manifest_stats_figures(tmp_path, tone):
    stats = manifest_stats(write_manifest(tmp_path, tone), unlabelled=True)
    assert (stats.utterances, stats.labelled, stats.speakers) == (4, 3, 2)
    assert stats.hours == pytest.approx(5.5 / 3600)
    assert stats.distinct_words == 7  # turn on the lights off café time
    assert stats.characters == "acefghilmnorstué" and stats.outside_vocab == "é"
    assert (stats.min_duration_s, stats.mean_duration_s, stats.max_duration_s) == pytest.approx((0.5, 1.375, 2.5))
    assert sum(count for _, _, count in stats.histogram) == 4 and stats.skipped == 0


def test_manifest_stats_labelled_needs_text(tmp_path, tone):
    with pytest.raises(DataError, match=r"m\.jsonl:4: missing 'text' field"):
        manifest_stats(write_manifest(tmp_path, tone))


def test_duration_histogram_uses_round_bins():
    bins = duration_histogram([0.7, 1.2, 3.9, 9.5, 16.2])
    widths = {round(hi - lo, 9) for lo, hi, _ in bins}
    assert widths == {2.0} and bins[0][0] == 0.0 and bins[-1][1] >= 16.2
    assert sum(c for *_, c in bins) == 5
    assert duration_histogram([3.0, 3.0]) == ((3.0, 3.5, 2),)
    edges = [lo for lo, _, _ in duration_histogram([0.5, 2.5])]
    assert edges == [round(0.4 + 0.2 * i, 9) for i in range(11)]  # edges on multiples of the width
    assert duration_histogram([]) == ()


def test_format_stats_is_readable(tmp_path, tone):
    text = format_stats(manifest_stats(write_manifest(tmp_path, tone), unlabelled=True))
    assert "utterances    4 (1 unlabelled)" in text
    assert "speakers      2" in text and "words         7 distinct" in text
    assert "not in the default vocabulary: é" in text
    assert "duration      min 0.50 s, mean 1.38 s, max 2.50 s" in text
    bars = [line for line in text.splitlines() if "|" in line]
    assert len(bars) >= 3 and max(line.count("#") for line in bars) == 40


def test_cli_corpus_stats(tmp_path, tone, capsys):
    manifest = write_manifest(tmp_path, tone)
    assert main(["corpus", "stats", str(manifest), "--unlabelled"]) == 0
    out = capsys.readouterr().out
    assert f"manifest      {manifest}" in out and "audio         0.00 h (0.1 min)" in out and "speakers      2" in out


def test_cli_corpus_stats_bad_manifest_exits_2(tmp_path, tone, capsys):
    manifest = write_manifest(tmp_path, tone, extra_lines=['{"audio_filepath": "wav/u0.wav", "text": '])
    assert main(["corpus", "stats", str(manifest), "--unlabelled"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"speechdistill corpus: error: {manifest}:5: malformed JSON line")


def test_cli_corpus_stats_skip_bad_writes_report(tmp_path, tone, capsys):
    manifest = write_manifest(tmp_path, tone, extra_lines=['{"audio_filepath": "wav/gone.wav", "text": "x"}'])
    assert main(["corpus", "stats", str(manifest), "--skip-bad"]) == 0
    out = capsys.readouterr().out
    report = tmp_path / "m.jsonl.skipped.jsonl"
    assert "utterances    3" in out and f"skipped       2 bad entries; reasons in {report}" in out
    reasons = [json.loads(line)["reason"] for line in report.read_text().splitlines()]
    assert reasons[0] == "missing 'text' field (pass labelled=False / --unlabelled for unlabelled audio)"
    assert reasons[1].startswith("audio file not found: ")
