"""JSON-ready encoding of the core's frozen dataclasses, driven by their type hints.

Converters are built once per class, so encoding and decoding a million events stays cheap.
Decoding is strict: a missing field, an unexpected field or a value of the wrong kind raises
`ValueError` naming the field, and the caller adds where the data came from.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")
Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


def encode(obj: Any) -> Any:
    """Turn a core dataclass into plain JSON values."""
    return _encoder_for(type(obj))(obj)


def decode(cls: type[T], data: Any) -> T:
    """Build `cls` from plain JSON values; raises ValueError naming the offending field."""
    result: T = _decoder_for(cls)(data)
    return result


def format_time(value: datetime) -> str:
    """Render an aware UTC time as ISO-8601 ending in Z (what Step Functions accepts)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"time {value!r} has no time zone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """Parse an ISO-8601 time that carries its zone."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO-8601 time, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return parsed


def _identity(value: Any) -> Any:
    return value


def _checked(kind: type | tuple[type, ...], name: str) -> Decoder:
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"expected {name}, got {value!r}")
        return value

    return check


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _hint_encoder(hint: Any) -> Encoder:
    origin = get_origin(hint)
    if hint in (str, int, float, bool, type(None)) or origin is Literal:
        return _identity
    if hint is datetime:
        return format_time
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _encoder_for(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(options) == 1:
            inner = _hint_encoder(options[0])
            return lambda value: None if value is None else inner(value)
        _check_tagged(hint, options)
        # A union of dataclasses is tagged with the class name under "kind".
        return lambda value: (
            None
            if value is None
            else {
                "kind": type(value).__name__,
                **encode(value),
            }
        )
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _hint_encoder(args[0])
            if item is _identity:
                return list
            return lambda value: [item(v) for v in value]
        items = [_hint_encoder(arg) for arg in args]
        return lambda value: [enc(v) for enc, v in zip(items, value, strict=True)]
    if origin in (Mapping, dict, typing.Mapping):
        value_encoder = _hint_encoder(get_args(hint)[1])
        return lambda value: {k: value_encoder(v) for k, v in value.items()}
    raise TypeError(f"no JSON encoding for {hint!r}")


def _hint_decoder(hint: Any) -> Decoder:
    origin = get_origin(hint)
    if hint is str:
        return _checked(str, "a string")
    if hint is int:
        return _checked(int, "an integer")
    if hint is float:
        return _float
    if hint is bool:
        return _checked(bool, "true or false")
    if hint is type(None):
        return _checked(type(None), "null")
    if hint is datetime:
        return parse_time
    if origin is Literal:
        allowed = get_args(hint)

        def literal(value: Any) -> Any:
            if value not in allowed:
                raise ValueError(f"expected one of {list(allowed)}, got {value!r}")
            return value

        return literal
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _decoder_for(hint)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(options) == 1:
            inner = _hint_decoder(options[0])
            return lambda value: None if value is None else inner(value)
        _check_tagged(hint, options)
        by_kind = {option.__name__: option for option in options}

        def tagged(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, dict) or value.get("kind") not in by_kind:
                raise ValueError(f"expected one of {sorted(by_kind)} under 'kind', got {value!r}")
            fields = {k: v for k, v in value.items() if k != "kind"}
            return _decoder_for(by_kind[value["kind"]])(fields)

        return tagged
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _hint_decoder(args[0])

            def sequence(value: Any) -> Any:
                if not isinstance(value, list | tuple):
                    raise ValueError(f"expected a list, got {value!r}")
                return tuple(item(v) for v in value)

            return sequence
        items = [_hint_decoder(arg) for arg in args]

        def fixed(value: Any) -> Any:
            if not isinstance(value, list | tuple) or len(value) != len(items):
                raise ValueError(f"expected a list of {len(items)} items, got {value!r}")
            return tuple(dec(v) for dec, v in zip(items, value, strict=True))

        return fixed
    if origin in (Mapping, dict, typing.Mapping):
        key = _hint_decoder(get_args(hint)[0])
        value_decoder = _hint_decoder(get_args(hint)[1])

        def mapping(value: Any) -> Any:
            if not isinstance(value, dict):
                raise ValueError(f"expected an object, got {value!r}")
            return {key(k): value_decoder(v) for k, v in value.items()}

        return mapping
    raise TypeError(f"no JSON decoding for {hint!r}")


def _check_tagged(hint: Any, options: list[Any]) -> None:
    if not all(dataclasses.is_dataclass(o) and isinstance(o, type) for o in options):
        raise TypeError(f"no JSON encoding for {hint!r}: only unions of dataclasses are tagged")


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


_ENCODERS: dict[type, Encoder] = {}
_DECODERS: dict[type, Decoder] = {}


def _encoder_for(cls: type) -> Encoder:
    found = _ENCODERS.get(cls)
    if found is None:
        found = _ENCODERS[cls] = _build_encoder(cls)
    return found


def _decoder_for(cls: type) -> Decoder:
    found = _DECODERS.get(cls)
    if found is None:
        found = _DECODERS[cls] = _build_decoder(cls)
    return found


def _build_encoder(cls: type) -> Encoder:
    plan = [(name, _hint_encoder(hint)) for name, hint in _fields(cls)]

    def encode_object(obj: Any) -> dict[str, Any]:
        return {name: enc(getattr(obj, name)) for name, enc in plan}

    return encode_object


def _build_decoder(cls: type) -> Decoder:
    plan = [(name, _hint_decoder(hint)) for name, hint in _fields(cls)]
    required = frozenset(
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    known = frozenset(name for name, _ in plan)

    def decode_object(data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {cls.__name__}, got {data!r}")
        missing = required - data.keys()
        if missing:
            raise ValueError(f"{cls.__name__} is missing {', '.join(sorted(missing))}")
        unexpected = data.keys() - known - {"type"}
        if unexpected:
            raise ValueError(f"{cls.__name__} has unknown fields {', '.join(sorted(unexpected))}")
        kwargs = {}
        for name, dec in plan:
            if name in data:
                try:
                    kwargs[name] = dec(data[name])
                except ValueError as error:
                    raise ValueError(f"{cls.__name__}.{name}: {error}") from None
        return cls(**kwargs)

    return decode_object
