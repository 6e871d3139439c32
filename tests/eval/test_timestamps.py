"""Word timestamps by forced alignment on synthetic CTC log-probabilities whose answer is known."""

import pytest
import torch

from speechdistill.decode.timestamps import spell_words, word_timestamps

LABELS = ("<pad>", "|", "a", "b", "c")


def _peaked(path: str, labels=LABELS, peak: float = 0.9) -> torch.Tensor:
    """(frames, labels) log-probs where frame i puts about ``peak`` on label ``path[i]`` ('_' = blank).

    The other labels get slightly different small probabilities: with exactly equal ones, paths tie and
    forced_align can return a worse one (pytorch/audio#4221), which real model outputs do not run into.
    """
    symbols = {"_": 0, **{label: i for i, label in enumerate(labels)}}
    probs = torch.rand(len(path), len(labels), generator=torch.Generator().manual_seed(0)) * 0.02 + 0.01
    for frame, symbol in enumerate(path):
        probs[frame, symbols[symbol]] = peak
    return (probs / probs.sum(-1, keepdim=True)).log()


def test_words_start_and_end_where_their_letters_are():
    log_probs = _peaked("__aa_b|cc_")  # frames of 20 ms
    words = word_timestamps(log_probs, "ab c", LABELS, frame_period_ms=20.0)
    assert [w.word for w in words] == ["ab", "c"]
    assert [w.start_s for w in words] == pytest.approx([0.04, 0.14])
    assert [w.end_s for w in words] == pytest.approx([0.12, 0.18])
    assert all(0.8 < w.score < 0.95 for w in words)


def test_repeated_letters_and_frame_period():
    words = word_timestamps(_peaked("_a_a__b_"), "aa b", LABELS, frame_period_ms=40.0)
    # no '|' frame: the delimiter's one frame comes out of the blanks between the words
    assert words[0].word == "aa" and words[0].start_s == pytest.approx(0.04) and words[0].end_s == pytest.approx(0.16)
    assert words[1].start_s == pytest.approx(0.24) and words[1].end_s == pytest.approx(0.28)


def test_empty_text_too_few_frames_and_unknown_letters():
    assert word_timestamps(_peaked("___"), "", LABELS, 20.0) == []
    with pytest.raises(ValueError, match="cannot align"):
        word_timestamps(_peaked("ab"), "abc", LABELS, 20.0)
    with pytest.raises(ValueError, match="no label for 'z'"):
        word_timestamps(_peaked("ab"), "z", LABELS, 20.0)


def test_capital_letter_labels_spell_lower_case_text():
    upper = ("<pad>", "|", "A", "B")
    assert spell_words("ab ba", upper) == [[2, 3], [3, 2]]
    words = word_timestamps(_peaked("_A|B_", upper), "a b", upper, 20.0)
    assert [w.word for w in words] == ["a", "b"]
    assert [w.start_s for w in words] == pytest.approx([0.02, 0.06])
    assert [w.end_s for w in words] == pytest.approx([0.04, 0.08])
