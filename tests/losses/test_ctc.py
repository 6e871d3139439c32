"""Hard-label CTC: labelled items only, per-label normalisation, padding, empty batches."""

import math

import torch

from speechdistill.losses import CTCLoss
from tests.losses.reference import make_batch, ref_ctc_per_label, student_output


def _reference(logits, lengths, labels):
    values = [ref_ctc_per_label(logits[i, : lengths[i]].log_softmax(-1), y)
              for i, y in enumerate(labels) if y is not None]
    return sum(values) / len(values)


def test_matches_hand_written_ctc_over_labelled_items_only():
    torch.manual_seed(0)
    logits = torch.randn(3, 6, 8)
    lengths = [6, 4, 5]
    labels = [[5, 6, 6], None, [7, 4, 5]]
    loss = CTCLoss()(student_output(logits, lengths), None, make_batch(labels))
    assert math.isclose(loss.item(), _reference(logits, lengths, labels), rel_tol=1e-5)


def test_padded_frames_and_unlabelled_items_do_not_change_the_loss():
    torch.manual_seed(1)
    logits = torch.randn(3, 6, 8)
    lengths = [6, 3, 4]
    labels = [[5, 6], None, [7]]
    base = CTCLoss()(student_output(logits, lengths), None, make_batch(labels))
    noisy = logits.clone()
    noisy[1:, 4:] = 50 * torch.randn_like(noisy[1:, 4:])
    noisy[1] = torch.randn(6, 8)  # unlabelled item: anything
    assert torch.allclose(base, CTCLoss()(student_output(noisy, lengths), None, make_batch(labels)))


def test_no_labelled_item_gives_zero_with_a_graph():
    logits = torch.randn(2, 5, 8, requires_grad=True)
    loss = CTCLoss()(student_output(logits, [5, 2]), None, make_batch([None, None]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert logits.grad is not None and not logits.grad.isnan().any()


def test_all_padding_and_impossible_items_give_no_nan():
    logits = torch.randn(2, 4, 8, requires_grad=True)
    batch = make_batch([[5, 6], [5, 5, 5, 5, 5]])  # item 0 has no frames; item 1 needs 9 frames for 5 repeats
    loss = CTCLoss()(student_output(logits, [0, 4]), None, batch)
    assert torch.isfinite(loss) and loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
