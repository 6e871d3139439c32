"""`speechdistill eval` and `speechdistill transcribe` end to end on a tiny manifest and a tiny random teacher."""

import json

import pytest

from speechdistill.cli import main
from speechdistill.data.manifests import write_nemo_manifest
from tests.conftest import make_tone_utterances


@pytest.fixture
def manifest(tmp_path):
    return write_nemo_manifest(tmp_path / "test.jsonl", make_tone_utterances(tmp_path / "audio", n=5))


def test_eval_writes_metrics_and_one_line_per_utterance(tiny_teacher_dir, manifest, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(tiny_teacher_dir("wav2vec2")), "--manifest", str(manifest),
                 "--out", str(out), "--batch-seconds", "2", "--device", "cpu"]) == 0
    summary = capsys.readouterr().out.splitlines()[0]
    assert summary.startswith("WER ") and "CER" in summary and "5 utterances" in summary
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("wer", "cer", "num_utterances", "wer_ci95", "substitutions", "deletions", "insertions",
                "ref_words", "model", "manifest", "decoder", "skipped", "top_substitutions"):
        assert key in metrics
    assert metrics["num_utterances"] == 5 and metrics["skipped"] == 0 and metrics["decoder"] == "greedy"
    errors = metrics["substitutions"] + metrics["deletions"] + metrics["insertions"]
    assert metrics["wer"] == pytest.approx(errors / metrics["ref_words"])
    lo, hi = metrics["wer_ci95"]
    assert lo <= metrics["wer"] <= hi
    rows = [json.loads(line) for line in (out / "utterances.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and {"id", "ref", "hyp", "errors", "ref_words"} <= rows[0].keys()
    assert sum(r["errors"] for r in rows) == errors and rows[0]["ref"] == "turn on the lights"


def _unigram_arpa(path, words):
    """A word ARPA model: uniform unigrams plus one bigram (KenLM wants an order of 2 or more)."""
    unigrams = ["<unk>", "<s>", "</s>", *sorted(words)]
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", "ngram 2=1", "", "\\1-grams:"]
    lines += [f"-1.0\t{w}\t-0.3" if w == "<s>" else f"-1.0\t{w}\t0" for w in unigrams]
    lines += ["", "\\2-grams:", f"-0.5\t<s> {sorted(words)[0]}", "", "\\end\\", ""]
    path.write_text("\n".join(lines))
    return path


def test_beam_search_with_a_lexicon_from_training_text_and_a_kenlm_model(tiny_teacher_dir, manifest, tmp_path):
    out = tmp_path / "beam"
    words = {w for line in manifest.read_text().splitlines() for w in json.loads(line)["text"].split()}
    arpa = _unigram_arpa(tmp_path / "lm.arpa", words)
    assert main(["eval", "--model", str(tiny_teacher_dir("wav2vec2")), "--manifest", str(manifest), "--out", str(out),
                 "--decoder", "beam", "--beam-size", "8", "--lexicon", str(manifest), "--lm", str(arpa),
                 "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["decoder"] == "beam" and metrics["beam_size"] == 8 and metrics["lexicon"].startswith("built from")
    assert metrics["lm"] == str(arpa)
    words = {line.split()[0] for line in (out / "lexicon.txt").read_text().splitlines()}
    hyps = [json.loads(line)["hyp"] for line in (out / "utterances.jsonl").read_text().splitlines()]
    assert all(set(h.split()) <= words for h in hyps)


def test_bad_entries_error_or_are_skipped_and_reported(tiny_teacher_dir, manifest, tmp_path, capsys):
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines + ['{"audio_filepath": "missing.flac", "text": "stop"}']) + "\n")
    model = str(tiny_teacher_dir("wav2vec2"))
    assert main(["eval", "--model", model, "--manifest", str(manifest), "--device", "cpu"]) == 2
    assert "audio file not found" in capsys.readouterr().err
    out = tmp_path / "skip"
    assert main(["eval", "--model", model, "--manifest", str(manifest), "--out", str(out), "--skip-bad",
                 "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped"] == 1 and metrics["num_utterances"] == 5
    assert len((out / "skipped.jsonl").read_text().splitlines()) == 1


def test_empty_manifest_and_unknown_model_dir_exit_2_with_one_line(tiny_teacher_dir, manifest, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", "--model", str(tiny_teacher_dir("wav2vec2")), "--manifest", str(empty),
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "empty manifest" in err
    unknown = tmp_path / "not_a_model"
    unknown.mkdir()
    assert main(["eval", "--model", str(unknown), "--manifest", str(manifest), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "known model kinds" in err


def test_transcribe_prints_one_line_per_file(tiny_teacher_dir, tmp_path, capsys):
    paths = [str(u.audio_path) for u in make_tone_utterances(tmp_path / "audio", n=3)]
    model = str(tiny_teacher_dir("wav2vec2"))
    assert main(["transcribe", "--model", model, *paths, "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == paths
    assert main(["transcribe", "--model", model, "--timestamps", paths[0], "--device", "cpu"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    path, text, words = line.split("\t")
    assert path == paths[0] and len(words.split()) == len(text.split())


def test_whisper_model_with_whisper_normaliser_skips_audio_longer_than_its_window(tiny_teacher_dir, tmp_path):
    utts = make_tone_utterances(tmp_path / "audio", n=6)
    manifest = write_nemo_manifest(tmp_path / "m.jsonl", utts)
    too_long = sum(u.duration_s > 1.0 for u in utts)  # the tiny Whisper teacher's window is 1 s
    assert 0 < too_long < len(utts)
    out = tmp_path / "whisper"
    assert main(["eval", "--model", str(tiny_teacher_dir("whisper")), "--manifest", str(manifest), "--out", str(out),
                 "--normalizer", "whisper", "--skip-bad", "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped"] == too_long and metrics["num_utterances"] == len(utts) - too_long
    assert metrics["model_family"] == "whisper" and metrics["normalizer"] == "whisper"
    assert "longer than the maximum" in (out / "skipped.jsonl").read_text()


def test_nothing_left_after_skipping_is_an_error(tiny_teacher_dir, tmp_path, capsys):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"audio_filepath": "missing.flac", "text": "stop"}\n')
    assert main(["eval", "--model", str(tiny_teacher_dir("wav2vec2")), "--manifest", str(manifest), "--skip-bad",
                 "--device", "cpu"]) == 2
    assert "all 1 skipped; reasons in" in capsys.readouterr().err
    assert (tmp_path / "bad.jsonl.skipped.jsonl").is_file()
