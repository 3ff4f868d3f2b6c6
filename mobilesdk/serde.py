"""Dataclasses from parsed JSON, driven by their type hints (lists, tuples, dicts, unions)."""
from __future__ import annotations

import dataclasses
import types
import typing


def from_data(tp, value):
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: from_data(hints[f.name], value[f.name]) for f in dataclasses.fields(tp) if f.name in value})
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is list:
        return [from_data(args[0], v) for v in value]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v) for v in value)
        return tuple(from_data(a, v) for a, v in zip(args, value))
    if origin is dict:
        return {k: from_data(args[1], v) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for a in args:  # the first dataclass/container member that fits; scalars pass through
            if a is type(None) and value is None:
                return None
            if dataclasses.is_dataclass(a) and isinstance(value, dict):
                return from_data(a, value)
            if typing.get_origin(a) in (list, tuple) and isinstance(value, list):
                return from_data(a, value)
        return value
    return value
