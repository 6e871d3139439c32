"""Distillation: where teacher outputs come from (live or cached) and the ``speechdistill distill`` trainer.

Modules (imported from their own paths; this package imports nothing, so ``distill.sources`` stays light
for the cache that implements it):

- ``sources``: ``TeacherRequest`` / ``TeacherSource``, the protocol live and cached outputs share;
- ``config``: the recipe (``load_distill_config``, with ``base:`` includes) as frozen dataclasses;
- ``requests``: what each configured loss needs from each teacher and from the student;
- ``plan``: whole-recipe checks before anything is loaded (``plan_recipe``);
- ``live``: ``LiveTeacherSource``, the frozen teachers run on every batch;
- ``module``: ``DistillModule`` (student + ``MixLoss``), the step function, dev WER;
- ``training``: ``prepare`` / ``fit`` / ``finish`` / ``distill``, the ``speechdistill distill`` command;
- ``card``: what the best student's model card records.
"""
