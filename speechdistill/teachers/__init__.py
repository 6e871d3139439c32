"""Frozen teachers (CTC models and Whisper) that return one ``TeacherOutput`` per batch."""

from .base import LOG_ZERO, Teacher, TeacherOutput
from .ctc import CTCTeacher
from .loader import CTC_MODEL_TYPES, WHISPER_MODEL_TYPES, TeacherLoadError, load_teacher
from .vocab_bridge import VocabBridge, bridge_text, build_vocab_bridge
from .whisper import WhisperTeacher

__all__ = ["CTC_MODEL_TYPES", "CTCTeacher", "LOG_ZERO", "Teacher", "TeacherLoadError", "TeacherOutput",
           "VocabBridge", "WHISPER_MODEL_TYPES", "WhisperTeacher", "bridge_text", "build_vocab_bridge",
           "load_teacher"]
