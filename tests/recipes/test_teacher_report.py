import json
from pathlib import Path

from speechdistill.data.manifests import write_nemo_manifest

from ..conftest import make_tone_utterances
from ..scripts import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "recipes" / "teachers" / "report.py"


def _load_script():
    return load_script(SCRIPT, "teacher_report")


def test_teacher_report_scores_every_split_present(tmp_path, tiny_teacher_dir, monkeypatch):
    corpus = tmp_path / "corpus"
    utts = make_tone_utterances(corpus / "audio", n=3)
    write_nemo_manifest(corpus / "test.jsonl", utts)
    write_nemo_manifest(corpus / "dev.jsonl", utts[:2])
    report = _load_script()
    teacher = str(tiny_teacher_dir("wav2vec2"))
    monkeypatch.setattr("sys.argv", ["report.py", "--teacher", f"w2v={teacher}", "--corpus", str(corpus),
                                     "--work", str(tmp_path / "work"), "--out", str(tmp_path)])
    report.main()
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert set(rows[0]["splits"]) == {"dev", "test"}
    assert rows[0]["splits"]["test"]["num_utterances"] == 3
    assert 0.0 <= rows[0]["splits"]["test"]["wer"]
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| w2v |" in table and "test_noisy" in table
