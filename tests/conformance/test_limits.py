"""Firestore's limits, enforced on every write: over a limit, a clear error and nothing
written."""

from __future__ import annotations

import datetime
import decimal
import math
from types import MappingProxyType
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    ResourceExhaustedError,
    Session,
    SessionService,
    ValidationError,
)

from ..factories import NewSession

MIB = 1024 * 1024


def nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    """An ``inputs`` value whose deepest field, counting ``inputs`` itself, is at ``depth``."""
    value: Any = leaf
    for level in reversed(range(depth - 1)):
        value = {f"k{level}": value}
    assert isinstance(value, dict)
    return value


class Writer:
    def __init__(self, service: SessionService, session: Session) -> None:
        self.service = service
        self.session = session

    async def update(self, **fields: Any) -> Session:
        return await self.service.update_session_progress(
            SYSTEM, self.session.project_id, {"sessionId": self.session.id, **fields}
        )

    async def stored(self) -> Session:
        return await self.service.get_session(SYSTEM, self.session.project_id, self.session.id)

    async def refused(self, error: type[Exception], **fields: Any) -> Any:
        """Check that the update is refused with ``error`` and leaves the session as it was."""
        before = await self.stored()
        with pytest.raises(error) as caught:
            await self.update(**fields)
        assert await self.stored() == before
        return caught.value


@pytest.fixture
async def writer(service: SessionService, new_session: NewSession) -> Writer:
    return Writer(service, await new_session())


# -- size -------------------------------------------------------------------------------------


async def test_a_large_session_under_1_mib_is_stored(writer: Writer) -> None:
    updated = await writer.update(inputs={"essay": "x" * 1_000_000})
    assert updated.version == 2
    assert len((await writer.stored()).inputs["essay"]) == 1_000_000


async def test_a_session_over_1_mib_is_refused(writer: Writer) -> None:
    error = await writer.refused(ResourceExhaustedError, inputs={"essay": "x" * (MIB + 1)})
    assert error.code == "RESOURCE_EXHAUSTED"
    assert error.details["limit"] == MIB
    assert error.details["size"] > MIB


async def test_the_limit_is_on_the_stored_session_not_one_write(writer: Writer) -> None:
    await writer.update(inputs={"first": "a" * 600_000})

    await writer.refused(ResourceExhaustedError, inputs={"second": "b" * 600_000})

    # Replacing the big value frees its room.
    await writer.update(inputs={"first": "small"})
    await writer.update(inputs={"second": "b" * 600_000})
    stored = await writer.stored()
    assert stored.inputs["first"] == "small"
    assert stored.version == 4


async def test_outputs_count_toward_the_limit(writer: Writer) -> None:
    await writer.update(inputs={"notes": "n" * 1_000_000})
    outputs = {
        f"photo{i}": {"mediaAssetId": f"m{i}", "url": f"https://cdn.example.com/{'p' * 2000}/{i}"}
        for i in range(40)
    }
    await writer.refused(ResourceExhaustedError, outputs=outputs)


async def test_size_is_counted_in_bytes(writer: Writer) -> None:
    # 600,000 characters, 1,200,000 bytes of UTF-8.
    await writer.refused(ResourceExhaustedError, inputs={"text": "é" * 600_000})


async def test_a_refused_write_leaves_progress_untouched(writer: Writer) -> None:
    await writer.update(currentStepIndex=2, inputs={"a": 1})

    await writer.refused(
        ResourceExhaustedError, currentStepIndex=3, inputs={"big": "x" * (MIB + 1)}
    )

    stored = await writer.stored()
    assert stored.current_step_index == 2
    assert stored.inputs == {"a": 1}


# -- depth ------------------------------------------------------------------------------------


async def test_nesting_20_deep_is_stored(writer: Writer) -> None:
    deep = nested(20, leaf="bottom")
    await writer.update(inputs=deep)
    assert (await writer.stored()).inputs == deep


async def test_nesting_deeper_than_20_is_refused(writer: Writer) -> None:
    error = await writer.refused(ValidationError, inputs=nested(21))
    assert error.code == "VALIDATION_ERROR"
    assert error.details[0]["path"].startswith("inputs.k0.k1.k2")


async def test_lists_count_toward_the_depth(writer: Writer) -> None:
    await writer.update(inputs=nested(19, leaf=["x"]))
    await writer.refused(ValidationError, inputs=nested(19, leaf=[["x"]]))
    await writer.refused(ValidationError, inputs=nested(20, leaf=[1]))


async def test_a_merge_can_never_nest_deeper_than_its_parts(writer: Writer) -> None:
    await writer.update(inputs=nested(20))
    await writer.update(inputs=nested(20, leaf=2))
    assert (await writer.stored()).version == 3


# -- field names ------------------------------------------------------------------------------


async def test_a_field_name_of_1500_bytes_is_stored(writer: Writer) -> None:
    await writer.update(inputs={"k" * 1500: 1, "é" * 750: 2})
    assert len((await writer.stored()).inputs) == 2


@pytest.mark.parametrize(
    "name",
    ["", "k" * 1501, "é" * 751, "🎉" * 376],
    ids=["empty", "1501-ascii", "751-two-byte", "376-four-byte"],
)
async def test_a_field_name_outside_1_to_1500_bytes_is_refused(writer: Writer, name: str) -> None:
    await writer.refused(ValidationError, inputs={name: 1})
    await writer.refused(ValidationError, inputs={"nested": {name: 1}})


async def test_output_names_are_field_names_too(writer: Writer) -> None:
    reference = {"mediaAssetId": "m1", "url": "https://cdn.example.com/1.jpg"}
    await writer.refused(ValidationError, outputs={"": reference})
    await writer.refused(ValidationError, outputs={"o" * 1501: reference})


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        "\ud800",
        "ok\udfffok",
        2**63,
        -(2**63) - 1,
        10**40,
        {1, 2},
        b"bytes",
        object(),
        decimal.Decimal("0.1"),
        datetime.datetime(2026, 1, 15),
        complex(0, 1),
    ],
    ids=[
        "nan",
        "infinity",
        "-infinity",
        "lone-surrogate",
        "lone-low-surrogate",
        "2**63",
        "-2**63-1",
        "10**40",
        "set",
        "bytes",
        "object",
        "decimal",
        "datetime",
        "complex",
    ],
)
async def test_values_that_are_not_json_are_refused(writer: Writer, value: Any) -> None:
    error = await writer.refused(ValidationError, inputs={"answers": [{"value": value}]})
    assert error.details[0]["path"] == "inputs.answers[0].value"


async def test_a_field_name_with_a_lone_surrogate_is_refused(writer: Writer) -> None:
    await writer.refused(ValidationError, inputs={"a": {"\udc00": 1}})


async def test_non_string_field_names_are_refused(writer: Writer) -> None:
    await writer.refused(ValidationError, inputs={"a": {1: "one"}})
    await writer.refused(ValidationError, inputs={"a": {None: "none"}})


async def test_the_extremes_of_json_are_stored(writer: Writer) -> None:
    inputs = {"max": 2**63 - 1, "min": -(2**63), "big": 1e308, "small": -1e-308}
    await writer.update(inputs=inputs)
    assert (await writer.stored()).inputs == inputs


async def test_a_read_only_mapping_is_stored_as_an_object_or_refused(writer: Writer) -> None:
    inputs = {"direct": MappingProxyType({"a": 1}), "listed": [MappingProxyType({"b": 2})]}
    try:
        await writer.update(inputs=inputs)
    except ValidationError:
        assert (await writer.stored()).version == 1
    else:
        assert (await writer.stored()).inputs == {"direct": {"a": 1}, "listed": [{"b": 2}]}
