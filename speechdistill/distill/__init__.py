"""Distillation: where teacher outputs come from (live or cached) and the ``speechdistill distill`` trainer."""
