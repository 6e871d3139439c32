"""recipes/synthetic_commands/compare.py on tiny data: seeds, best-by-dev selection, JSON schema, RESULTS.md."""

from __future__ import annotations

import importlib.util
import json

import pytest

from ..distill.helpers import SYNTHETIC, tiny_overrides, tiny_teachers, write_tiny_corpus


def _compare():
    spec = importlib.util.spec_from_file_location("synthetic_compare", SYNTHETIC / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_teacher_dir):
    tmp = tmp_path_factory.mktemp("compare")
    corpus, teachers = write_tiny_corpus(tmp / "corpus"), tiny_teachers(tiny_teacher_dir)
    overrides = [o for o in tiny_overrides(corpus, teachers, tmp / "unused") if not o.startswith("out_dir=")]
    results_md = tmp / "RESULTS.md"
    results_md.write_text("# Results\n\n<!-- demo:start -->\n## Demo\nkept as is\n<!-- demo:end -->\n")
    module = _compare()
    (tmp / "overrides.json").write_text(json.dumps(overrides))
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "--seeds", "2", "--work", str(tmp / "work"),
                        "--records", str(tmp / "records"), "--json", str(tmp / "comparison.json"),
                        "--results-md", str(results_md)]) == 0
    return module, tmp, json.loads((tmp / "comparison.json").read_text()), results_md.read_text()


def test_hard_only_and_the_best_kd_recipe_run_over_every_seed(compared):
    _, tmp, comparison, _ = compared
    assert comparison["best_method"] == "frame_kl"  # the only KD recipe compared
    for method in ("hard_only", "frame_kl"):
        row = comparison["methods"][method]
        assert row["seeds"] == [0, 1] and len(row["test_wer_per_seed"]) == 2
        assert row["test_wer"] == pytest.approx(sum(row["test_wer_per_seed"]) / 2)
        assert (tmp / "work" / method / "seed1" / "metrics.json").is_file()
        record = json.loads((tmp / "records" / method / "seed1.json").read_text())
        assert record["metrics"]["wer"]["test"] == row["test_wer_per_seed"][1]
    assert "missing_runs" in comparison and comparison["missing_runs"] == []


def test_schema_matches_the_issue(compared):
    _, _, comparison, _ = compared
    row = comparison["methods"]["frame_kl"]
    for key in ("dev_wer", "test_wer", "test_wer_per_seed", "seeds", "params", "teacher_params", "updates",
                "audio_hours_seen", "hardware"):
        assert key in row, key
    assert row["teacher_params"] > 0 and row["params"] > 0 and row["updates"] == 2
    assert comparison["methods"]["hard_only"]["teacher_params"] is None  # plain CTC reads no teacher


def test_results_md_gets_the_comparison_and_keeps_the_demo_section(compared):
    _, _, _, text = compared
    assert "<!-- demo:start -->\n## Demo\nkept as is\n<!-- demo:end -->" in text
    assert "## Method comparison" in text and "| frame_kl |" in text and "Best KD recipe by dev WER: `frame_kl`" in text


def test_render_only_reuses_the_records(compared):
    module, tmp, comparison, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    assert module.main([*overrides, "--render-only", "--methods", "hard_only", "frame_kl", "--records", str(tmp / "records"),
                        "--json", str(tmp / "again.json"), "--results-md", str(tmp / "again.md")]) == 0
    again = json.loads((tmp / "again.json").read_text())
    assert again["methods"]["frame_kl"]["test_wer_per_seed"] == comparison["methods"]["frame_kl"]["test_wer_per_seed"]


def test_a_later_session_reuses_records_without_the_work_folder(compared, tmp_path):
    module, tmp, comparison, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "--seeds", "2", "--work", str(tmp_path / "new"),
                        "--records", str(tmp / "records"), "--json", str(tmp_path / "c.json"),
                        "--results-md", str(tmp_path / "R.md")]) == 0
    assert not (tmp_path / "new").exists()  # nothing retrained
    assert json.loads((tmp_path / "c.json").read_text())["methods"] == comparison["methods"]


def test_records_of_other_settings_are_not_reused_and_are_named(compared, tmp_path, capsys):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    other = [o for o in overrides if not o.startswith("train.lr=")] + ["train.lr=0.0123"]
    comparison = module.collect(tmp / "records", ["hard_only", "frame_kl"], other, "x")
    assert comparison["methods"] == {}
    assert "hard_only/seed0 (recipe changed)" in capsys.readouterr().err
    print_ = module.fingerprint("frame_kl", 0, overrides)
    assert print_["teachers"] and all(len(v) == 16 for v in print_["teachers"].values())  # weights hashed


def test_a_share_of_the_comparison_runs_with_only(compared, tmp_path):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    records = tmp_path / "records"
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "--only", "hard_only", "--work",
                        str(tmp_path / "work"), "--records", str(records), "--json", str(tmp_path / "c.json"),
                        "--results-md", str(tmp_path / "R.md")]) == 0
    assert sorted(p.name for p in records.rglob("*.json")) == ["seed0.json"]
    comparison = json.loads((tmp_path / "c.json").read_text())
    assert comparison["missing_runs"] == ["frame_kl:0", "seeds 1..2 of hard_only and of the best KD method"]
    assert "Incomplete: still to run frame_kl:0" in (tmp_path / "R.md").read_text()
    with pytest.raises(SystemExit, match="--only nope"):
        module.main(["--only", "nope", "--records", str(records)])


def test_jobs_run_in_parallel_child_processes(compared, tmp_path):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "--seeds", "1", "--jobs", "2",
                        "--work", str(tmp_path / "work"), "--records", str(tmp_path / "records"), "--json", str(tmp_path / "c.json"),
                        "--results-md", str(tmp_path / "R.md")]) == 0
    for method in ("hard_only", "frame_kl"):
        run = tmp_path / "work" / method / "seed0"
        assert (run / "metrics.json").is_file() and (run / "run.log").stat().st_size > 0
    assert set(json.loads((tmp_path / "c.json").read_text())["methods"]) == {"hard_only", "frame_kl"}


def test_a_failing_child_run_names_its_log(compared, tmp_path):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text()) + [f"data.train={tmp_path / 'absent.jsonl'}"]
    with pytest.raises(RuntimeError, match=r"hard_only .* failed with exit code .*run\.log"):
        module.run_all([("hard_only", 0)] * 2, tmp_path / "work", overrides, False, jobs=2, records=tmp_path / "records")
    assert not (tmp_path / "records").exists()


def test_a_work_folder_run_of_other_settings_is_refused(compared, tmp_path):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    run = tmp_path / "work" / "hard_only" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    (run / "fingerprint.json").write_text(json.dumps({"recipe": "other", "teachers": {}, "train_texts": "x"}))
    with pytest.raises(RuntimeError, match="holds a run of other settings .*recipe, train_texts changed"):
        module.run_method("hard_only", 0, tmp_path / "work", overrides, False, records=tmp_path / "records")


def test_records_keep_the_dev_curve_and_the_plot_is_drawn(compared):
    _, tmp, comparison, text = compared
    record = json.loads((tmp / "records" / "frame_kl" / "seed0.json").read_text())
    assert [update for update, _ in record["dev_curve"]] == [2]
    assert comparison["methods"]["frame_kl"]["dev_curve"][0][1] == pytest.approx(
        sum(json.loads((tmp / "records" / "frame_kl" / f"seed{s}.json").read_text())["dev_curve"][0][1]
            for s in (0, 1)) / 2)
    assert (tmp / "comparison.png").read_bytes()[:4] == b"\x89PNG" and "(comparison.png)" in text
    assert comparison["levelling"] is None  # one evaluation: nothing to judge
    assert "Budget: 2 updates of" in text


def test_levelling_judges_the_last_quarter_of_the_budget(compared):
    module = compared[0]
    curve = [[250, 0.9], [500, 0.7], [750, 0.505], [1000, 0.5]]
    level = module.levelling({"dev_curve": curve})
    assert (level["from_update"], level["to_update"], level["levelled"]) == (750, 1000, True)
    assert level["relative_change"] == pytest.approx(-0.005 / 0.505)
    still_falling = module.levelling({"dev_curve": [[500, 0.7], [750, 0.6], [1000, 0.55]]})
    assert not still_falling["levelled"]
    comparison = {"budget": "b", "hardware": "h", "best_method": None, "levelling": still_falling,
                  "methods": {"hard_only": {"dev_wer": 0.55, "dev_wer_per_seed": [0.55], "seeds": [0], "params": 1e6}}}
    assert "NOT levelled off" in module.render(comparison) and "-8.3% relative" in module.render(comparison)


def test_a_record_without_a_dev_curve_gets_it_from_its_work_folder(compared, tmp_path):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    records = tmp_path / "records"
    (records / "hard_only").mkdir(parents=True)
    record = json.loads((tmp / "records" / "hard_only" / "seed0.json").read_text())
    del record["dev_curve"]
    (records / "hard_only" / "seed0.json").write_text(json.dumps(record))
    again = module.run_method("hard_only", 0, tmp / "work", overrides, False, records=records)
    assert [update for update, _ in again["dev_curve"]] == [2]
    assert json.loads((records / "hard_only" / "seed0.json").read_text())["dev_curve"] == again["dev_curve"]
