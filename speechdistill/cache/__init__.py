"""Teacher cache: run a teacher once over a manifest, store what distillation reads, serve it as ``TeacherOutput``.

``build_cache`` (``speechdistill cache-teacher CONFIG.yaml``) writes, per utterance, the top-k CTC
log-posteriors (+ one "other" bucket), N-best lists with posteriors, and the hidden layers / attention maps
the losses need, in fp16 safetensors shards with an index (layout: ``store``; what each costs on disk:
``config``). ``CachedTeacherSource`` implements the trainer's ``TeacherSource`` on top of ``open_cache``,
which refuses a cache built for another manifest, teacher or settings, naming what differs.

Augmentation policy: cached outputs line up frame by frame with the unaugmented audio, so a student
reading a cache keeps to augmentation that preserves time alignment: gain, additive noise and SpecAugment
(``ALIGNMENT_PRESERVING_AUGMENT``). Speed perturbation changes the frame count; the trainer calls
``check_augment_compatible`` to refuse it when the teacher source is a cache.
"""

from .build import BuildResult, build_cache, process_rank, shard_plan
from .config import ALIGNMENT_PRESERVING_AUGMENT, CacheConfig, check_augment_compatible
from .disk import DiskUsage, measure_disk
from .key import CacheKey, CacheMismatchError, expected_key
from .reader import CachedItem, CachedTeacherSource, TeacherCache, open_cache
from .store import CacheError

__all__ = ["ALIGNMENT_PRESERVING_AUGMENT", "BuildResult", "CacheConfig", "CacheError", "CacheKey",
           "CacheMismatchError", "CachedItem", "CachedTeacherSource", "DiskUsage", "TeacherCache", "build_cache",
           "check_augment_compatible", "expected_key", "measure_disk", "open_cache", "process_rank", "shard_plan"]
