"""The one training loop of the package: teachers and students both train through it."""

from .checkpoint import load_checkpoint, save_checkpoint
from .loop import StepOutput, TrainOptions, TrainResult, train

__all__ = ["StepOutput", "TrainOptions", "TrainResult", "load_checkpoint", "save_checkpoint", "train"]
