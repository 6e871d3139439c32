"""YAML recipes -> frozen dataclasses, with errors that name the file and key.

A config class is a frozen dataclass whose fields may themselves be dataclasses. ``load_config``
reads YAML, applies ``key.sub=value`` overrides from the command line, refuses unknown keys (naming
the valid ones) and checks each value's type against the field's annotation.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config problem; the message names the file and the dotted key."""


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value`` (value read as YAML, so ``3``, ``0.5``, ``true``, ``[1,2]`` keep their types)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    if not key:
        raise ConfigError(f"override {item!r}: empty key")
    try:
        return key.split("."), yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML ({getattr(exc, 'problem', exc)}); "
                          "quote the whole key=value when it holds spaces") from None


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Return a copy of ``data`` with each ``key.sub=value`` override set."""
    data = _deep_copy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {key!r} is not a section")
        node[keys[-1]] = value
    return data


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Coerce/check ``value`` against a field annotation; raise ConfigError naming ``where``."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_type(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, where)
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        item_type = args[0] if args else Any
        return tuple(_check_type(v, item_type, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and dataclasses.is_dataclass(args[1]):
            return {k: _build(args[1], v, f"{where}.{k}") for k, v in value.items()}
        return dict(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool):
        if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
        return value
    return value


def _build(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _check_type(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required key is missing")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc
    return obj


def build_config(cls: type[T], data: dict, source: str = "<config>") -> T:
    """Build ``cls`` from a plain mapping; errors read ``source: key: problem``."""
    try:
        return _build(cls, data or {}, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {str(exc).lstrip(': ')}") from None


def read_yaml_mapping(path: str | Path) -> dict:
    """The top-level mapping of a YAML file; ConfigError naming the file (and line) otherwise."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def load_config(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Read YAML ``path`` into ``cls`` after applying ``key=value`` overrides."""
    data = read_yaml_mapping(path)
    return build_config(cls, apply_overrides(data, overrides or []), str(path))


def config_to_dict(obj: Any) -> Any:
    """A frozen config back to plain YAML-able data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: config_to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [config_to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: config_to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj
