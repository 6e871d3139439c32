"""recipes/synthetic_commands/compare.py on tiny data: scenarios, seeds, best-by-dev selection, JSON schema,
teacher facts, verdicts, RESULTS.md."""

from __future__ import annotations

import json
import shutil

import pytest

from ..distill.helpers import (
    SYNTHETIC,
    TINY_WHISPER_WINDOW_S,
    tiny_overrides,
    tiny_teachers,
    write_tiny_corpus,
)
from ..scripts import load_script


def _compare():
    return load_script(SYNTHETIC / "compare.py", "synthetic_compare")


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_teacher_dir):
    tmp = tmp_path_factory.mktemp("compare")
    corpus, teachers = write_tiny_corpus(tmp / "corpus"), tiny_teachers(tiny_teacher_dir)
    overrides = [o for o in tiny_overrides(corpus, teachers, tmp / "unused") if not o.startswith("out_dir=")]
    results_md = tmp / "RESULTS.md"
    results_md.write_text("# Results\n\n<!-- demo:start -->\n## Demo\nkept as is\n<!-- demo:end -->\n")
    readme = tmp / "README.md"
    readme.write_text("# pkg\n\nStatus.\n<!-- distillation:start -->\nold\n<!-- distillation:end -->\nrest\n")
    module = _compare()
    (tmp / "overrides.json").write_text(json.dumps(overrides))
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "labels10_hard_only", "--seeds", "2",
                        "--work", str(tmp / "work"), "--records", str(tmp / "records"),
                        "--json", str(tmp / "comparison.json"), "--results-md", str(results_md),
                        "--readme", str(readme)]) == 0
    return module, tmp, json.loads((tmp / "comparison.json").read_text()), results_md.read_text()


@pytest.fixture(scope="module")
def with_teachers(compared):
    """``--teachers`` over a copy of the records: both tiny teachers (sequence_kd_whisper reads the Whisper one,
    although it has no run) and the baseline student timed."""
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    records = tmp / "records_teachers"
    shutil.copytree(tmp / "records", records)
    argv = [*overrides, "--teachers", "--methods", "hard_only", "frame_kl", "sequence_kd_whisper",
            "labels10_hard_only", "--seeds", "2", "--work", str(tmp / "work"), "--records", str(records),
            "--json", str(tmp / "teachers.json"), "--results-md", str(tmp / "TEACHERS.md")]
    assert module.main(argv) == 0
    return argv, records, json.loads((tmp / "teachers.json").read_text()), (tmp / "TEACHERS.md").read_text()


def test_each_scenario_runs_its_baseline_and_best_kd_recipe_over_every_seed(compared):
    _, tmp, comparison, _ = compared
    scenario_a, scenario_b = comparison["scenarios"]["A"], comparison["scenarios"]["B"]
    assert (scenario_a["baseline"], scenario_a["best_method"], scenario_a["target_ratio"]) == ("hard_only", "frame_kl", 0.8)
    assert (scenario_b["baseline"], scenario_b["best_method"], scenario_b["target_ratio"]) == ("labels10_hard_only", None, 0.6)
    assert list(scenario_a["methods"]) == ["hard_only", "frame_kl"] and list(scenario_b["methods"]) == ["labels10_hard_only"]
    for scenario, method in (("A", "hard_only"), ("A", "frame_kl"), ("B", "labels10_hard_only")):
        row = comparison["scenarios"][scenario]["methods"][method]
        assert row["seeds"] == [0, 1] and len(row["test_wer_per_seed"]) == 2
        assert row["test_wer"] == pytest.approx(sum(row["test_wer_per_seed"]) / 2)
        assert (tmp / "work" / method / "seed1" / "metrics.json").is_file()
        record = json.loads((tmp / "records" / method / "seed1.json").read_text())
        assert record["metrics"]["wer"]["test"] == row["test_wer_per_seed"][1]
    assert "missing_runs" in comparison and comparison["missing_runs"] == []


def test_the_10_percent_baseline_trains_on_a_tenth_of_the_transcripts(compared):
    _, tmp, comparison, _ = compared
    labels10 = comparison["scenarios"]["B"]["methods"]["labels10_hard_only"]
    full = comparison["scenarios"]["A"]["methods"]["hard_only"]
    assert labels10["audio_hours_seen"] < full["audio_hours_seen"]  # one of the 6 tiny utterances keeps its text
    assert comparison["scenarios"]["B"]["verdict"] is None  # no KD method in B compared


def test_schema_matches_the_issue(compared):
    _, _, comparison, _ = compared
    assert {"budget", "hardware", "plot", "missing_runs", "scenarios", "verdicts"} <= set(comparison)
    for key in ("title", "baseline", "best_method", "target_ratio", "levelling", "methods", "verdict"):
        assert key in comparison["scenarios"]["A"], key
    row = comparison["scenarios"]["A"]["methods"]["frame_kl"]
    for key in ("dev_wer", "test_wer", "test_wer_per_seed", "seeds", "params", "teacher_params", "updates",
                "audio_hours_seen", "hardware", "relative_to_teacher", "rtf_ratio"):
        assert key in row, key
    assert row["teacher_params"] > 0 and row["params"] > 0 and row["updates"] == 2
    assert row["relative_to_teacher"] == {} and row["rtf_ratio"] == {}  # no teacher facts measured here
    assert comparison["scenarios"]["A"]["methods"]["hard_only"]["teacher_params"] is None  # plain CTC: no teacher
    verdict = comparison["scenarios"]["A"]["verdict"]
    hard, best = comparison["scenarios"]["A"]["methods"]["hard_only"], row
    assert verdict["best_method"] == "frame_kl"
    assert verdict["test_ratio"] == pytest.approx(best["test_wer"] / hard["test_wer"])
    assert verdict["met"] == (verdict["test_ratio"] <= 0.8)


def test_results_md_gets_the_comparison_and_keeps_the_demo_section(compared):
    _, _, comparison, text = compared
    assert "<!-- demo:start -->\n## Demo\nkept as is\n<!-- demo:end -->" in text
    assert "## Method comparison" in text and "| frame_kl |" in text and "| labels10_hard_only |" in text
    assert "### Scenario A: labelled" in text and "### Scenario B: 10% labelled" in text
    assert text.index("| frame_kl |") < text.index("### Scenario B") < text.index("| labels10_hard_only |")
    ratio = comparison["scenarios"]["A"]["verdict"]["test_ratio"]
    assert f"Scenario A target: the best KD recipe by dev WER, `frame_kl`, has {ratio:.2f}x hard_only's" in text
    assert "Scenario B target (best KD recipe's test WER <= 0.6x labels10_hard_only's): not judged yet" in text
    assert "| method | dev | test | unseen voices | unseen engine | noisy | seeds | params | teacher params |" in text


def test_readme_summary_is_written_between_its_markers_from_the_comparison(compared):
    _, tmp, comparison, _ = compared
    text = (tmp / "README.md").read_text()
    assert text.startswith("# pkg\n\nStatus.\n<!-- distillation:start -->\n") and text.endswith("<!-- distillation:end -->\nrest\n")
    assert "\nold\n" not in text
    a = comparison["scenarios"]["A"]
    hard, best = a["methods"]["hard_only"], a["methods"]["frame_kl"]
    seeds = {row["seeds"].__len__() for row in (hard, best)}
    assert seeds == {2}  # the fixture's --seeds 2 reaches the baseline and the best recipe
    assert (f"`hard_only` {hard['test_wer'] * 100:.1f}% test WER (2 seeds); the best KD recipe by dev WER, "
            f"`frame_kl`, {best['test_wer'] * 100:.1f}% (2 seeds): {a['verdict']['test_ratio']:.2f}x "
            "(target <= 0.8x, ") in text
    assert "`labels10_hard_only`" in text and "no KD recipe has run yet." in text  # scenario B: baseline alone
    missing = comparison["missing_runs"]
    assert (f"- **Still to run:** {', '.join(missing)}." if missing else "- Every planned run is in.") in text


def test_render_only_reuses_the_records(compared):
    module, tmp, comparison, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    assert module.main([*overrides, "--render-only", "--methods", "hard_only", "frame_kl", "--records", str(tmp / "records"),
                        "--json", str(tmp / "again.json"), "--results-md", str(tmp / "again.md")]) == 0
    again = json.loads((tmp / "again.json").read_text())
    assert again["scenarios"]["A"]["methods"]["frame_kl"] == comparison["scenarios"]["A"]["methods"]["frame_kl"]
    assert set(again["scenarios"]) == {"A"}  # no scenario-B method compared this time


def test_a_later_session_reuses_records_without_the_work_folder(compared, tmp_path):
    module, tmp, comparison, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    assert module.main([*overrides, "--methods", "hard_only", "frame_kl", "--seeds", "2", "--work", str(tmp_path / "new"),
                        "--records", str(tmp / "records"), "--json", str(tmp_path / "c.json"),
                        "--results-md", str(tmp_path / "R.md")]) == 0
    assert not (tmp_path / "new").exists()  # nothing retrained
    again = json.loads((tmp_path / "c.json").read_text())
    assert {key: s["methods"] for key, s in again["scenarios"].items()} == \
        {"A": {m: comparison["scenarios"]["A"]["methods"][m] for m in ("hard_only", "frame_kl")}}


def test_records_of_other_settings_are_not_reused_and_are_named(compared, tmp_path, capsys):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    other = [o for o in overrides if not o.startswith("train.lr=")] + ["train.lr=0.0123"]
    comparison = module.collect(tmp / "records", ["hard_only", "frame_kl"], other, "x")
    assert comparison["scenarios"]["A"]["methods"] == {}
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
    assert comparison["missing_runs"] == ["frame_kl:0", "hard_only:1", "hard_only:2", "seeds 1..2 of scenario A's best KD method"]
    assert set(comparison["scenarios"]) == {"A"}
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
    assert set(json.loads((tmp_path / "c.json").read_text())["scenarios"]["A"]["methods"]) == {"hard_only", "frame_kl"}


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
    assert comparison["scenarios"]["A"]["methods"]["frame_kl"]["dev_curve"][0][1] == pytest.approx(
        sum(json.loads((tmp / "records" / "frame_kl" / f"seed{s}.json").read_text())["dev_curve"][0][1]
            for s in (0, 1)) / 2)
    assert (tmp / "comparison.png").read_bytes()[:4] == b"\x89PNG" and "(comparison.png)" in text
    assert comparison["scenarios"]["A"]["levelling"] is None  # one evaluation: nothing to measure
    assert "Budget: 2 updates of" in text


def test_levelling_measures_the_last_quarter_of_the_budget(compared):
    module = compared[0]
    curve = [[250, 0.9], [500, 0.7], [750, 0.505], [1000, 0.5]]
    level = module.levelling({"dev_curve": curve})
    assert (level["from_update"], level["to_update"]) == (750, 1000)
    assert level["relative_change"] == pytest.approx(-0.005 / 0.505)
    still_falling = module.levelling({"dev_curve": [[500, 0.7], [750, 0.6], [1000, 0.55]]})
    rows = {"hard_only": {"dev_wer": 0.55, "dev_wer_per_seed": [0.55], "seeds": [0], "params": 1e6,
                          "dev_curve": [[500, 0.7], [750, 0.6], [1000, 0.55]]}}
    comparison = {"budget": "b", "hardware": "h", "scenarios": module.by_scenario(rows, ["hard_only"])}
    assert comparison["scenarios"]["A"]["levelling"] == still_falling
    text = module.render(comparison)
    assert "Budget: over its last quarter hard_only's dev WER still moved -8.3% relative (60.0% at update 750 -> " \
           "55.0% at 1000)." in text
    assert "levelled" not in text and "too short" not in text  # a statement, no verdict


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


def _row(dev: float, test: float, engine: float, teachers: dict | None = None, params: int = 1_000_000) -> dict:
    return {"dev_wer": dev, "dev_wer_per_seed": [dev], "test_wer": test, "test_wer_per_seed": [test],
            "test_unseen_engine_wer": engine, "test_unseen_engine_wer_per_seed": [engine], "seeds": [0],
            "params": params, "teacher_params": None, "teachers": teachers or {}}


FAKE_METHODS = ["hard_only", "frame_kl", "sequence_kd_whisper", "multi_teacher", "labels10_hard_only",
                "labels10_pseudo_labels", "labels10_unlabelled_kd"]


@pytest.fixture
def fake(compared):
    """Rows of both scenarios (no runs behind them): the per-scenario choice and the verdicts on known figures."""
    module = compared[0]
    w2v, whisper = {"w2v": "ctc"}, {"whisper": "whisper-base"}
    rows = {"hard_only": _row(0.30, 0.30, 0.60), "frame_kl": _row(0.20, 0.26, 0.55, w2v),
            "sequence_kd_whisper": _row(0.25, 0.25, 0.45, whisper),
            "multi_teacher": _row(0.22, 0.23, 0.40, {**w2v, **whisper}),
            "labels10_hard_only": _row(0.60, 0.60, 0.90), "labels10_pseudo_labels": _row(0.40, 0.33, 0.70, whisper),
            "labels10_unlabelled_kd": _row(0.45, 0.30, 0.60, {**w2v, **whisper})}
    comparison = {"budget": "b", "hardware": "h", "scenarios": module.by_scenario(rows, FAKE_METHODS),
                  "teachers": {"w2v": {"spec": "ctc", "decoding": "greedy", "params": 20_000_000},
                               "whisper": {"spec": "whisper-base", "decoding": "beam 5", "params": 70_000_000}}}
    return module, {**comparison, "verdicts": module.verdicts(comparison)}


def test_each_scenario_picks_its_best_kd_method_by_dev_wer(fake):
    module, comparison = fake
    scenarios = comparison["scenarios"]
    assert scenarios["A"]["best_method"] == "frame_kl"  # lowest dev WER, although not the lowest test WER
    assert scenarios["B"]["best_method"] == "labels10_pseudo_labels"
    assert list(scenarios["B"]["methods"]) == ["labels10_hard_only", "labels10_pseudo_labels", "labels10_unlabelled_kd"]
    assert [module.scenario_of(m) for m in ("hard_only", "all", "labels10_hard_only")] == ["A", "A", "B"]
    assert module.METHODS[0] == "hard_only" and "streaming_kd" not in module.METHODS
    b_methods = [m for m in module.METHODS if module.scenario_of(m) == "B"]
    assert module.METHODS[-len(b_methods):] == tuple(b_methods)  # scenario A, then B
    assert not b_methods or b_methods[0] == "labels10_hard_only"  # each scenario's baseline first
    later = [run for run in module.planned_runs(FAKE_METHODS, comparison, 3) if run[1] > 0]
    assert later == [("hard_only", 1), ("hard_only", 2), ("frame_kl", 1), ("frame_kl", 2),
                     ("labels10_hard_only", 1), ("labels10_hard_only", 2),
                     ("labels10_pseudo_labels", 1), ("labels10_pseudo_labels", 2)]
    assert module.missing_runs(FAKE_METHODS, comparison, 3)[:2] == ["hard_only:1", "hard_only:2"]


def test_verdicts_per_scenario_whisper_on_the_unseen_engine_and_student_size(fake):
    module, comparison = fake
    assert comparison["scenarios"]["A"]["verdict"] == {"best_method": "frame_kl",
                                                       "test_ratio": pytest.approx(0.26 / 0.30), "met": False}
    assert comparison["scenarios"]["B"]["verdict"] == {"best_method": "labels10_pseudo_labels",
                                                       "test_ratio": pytest.approx(0.55), "met": True}
    whisper = comparison["verdicts"]["whisper_unseen_engine"]
    assert whisper["methods"] == ["multi_teacher", "sequence_kd_whisper"]  # scenario A's Whisper readers only
    assert (whisper["best_method"], whisper["met"]) == ("multi_teacher", True)
    assert whisper["relative_cut"] == pytest.approx(1 - 0.40 / 0.60)
    size = comparison["verdicts"]["student_size"]
    assert (size["teacher"], size["teacher_params"], size["met"]) == ("w2v", 20_000_000, True)
    assert size["ratio"] == pytest.approx(0.05)
    text = module.render(comparison)
    assert "`frame_kl`, has 0.87x hard_only's test WER (target <= 0.8x): not met." in text
    assert "`labels10_pseudo_labels`, has 0.55x labels10_hard_only's test WER (target <= 0.6x): met." in text
    assert ("Distillation from Whisper cuts test_unseen_engine WER by >= 30% relative against hard_only: best of "
            "`multi_teacher`, `sequence_kd_whisper` is `multi_teacher`, +33.3% cut: met.") in text
    assert "Student size: 1.00M parameters, 0.050 of the smallest teacher's (w2v, 20.00M in use; " \
           "target <= 1/8): met." in text
    unmeasured = {**comparison, "teachers": {}}
    unmeasured["verdicts"] = module.verdicts(unmeasured)
    assert unmeasured["verdicts"]["student_size"] is None  # a record's count sees a whisper-ctc head alone
    assert "Student size against the smallest teacher (target <= 1/8): not judged yet" in module.render(unmeasured)
    assert "| hard_only (`ctc`)" not in text and "| w2v (`ctc`) | greedy | 20.00M | - | - |" in text  # unmeasured: "-"


def test_teacher_facts_are_measured_recorded_and_used(compared, with_teachers):
    module, tmp, _, _ = compared
    _, records, comparison, text = with_teachers
    teachers = {name: json.loads((records / "_teachers" / f"{name}.json").read_text()) for name in ("w2v", "whisper")}
    student = json.loads((records / "_student_rtf.json").read_text())
    assert student["student"] == str(tmp / "work" / "hard_only" / "seed0" / "best") and student["params"] > 0
    for facts in teachers.values():
        assert set(facts["wer"]) == {"dev", "test"} and facts["utterances"] == {"dev": 2, "test": 2}
        assert facts["rtf_1thread"]["median"] > 0 and facts["rtf_1thread"]["utterances"] == 2
        assert facts["params"] > 0 and facts["cpu"] == student["cpu"]
        assert facts["fingerprint"]["weights"] == module.weights_digest(facts["spec"]) and len(facts["spec"]) > 0
    # the Whisper teacher as the recipes reading it run it: its window shortened, CTranslate2's beam search
    assert teachers["whisper"]["decoding"] == f"beam 5, {TINY_WHISPER_WINDOW_S:g} s window, ctranslate2 int8"
    assert teachers["w2v"]["decoding"] == "greedy"
    rows = comparison["scenarios"]["A"]["methods"]
    for name in ("hard_only", "frame_kl"):
        row = rows[name]
        for teacher, facts in teachers.items():
            if facts["wer"]["test"] > 0:
                assert row["relative_to_teacher"][teacher]["test"] == pytest.approx(
                    row["test_wer"] / facts["wer"]["test"])
            assert row["rtf_ratio"][teacher] == pytest.approx(
                facts["rtf_1thread"]["median"] / student["rtf_1thread"]["median"])
    assert rows["frame_kl"]["teacher_params"] == teachers["w2v"]["params"]  # in use, not the safetensors count
    assert comparison["verdicts"]["student_size"]["teacher_params"] == min(t["params"] for t in teachers.values())
    assert "### Teachers" in text and "| method | test WER / w2v's | test WER / whisper's | w2v's RTF / student's" in text
    ratio = rows["frame_kl"]["rtf_ratio"]["w2v"]
    assert "| frame_kl | " in text and f"{ratio:.1f}x" in text
    assert "sequence_kd_whisper:0" in comparison["missing_runs"]  # read for its teacher, never run here


def test_teacher_facts_are_kept_when_fresh_and_named_when_stale(compared, with_teachers, capsys):
    module, tmp, _, _ = compared
    argv, records, _, _ = with_teachers
    before = (records / "_teachers" / "w2v.json").read_text()
    capsys.readouterr()
    assert module.main(argv) == 0
    out = capsys.readouterr().out
    assert "w2v: kept" in out and "student: kept" in out
    assert (records / "_teachers" / "w2v.json").read_text() == before
    facts = json.loads(before)
    facts["fingerprint"]["weights"] = "0" * 16  # as if the teacher had been retrained since
    (records / "_teachers" / "w2v.json").write_text(json.dumps(facts))
    overrides = json.loads((tmp / "overrides.json").read_text())
    comparison = module.collect(records, ["hard_only", "frame_kl"], overrides, "x")
    assert "_teachers/w2v (weights changed)" in capsys.readouterr().err
    assert "wer" not in comparison["teachers"]["w2v"]
    assert "w2v" not in comparison["scenarios"]["A"]["methods"]["frame_kl"]["relative_to_teacher"]
    assert "w2v" not in comparison["scenarios"]["A"]["methods"]["frame_kl"]["rtf_ratio"]
    assert module.main(argv) == 0  # measured again, and the student timed again beside it
    out = capsys.readouterr().out
    assert "w2v: kept" not in out and "whisper: kept" in out and "student: kept" not in out
    assert json.loads((records / "_teachers" / "w2v.json").read_text())["fingerprint"] == json.loads(before)["fingerprint"]


def test_teachers_time_no_student_of_other_settings(compared, tmp_path, capsys):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    other = [o for o in overrides if not o.startswith("train.lr=")] + ["train.lr=0.0123"]
    module.measure_teachers(["hard_only"], other, tmp_path / "records", tmp / "work", 3)  # hard_only reads no teacher
    assert "no finished baseline run of these settings to time" in capsys.readouterr().out
    assert not (tmp_path / "records" / "_student_rtf.json").exists()


def test_teachers_time_a_later_seed_when_seed_0_is_gone(compared, tmp_path, capsys):
    module, tmp, _, _ = compared
    overrides = json.loads((tmp / "overrides.json").read_text())
    shutil.copytree(tmp / "work" / "hard_only" / "seed1", tmp_path / "work" / "hard_only" / "seed1")
    module.measure_teachers(["hard_only"], overrides, tmp_path / "records", tmp_path / "work", 2)
    student = json.loads((tmp_path / "records" / "_student_rtf.json").read_text())
    assert student["student"] == str(tmp_path / "work" / "hard_only" / "seed1" / "best")
