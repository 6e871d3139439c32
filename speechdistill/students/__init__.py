"""Compact CTC students built by factory functions, saved and loaded as marked directories."""

from .base import Student, StudentOutput
from .conformer import CONFORMER_PRESETS, ConformerConfig, ConformerCTC, conformer_ctc, subsampled_lengths
from .factory import FAMILIES, build_student, num_parameters
from .init_from_teacher import InitReport, init_from_teacher
from .io import LoadedStudent, load_student, save_student
from .wav2vec2 import WAV2VEC2_PRESETS, Wav2Vec2Student, Wav2Vec2StudentConfig, wav2vec2_ctc

__all__ = ["CONFORMER_PRESETS", "ConformerCTC", "ConformerConfig", "FAMILIES", "InitReport", "LoadedStudent",
           "Student", "StudentOutput", "WAV2VEC2_PRESETS", "Wav2Vec2Student", "Wav2Vec2StudentConfig",
           "build_student", "conformer_ctc", "init_from_teacher", "load_student", "num_parameters",
           "save_student", "subsampled_lengths", "wav2vec2_ctc"]
