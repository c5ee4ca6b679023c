"""Ids: one rule for every id, generated or chosen by a caller, so that every id is a URL path
segment as it is.

An id is 1 to 128 characters of the URL-safe base64 alphabet (letters ``A-Z a-z``, digits,
``_`` and ``-``), not starting with ``-`` (a command line would take it for an option). Those
characters mean nothing in a URL, so ``/v1/projects/{id}`` reaches the record without any
escaping; ``kiosk/1``, ``a b``, ``%41`` or ``..`` could not be addressed, or not as typed.

>>> is_url_safe_id("kiosk-1"), is_url_safe_id("kiosk/1"), is_url_safe_id("-x")
(True, False, False)
>>> is_url_safe_id(new_id())
True
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import AfterValidator, Field, StrictStr

__all__ = ["ID_RULE", "MAX_ID_LENGTH", "ChosenId", "check_id", "is_url_safe_id", "new_id"]

MAX_ID_LENGTH = 128
ID_RULE = (
    f"must be 1 to {MAX_ID_LENGTH} letters (A-Z, a-z), digits, '_' or '-', not starting with '-'"
)
_URL_SAFE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


def is_url_safe_id(text: str) -> bool:
    """Whether ``text`` follows the one id rule (see the module's docstring)."""
    return len(text) <= MAX_ID_LENGTH and _URL_SAFE_ID.fullmatch(text) is not None


def check_id(text: str) -> str:
    """``text`` if it follows the rule, else ``ValueError`` saying what the rule is."""
    if not is_url_safe_id(text):
        raise ValueError(ID_RULE)
    return text


def new_id() -> str:
    """An unguessable id that follows the rule: 128 random bits in 22 characters."""
    while True:
        candidate = secrets.token_urlsafe(16)
        if candidate[0] != "-":
            return candidate


ChosenId = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(check_id)
]
"""An id a caller chooses for a new record: pydantic's field type for the one rule."""
