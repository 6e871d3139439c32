"""report.md, pareto.png and the README updater, from a hand-made results dict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechdistill.bench.plot import pareto_points, write_pareto
from speechdistill.bench.readme import (
    END,
    START,
    MarkersMissing,
    latest_results,
    replace_block,
    update_readme,
)
from speechdistill.bench.report import render_report, write_report
from tests.bench.helpers import sample_results

from ..scripts import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "update_readme.py"


def write_run(root: Path, name: str, results: dict) -> Path:
    """A results folder as the runner leaves it."""
    out = root / name
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(results))
    write_report(out, results)
    write_pareto(out / "pareto.png", results)
    return out


def update_readme_script():
    return load_script(SCRIPT, "update_readme")


def test_report_has_labels_and_a_percent_table_per_manifest():
    report = render_report(sample_results())
    assert report.count("| Model | Role | Runtime | WER | CER |") == 2
    assert "## test_noisy" in report and "| big | teacher | torch-fp32 | 5.00% | 2.00% | 0.400 |" in report
    assert "| 8.40M |" in report and "| – |" in report  # PocketSphinx has no parameter count
    assert "synthetic test corpus" in report and "Test CPU @ 1 GHz" in report
    assert "an x86 core stands in for a phone core" in report and "![WER vs one-thread RTF](pareto.png)" in report


def test_pareto_is_a_png_of_the_first_manifest(tmp_path):
    manifest, points = pareto_points(sample_results())
    assert manifest == "test" and [p[0] for p in points] == ["big (torch-fp32)", "pocketsphinx-general (pocketsphinx)"]
    assert write_pareto(tmp_path / "p.png", sample_results()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_block_is_replaced_and_the_rest_kept(tmp_path):
    root = tmp_path / "benchmarks" / "results"
    write_run(root, "2030-01-01_sample", sample_results())
    newest = write_run(root, "2030-01-02_sample", sample_results())
    write_run(root, "2030-01-03_sample-quick", sample_results(quick=True))
    other = root / "2030-01-04_update_time"  # another benchmark script's folder, not a runner report
    other.mkdir(parents=True)
    (other / "results.json").write_text(json.dumps({"seconds_per_update": {}}))
    assert latest_results(root) == newest
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\nintro\n\n{START}\nold text\n{END}\n\n## After\n")
    assert update_readme(readme, newest)
    text = readme.read_text()
    assert text.startswith("# Project\n\nintro\n\n" + START) and text.endswith(END + "\n\n## After\n")
    assert "old text" not in text and "| Model | Role | Runtime | WER |" in text
    assert "![WER against one-thread real-time factor](benchmarks/results/2030-01-02_sample/pareto.png)" in text
    assert "synthetic test corpus" in text and "do not edit by hand" in text
    assert not update_readme(readme, newest)  # a second run changes nothing


def test_script_updates_the_newest_and_exits_2_without_markers(tmp_path, capsys):
    root = tmp_path / "results"
    write_run(root, "2030-01-02_sample", sample_results())
    script = update_readme_script()
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{START}\n{END}\n")
    assert script.main(["--readme", str(readme), "--results-root", str(root)]) == 0
    assert "| big |" in readme.read_text()
    bare = tmp_path / "BARE.md"
    bare.write_text("no markers here\n")
    assert script.main(["--readme", str(bare), "--results-root", str(root)]) == 2
    assert START in capsys.readouterr().err and bare.read_text() == "no markers here\n"
    assert script.main(["--readme", str(readme), "--results-root", str(tmp_path / "none")]) == 2


def test_markers_out_of_order_are_refused():
    with pytest.raises(MarkersMissing):
        replace_block(f"{END}\n{START}\n", "block")


def test_scripts_start_with_usage():
    for script in (SCRIPT, SCRIPT.with_name("run.py")):
        assert "Usage:" in script.read_text().split('"""')[1]
