"""Firestore's own limits, so that stored data stays portable.

- a stored session is at most 1 MiB: its ``inputs`` and ``outputs`` as stored JSON (UTF-8), plus
  a fixed 1 KiB for its other fields, which are all short;
- fields nest at most 20 deep, counting from the document root (``inputs`` is depth 1,
  ``inputs.a`` depth 2; map keys and list items each add one level);
- a field name is 1 to 1500 bytes of UTF-8;
- values are JSON: no NaN or infinity, integers within 64 bits, strings of valid Unicode;
- no string and no field name holds the NUL character (U+0000): PostgreSQL's ``jsonb`` and
  ``text`` cannot store it, so data that has it could not move between stores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .errors import ResourceExhaustedError, ValidationError

MAX_SESSION_BYTES: Final = 1024 * 1024
MAX_DEPTH: Final = 20
MAX_FIELD_NAME_BYTES: Final = 1500
SESSION_FIELDS_ALLOWANCE: Final = 1024
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

_Path = tuple[str | int, ...]
# Leaf values that are valid whatever they hold (an ASCII string without NUL, a bool, None);
# ints and floats are range-checked on the stack.
_SCALARS: Final = frozenset({str, bool, type(None)})
NUL_MESSAGE: Final = "must not contain the NUL character (U+0000)"


def holds_nul(*values: object) -> bool:
    """Whether any of ``values`` is text holding U+0000, which no store accepts.

    PostgreSQL's ``text`` and ``json`` cannot hold it, so every store refuses it and data can
    move between them; a key that holds it matches no stored row.

    >>> holds_nul("kiosk", None, "a" + chr(0))
    True
    """
    return any(type(value) is str and "\x00" in value for value in values)


def refuse_nul(fields: Mapping[str, str | None]) -> None:
    """Raise ``ValidationError`` naming the first field that holds U+0000."""
    for name, value in fields.items():
        if holds_nul(value):
            raise ValidationError.at(name, NUL_MESSAGE)


def format_path(path: _Path) -> str:
    """``("inputs", "a", 0, "b")`` -> ``"inputs.a[0].b"``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _utf8_length(text: str) -> int | None:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates cannot be stored
        return None


def check_json_field(name: str, value: Mapping[str, Any]) -> None:
    """Check that a top-level object field holds JSON within the limits.

    Walks iteratively, so hostile nesting cannot exhaust the interpreter's stack.

    >>> check_json_field("inputs", {"a": [1, 2.5, None, "x"]})
    >>> check_json_field("inputs", {"a": float("nan")})
    Traceback (most recent call last):
    ...
    session_runtime.domain.errors.ValidationError: inputs.a: ...
    """
    stack: list[tuple[Any, int, _Path]] = [(value, 1, (name,))]
    while stack:
        node, depth, path = stack.pop()
        kind = type(node)
        if kind is str:
            if holds_nul(node):
                raise ValidationError.at(format_path(path), NUL_MESSAGE)
            if not node.isascii() and _utf8_length(node) is None:
                raise ValidationError.at(format_path(path), "string is not valid Unicode")
        elif kind is int:
            if not _INT64_MIN <= node <= _INT64_MAX:
                raise ValidationError.at(format_path(path), "integer does not fit in 64 bits")
        elif kind is dict or (kind is not list and isinstance(node, dict)):
            if node and depth >= MAX_DEPTH:
                raise ValidationError.at(
                    format_path(path), f"fields nest deeper than {MAX_DEPTH} levels"
                )
            for key, child in node.items():
                if type(key) is not str:
                    raise ValidationError.at(format_path(path), "field names must be strings")
                if holds_nul(key):
                    raise ValidationError.at(format_path((*path, key[:64])), NUL_MESSAGE)
                size = len(key) if key.isascii() else _utf8_length(key)
                if size is None or not 1 <= size <= MAX_FIELD_NAME_BYTES:
                    raise ValidationError.at(
                        format_path((*path, key[:64])),
                        f"field names must be 1 to {MAX_FIELD_NAME_BYTES} bytes of valid UTF-8",
                    )
                if type(child) in _SCALARS:
                    if type(child) is str and (not child.isascii() or holds_nul(child)):
                        stack.append((child, depth + 1, (*path, key)))
                    continue
                stack.append((child, depth + 1, (*path, key)))
        elif node is None or kind is bool:
            continue
        elif kind is float:
            if not math.isfinite(node):
                raise ValidationError.at(format_path(path), "number must be finite")
        elif kind is list or kind is tuple:
            if node and depth >= MAX_DEPTH:
                raise ValidationError.at(
                    format_path(path), f"fields nest deeper than {MAX_DEPTH} levels"
                )
            stack.extend((child, depth + 1, (*path, index)) for index, child in enumerate(node))
        else:
            raise ValidationError.at(format_path(path), f"{kind.__name__} is not a JSON value")


def check_session_size(size: int) -> None:
    """Refuse a session whose stored document would exceed 1 MiB."""
    if size > MAX_SESSION_BYTES:
        raise ResourceExhaustedError(
            f"the session would take {size} bytes; the limit is {MAX_SESSION_BYTES}",
            details={"limit": MAX_SESSION_BYTES, "size": size},
        )


def check_stored_size(inputs_json: bytes, outputs_json: bytes) -> None:
    """Refuse a session whose encoded ``inputs`` and ``outputs`` would take it past 1 MiB."""
    check_session_size(len(inputs_json) + len(outputs_json) + SESSION_FIELDS_ALLOWANCE)
