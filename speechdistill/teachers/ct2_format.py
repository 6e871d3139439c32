"""Read a CTranslate2 ``model.bin`` without CTranslate2: every variable as a numpy array, plus the aliases.

The layout, from CTranslate2's ``src/models/model.cc`` and ``python/ctranslate2/specs/model_spec.py``
(all integers little-endian):

    u32 binary version (4..6 understood here)
    string spec name ("WhisperSpec"), u32 spec revision
    u32 variable count, then per variable:
        string name, u8 rank, u32 x rank dims, u8 dtype, u32 byte count, raw row-major data
    u32 alias count, then per alias: string alias, string target

A string is a u16 length that counts a trailing NUL, then the bytes and the NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUPPORTED_BINARY_VERSION = 6
OLDEST_BINARY_VERSION = 4  # the first with a dtype byte per variable (and aliases, from 3)
# CTranslate2's DataType enum -> numpy dtype (bfloat16 is read as its raw 16 bits and widened later).
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
BFLOAT16 = 5


class CT2FormatError(ValueError):
    """A model.bin that is not a readable CTranslate2 model; the message names the file and what is wrong."""


@dataclass(frozen=True)
class CT2Model:
    """The content of one ``model.bin``: spec name and revision, variables by name, aliases (alias -> target)."""

    path: Path
    binary_version: int
    spec_name: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]

    def scalar(self, name: str) -> int:
        """An integer-valued 0-d variable (configuration the spec stores as a variable, e.g. num_heads)."""
        value = self.variables[name]
        if value.ndim != 0:
            raise CT2FormatError(f"{self.path}: {name} should be a scalar, got shape {value.shape}")
        return int(value)


class _Cursor:
    """Sequential little-endian reads over a bytes buffer, with errors that name the file and offset."""

    def __init__(self, data: bytes, path: Path):
        self.data = data
        self.offset = 0
        self.path = path

    def take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise CT2FormatError(f"{self.path}: truncated at byte {self.offset} while reading {what} "
                                 f"(needs {size} bytes, {len(self.data) - self.offset} left)")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def u32(self, what: str) -> int:
        return self.unpack("I", what)[0]

    def string(self, what: str) -> str:
        (length,) = self.unpack("H", f"the length of {what}")
        raw = self.take(length, what)
        if length == 0 or raw[-1] != 0:
            raise CT2FormatError(f"{self.path}: {what} at byte {self.offset - length} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise CT2FormatError(f"{self.path}: {what} at byte {self.offset - length} is not UTF-8") from None


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse ``path`` (a CTranslate2 model.bin) into a ``CT2Model``; any inconsistency is a ``CT2FormatError``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CT2FormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    cursor = _Cursor(data, path)
    version = cursor.u32("the binary version")
    if not 1 <= version <= SUPPORTED_BINARY_VERSION:
        raise CT2FormatError(f"{path}: binary version {version} is not a CTranslate2 model.bin this reader knows "
                             f"(1..{SUPPORTED_BINARY_VERSION}); is it a CTranslate2 model at all?")
    if version < OLDEST_BINARY_VERSION:
        raise CT2FormatError(f"{path}: binary version {version} predates typed variables (version "
                             f"{OLDEST_BINARY_VERSION}); convert the model again with a current CTranslate2")
    spec_name = cursor.string("the spec name")
    revision = cursor.u32("the spec revision")
    count = cursor.u32("the variable count")
    variables = {}
    for index in range(count):
        name, array = _read_variable(cursor, index)
        if name in variables:
            raise CT2FormatError(f"{path}: variable {name} appears twice")
        variables[name] = array
    aliases = _read_aliases(cursor)
    if cursor.offset != len(data):
        raise CT2FormatError(f"{path}: {len(data) - cursor.offset} unexpected bytes after the last record "
                             f"(byte {cursor.offset}); the file is corrupt or not a CTranslate2 model")
    return CT2Model(path, version, spec_name, revision, variables, aliases)


def _read_variable(cursor: _Cursor, index: int) -> tuple[str, np.ndarray]:
    name = cursor.string(f"the name of variable {index}")
    (rank,) = cursor.unpack("B", f"the rank of {name}")
    dims = cursor.unpack("I" * rank, f"the shape of {name}") if rank else ()
    (dtype_id,) = cursor.unpack("B", f"the dtype of {name}")
    if dtype_id not in DTYPES:
        raise CT2FormatError(f"{cursor.path}: variable {name} has unknown dtype id {dtype_id} "
                             f"(known: {sorted(DTYPES)})")
    nbytes = cursor.u32(f"the byte count of {name}")
    dtype = np.dtype(DTYPES[dtype_id])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if nbytes != expected:
        raise CT2FormatError(f"{cursor.path}: variable {name} declares {nbytes} bytes but shape {tuple(dims)} of "
                             f"{dtype.name} needs {expected}")
    array = np.frombuffer(cursor.take(nbytes, f"the data of {name}"), dtype=dtype.newbyteorder("<")).reshape(dims)
    if dtype_id == BFLOAT16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return name, array


def _read_aliases(cursor: _Cursor) -> dict[str, str]:
    count = cursor.u32("the alias count")
    aliases = {}
    for index in range(count):
        alias = cursor.string(f"alias {index}")
        aliases[alias] = cursor.string(f"the target of alias {alias}")
    return aliases
