"""The demo trusts comparison.json only once the comparison has every run (it may be spread over sessions), and
reads its scenario A (every transcript kept: the setting the demo's students are trained in)."""

import json

from speechdistill.demo.settings import finished_comparison


def test_an_incomplete_comparison_is_not_used(tmp_path):
    path = tmp_path / "comparison.json"
    assert finished_comparison(path) is None
    scenarios = {"A": {"best_method": "frame_kl", "methods": {}}, "B": {"best_method": "labels10_pseudo_labels"}}
    path.write_text(json.dumps({"scenarios": scenarios, "missing_runs": ["features:0"]}))
    assert finished_comparison(path) is None
    path.write_text(json.dumps({"scenarios": scenarios, "missing_runs": []}))
    assert finished_comparison(path)["best_method"] == "frame_kl"
    path.write_text(json.dumps({"best_method": "frame_kl", "methods": {}, "missing_runs": []}))  # an older schema
    assert finished_comparison(path) is None
