"""Distillation losses: one small ``nn.Module`` per loss, ``MixLoss`` adds them with weights.

Every loss: ``forward(student: StudentOutput, teacher, batch: Batch) -> Tensor`` (scalar); ``teacher`` is a
``TeacherOutput`` or a mapping name -> ``TeacherOutput``. ``build_mix(recipe["losses"], LossContext(...))``
turns a recipe's ``losses:`` YAML section into the ``MixLoss`` the training step calls.
"""

from .attention import AttentionConfig, AttentionLoss
from .base import (
                   DistillationLoss,
                   ItemLoss,
                   ItemwiseLoss,
                   LossContext,
                   LossResult,
                   PickTeacher,
                   WeightedSum,
                   select_teacher,
)
from .ctc import CTCConfig, CTCLoss, ctc_per_item
from .feature import FeatureConfig, FeatureLoss
from .frame_kl import FrameKLConfig, FrameKLLoss, TeacherPosteriors, pool_probs
from .mix import MixConfig, MixLoss
from .multi_teacher import (
                   BestTeacher,
                   MultiTeacherConfig,
                   PosteriorAverage,
                   TeacherTermsConfig,
                   build_multi_teacher,
)
from .registry import LOSSES, LossSpec, build_loss, build_mix, build_terms
from .sequence_kd import SequenceKDConfig, SequenceKDLoss

__all__ = ["LOSSES", "AttentionConfig", "AttentionLoss", "BestTeacher", "CTCConfig", "CTCLoss", "DistillationLoss",
           "FeatureConfig", "FeatureLoss", "FrameKLConfig", "FrameKLLoss", "ItemLoss", "ItemwiseLoss", "LossContext",
           "LossResult", "LossSpec", "MixConfig", "MixLoss", "MultiTeacherConfig", "PickTeacher", "PosteriorAverage",
           "SequenceKDConfig", "SequenceKDLoss", "TeacherPosteriors", "TeacherTermsConfig", "WeightedSum",
           "build_loss", "build_mix", "build_multi_teacher", "build_terms", "ctc_per_item", "pool_probs",
           "select_teacher"]
