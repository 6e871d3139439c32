"""TeacherRequests and student layers derived from loss configs; the live source asks for nothing more."""

from __future__ import annotations

import pytest
import torch

from speechdistill.config import ConfigError
from speechdistill.data.dataset import Batch
from speechdistill.distill.live import LiveTeacherSource
from speechdistill.distill.requests import section_needs, teacher_requests
from speechdistill.distill.sources import TeacherRequest
from speechdistill.teachers.base import TeacherOutput

TWO = ("w2v", "whisper")


def _requests(section: dict, names=TWO) -> dict[str, TeacherRequest]:
    return teacher_requests(section_needs(section), names)


def test_each_loss_asks_only_for_what_it_reads():
    assert _requests({"mix": {"alpha": 1.0}, "ctc": {}}) == {}
    assert _requests({"frame_kl": {"teacher": "w2v"}}) == {"w2v": TeacherRequest(log_probs=True)}
    assert _requests({"sequence_kd": {"teacher": "whisper", "nbest": 3}}) == {
        "whisper": TeacherRequest(nbest=3, log_probs=False)}
    assert _requests({"feature": {"teacher": "w2v", "layers": {4: 10, 2: 5}}}) == {
        "w2v": TeacherRequest(hidden_layers=(5, 10), log_probs=False)}
    assert _requests({"attention": {"teacher": "w2v", "layers": {4: 10}}}) == {
        "w2v": TeacherRequest(attentions=True, log_probs=False)}


def test_student_layers_come_from_the_layer_maps():
    needs = section_needs({"feature": {"teacher": "w2v", "layers": {4: 10, 2: 5}},
                           "attention": {"teacher": "w2v", "layers": {3: 6}}})
    assert needs.student_hidden == (2, 4) and needs.student_attentions == (3,)


def test_requests_for_one_teacher_merge():
    got = _requests({"frame_kl": {"teacher": "w2v"}, "sequence_kd": {"teacher": "w2v", "nbest": 2},
                     "feature": {"teacher": "w2v", "layers": {1: 3}}, "attention": {"teacher": "w2v", "layers": {1: 3}}})
    assert got == {"w2v": TeacherRequest(hidden_layers=(3,), attentions=True, nbest=2, log_probs=True)}


def test_nbest_needed_to_rank_a_one_best_posterior():
    assert _requests({"sequence_kd": {"teacher": "w2v", "nbest": 1}})["w2v"].nbest == 1
    assert _requests({"sequence_kd": {"teacher": "w2v", "nbest": 1, "min_posterior": 0.5}})["w2v"].nbest >= 2
    assert _requests({"sequence_kd": {"teacher": "w2v"}})["w2v"].nbest >= 2  # nbest: null = "all"


def test_multi_teacher_modes():
    fixed = {"multi_teacher": {"teachers": {"w2v": {"losses": {"frame_kl": {}}},
                                            "whisper": {"losses": {"sequence_kd": {"nbest": 1}}}}}}
    assert _requests(fixed) == {"w2v": TeacherRequest(log_probs=True),
                                "whisper": TeacherRequest(nbest=1, log_probs=False)}
    average = {"multi_teacher": {"mode": "average", "teachers": {"w2v": {}, "whisper": {}},
                                 "losses": {"frame_kl": {}}}}
    assert all(r.log_probs for r in _requests(average).values())
    best = {"multi_teacher": {"mode": "best", "teachers": {"w2v": {}, "whisper": {}},
                              "losses": {"sequence_kd": {"nbest": 1}}}}
    assert all(r.nbest >= 2 and not r.log_probs for r in _requests(best).values())


def test_teacher_names_are_resolved_or_refused():
    assert _requests({"frame_kl": {}}, ("w2v",)) == {"w2v": TeacherRequest(log_probs=True)}
    with pytest.raises(ConfigError, match="give it a 'teacher' key"):
        _requests({"frame_kl": {}})
    with pytest.raises(ConfigError, match="'hubert' is not under teachers"):
        _requests({"frame_kl": {"teacher": "hubert"}})
    with pytest.raises(ConfigError, match="unknown loss 'frame_kll'"):
        _requests({"frame_kll": {}})


class _SpyTeacher:
    family = "ctc"

    def __init__(self):
        self.calls = []

    def __call__(self, waveforms, lengths, **kwargs):
        self.calls.append(kwargs)
        frames = lengths // 320
        return TeacherOutput(lengths=frames, frame_period_ms=20.0, labels=("<pad>", "a"),
                             log_probs=torch.zeros(len(lengths), int(frames.max()), 2))


def _batch() -> Batch:
    return Batch(("a", "b"), torch.zeros(2, 3200), torch.tensor([3200, 1600]), torch.full((2, 1), -100),
                 torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.bool), (None, None))


def test_live_source_passes_each_request_and_drops_unread_posteriors():
    spies = {"a": _SpyTeacher(), "b": _SpyTeacher()}
    source = LiveTeacherSource(spies, {"a": TeacherRequest(hidden_layers=(2,), attentions=True, nbest=3),
                                       "b": TeacherRequest(log_probs=False)})
    out = source.outputs(_batch())
    assert spies["a"].calls == [{"hidden_layers": (2,), "attentions": True, "nbest": 3}]
    assert spies["b"].calls == [{"hidden_layers": (), "attentions": False, "nbest": 0}]
    assert out["a"].log_probs is not None and out["b"].log_probs is None
    assert source.names == ("a", "b")


def test_a_whisper_teacher_cannot_serve_frame_losses():
    spy = _SpyTeacher()
    spy.family = "whisper"
    with pytest.raises(ConfigError, match="no CTC posteriors"):
        LiveTeacherSource({"whisper": spy}, {"whisper": TeacherRequest(log_probs=True)})
