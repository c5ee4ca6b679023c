"""The JSON columns every store writes: ``inputs`` and ``outputs``, encoded once and size-checked.

Shared by the stores so that the 1 MiB limit is measured on the same bytes whatever the engine:
the compact UTF-8 JSON that orjson writes.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..domain.limits import check_stored_size


def encode_checked(inputs: Any, outputs: Any) -> tuple[str, str]:
    """Encode both JSON columns, refusing a session that would pass the size limit."""
    inputs_json, outputs_json = orjson.dumps(inputs), orjson.dumps(outputs)
    check_stored_size(inputs_json, outputs_json)
    return inputs_json.decode(), outputs_json.decode()
