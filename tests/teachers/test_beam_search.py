"""CTC beam search wrapper (speechdistill.decode.beam): scores, N-best merging, lexicon and KenLM options."""

import math

import pytest
import torch
import torch.nn.functional as F

from speechdistill.decode import BeamSearchDecoder, BeamSearchOptions, merge_nbest

LABELS = ("<pad>", "|", "a", "b", "c")


def _emissions(frames: int = 4, seed: int = 0, silence: float = -40.0) -> torch.Tensor:
    torch.manual_seed(seed)
    scores = torch.randn(1, frames, len(LABELS)) * 2
    scores[..., 1] = silence  # keep '|' out, so that a text is one label sequence
    return scores.log_softmax(-1)


def ctc_log_likelihood(log_probs: torch.Tensor, text: str) -> float:
    """log P(text | audio) summed over all CTC alignments (torch's CTC loss is its negative)."""
    target = torch.tensor([[LABELS.index(c) for c in text]])
    return -float(F.ctc_loss(log_probs.transpose(0, 1), target, torch.tensor([log_probs.shape[1]]),
                             torch.tensor([len(text)]), reduction="sum"))


def test_scores_are_unnormalised_ctc_log_likelihoods():
    log_probs = _emissions()
    decoder = BeamSearchDecoder(LABELS, BeamSearchOptions(beam_size=2000, beam_threshold=1000, nbest=6))
    [nbest] = decoder.decode(log_probs)
    assert len(nbest) == 6
    texts = [h.text for h in nbest]
    assert len(set(texts)) == len(texts) and all(texts)
    assert [h.score for h in nbest] == sorted((h.score for h in nbest), reverse=True)
    expected = torch.tensor([ctc_log_likelihood(log_probs, t) for t in texts], dtype=torch.float64)
    assert torch.allclose(torch.tensor([h.score for h in nbest], dtype=torch.float64), expected, atol=1e-4)
    assert len({len(t) for t in texts}) > 1  # length normalisation would change these posteriors
    posteriors = torch.tensor([h.posterior for h in nbest], dtype=torch.float64)
    assert torch.allclose(posteriors, expected.softmax(0), atol=1e-5)
    assert all(h.tokens == tuple(LABELS.index(c) for c in h.text) for h in nbest)


def test_lengths_limit_the_frames_decoded():
    log_probs = torch.cat([_emissions(4, seed=1), _emissions(4, seed=2)])
    decoder = BeamSearchDecoder(LABELS, BeamSearchOptions(beam_size=100, nbest=1))
    short = decoder.decode(log_probs, torch.tensor([4, 2]))
    alone = decoder.decode(log_probs[1:, :2].contiguous())
    assert short[1][0].text == alone[0][0].text
    assert short[1][0].score == pytest.approx(alone[0][0].score)


def test_merge_nbest_adds_up_identical_transcripts():
    candidates = [("a b", -1.0, (2, 1, 3)), ("ab", -1.5, (2, 3)), ("a b", -2.0, (2, 1, 1, 3)), ("c", -3.0, (4,))]
    merged = merge_nbest(candidates, 5)
    assert [h.text for h in merged] == ["a b", "ab", "c"]
    assert merged[0].score == pytest.approx(math.log(math.exp(-1.0) + math.exp(-2.0)))
    assert merged[0].tokens == (2, 1, 3)  # the best member's tokens
    total = sum(math.exp(h.score) for h in merged)
    assert [h.posterior for h in merged] == pytest.approx([math.exp(h.score) / total for h in merged])
    assert [h.text for h in merge_nbest(candidates, 2)] == ["a b", "ab"]
    assert sum(h.posterior for h in merge_nbest(candidates, 2)) == pytest.approx(1.0)


def test_normalize_merges_before_ranking():
    decoder = BeamSearchDecoder(LABELS, BeamSearchOptions(beam_size=200, nbest=3))
    [nbest] = decoder.decode(_emissions(), normalize=lambda text: text[:1])
    assert len({h.text for h in nbest}) == len(nbest) <= 3


def test_lexicon_restricts_words(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("cab c a b |\nbad b a |\n")
    options = BeamSearchOptions(beam_size=100, nbest=5, lexicon=str(lexicon), lm_weight=0.0)
    [nbest] = BeamSearchDecoder(LABELS, options).decode(_emissions(8, silence=-2.0))
    assert nbest and all(set(h.text.split()) <= {"cab", "bad"} for h in nbest)


def test_kenlm_language_model_changes_the_ranking(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("ab a b |\nba b a |\n")
    arpa = tmp_path / "lm.arpa"
    arpa.write_text("\\data\\\nngram 1=5\nngram 2=1\n\n\\1-grams:\n-1.0\t<unk>\t0\n0\t<s>\t-0.3\n-0.1\t</s>\t0\n"
                    "-0.1\tba\t0\n-4.0\tab\t0\n\n\\2-grams:\n-0.1\t<s> ba\n\n\\end\\\n")  # KenLM wants >= 2-grams
    emissions = torch.full((1, 4, len(LABELS)), -8.0)
    emissions[0, 0, 2], emissions[0, 0, 3] = -0.1, -1.5  # frame 0: a, perhaps b
    emissions[0, 1, 3], emissions[0, 1, 2] = -0.1, -1.5  # frame 1: b, perhaps a
    emissions[0, 2, 1], emissions[0, 3, 0] = -0.1, -0.1  # then the word boundary and a blank
    emissions = emissions.log_softmax(-1)  # "ab" sounds likelier, the LM prefers "ba"
    without = BeamSearchOptions(beam_size=50, nbest=2, lexicon=str(lexicon), lm_weight=0.0)
    with_lm = BeamSearchOptions(beam_size=50, nbest=2, lexicon=str(lexicon), lm=str(arpa), lm_weight=3.0)
    assert BeamSearchDecoder(LABELS, without).decode(emissions)[0][0].text == "ab"
    assert BeamSearchDecoder(LABELS, with_lm).decode(emissions)[0][0].text == "ba"


def test_bad_settings_are_clear(tmp_path):
    with pytest.raises(ValueError, match="lack '<pad>'"):
        BeamSearchDecoder(("-", "|", "a"))
    with pytest.raises(ValueError, match="lexicon file not found"):
        BeamSearchOptions(lexicon=str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="must be"):
        BeamSearchDecoder(LABELS).decode(torch.zeros(1, 3, 4))


def test_special_tokens_write_nothing():
    decoder = BeamSearchDecoder(LABELS + ("<s>", "<unused6>"))
    assert decoder.tokens_to_text([5, 2, 1, 1, 3, 6, 4, 1]) == "a bc"
