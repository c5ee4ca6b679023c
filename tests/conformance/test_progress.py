"""Recording progress: the merge rules, versions, timestamps and input validation."""

from __future__ import annotations

from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    NotFoundError,
    Session,
    SessionService,
    UpdateSessionProgressInput,
    ValidationError,
)

from ..factories import Catalog, ManualClock, NewSession

PHOTO = {"mediaAssetId": "m1", "url": "https://cdn.example.com/p/1.jpg"}
VIDEO = {"mediaAssetId": "m2", "url": "http://cdn.example.com/v/2.mp4"}


class Progress:
    """Writes progress to one session and reads it back."""

    def __init__(self, service: SessionService, session: Session) -> None:
        self.service = service
        self.session = session

    async def update(self, *, expected_version: int | None = None, **fields: Any) -> Session:
        data = {"sessionId": self.session.id, **fields}
        return await self.service.update_session_progress(
            SYSTEM, self.session.project_id, data, expected_version=expected_version
        )

    async def stored(self) -> Session:
        return await self.service.get_session(SYSTEM, self.session.project_id, self.session.id)


@pytest.fixture
async def progress(service: SessionService, new_session: NewSession) -> Progress:
    return Progress(service, await new_session())


async def test_inputs_merge_into_what_is_stored(progress: Progress) -> None:
    await progress.update(inputs={"name": "Ada", "profile": {"city": "London", "zip": "N1"}})
    await progress.update(inputs={"age": 36, "profile": {"city": "Paris"}})

    stored = await progress.stored()
    assert stored.inputs == {
        "name": "Ada",
        "age": 36,
        "profile": {"city": "Paris", "zip": "N1"},
    }


async def test_nested_objects_merge_at_every_depth(progress: Progress) -> None:
    await progress.update(inputs={"a": {"b": {"c": {"d": 1, "e": 2}}}})
    await progress.update(inputs={"a": {"b": {"c": {"e": 3, "f": 4}, "g": 5}}})

    assert (await progress.stored()).inputs == {"a": {"b": {"c": {"d": 1, "e": 3, "f": 4}, "g": 5}}}


async def test_lists_replace(progress: Progress) -> None:
    await progress.update(inputs={"choices": ["red", "green"], "grid": [[1, 2], [3]]})
    await progress.update(inputs={"choices": ["blue"]})

    stored = await progress.stored()
    assert stored.inputs == {"choices": ["blue"], "grid": [[1, 2], [3]]}


async def test_null_replaces(progress: Progress) -> None:
    await progress.update(inputs={"answer": {"text": "yes", "at": 3}})
    await progress.update(inputs={"answer": None})

    assert (await progress.stored()).inputs == {"answer": None}


@pytest.mark.parametrize(
    ("before", "after"),
    [("text", 7), (7, 7.5), (True, "yes"), ({"a": 1}, "flat"), ("flat", {"a": 1}), ([1], {})],
)
async def test_a_new_value_replaces_another_of_any_kind(
    progress: Progress, before: Any, after: Any
) -> None:
    await progress.update(inputs={"k": before})
    await progress.update(inputs={"k": after})

    assert (await progress.stored()).inputs == {"k": after}


async def test_outputs_merge_by_name(progress: Progress) -> None:
    await progress.update(outputs={"photo": PHOTO})
    await progress.update(outputs={"video": VIDEO})
    replacement = {"mediaAssetId": "m3", "url": "https://cdn.example.com/p/3.jpg"}
    await progress.update(outputs={"photo": replacement})

    assert (await progress.stored()).outputs == {"photo": replacement, "video": VIDEO}


async def test_current_step_index_replaces(progress: Progress) -> None:
    await progress.update(currentStepIndex=5)
    await progress.update(currentStepIndex=2)
    assert (await progress.stored()).current_step_index == 2

    await progress.update(inputs={"only": "inputs"})
    assert (await progress.stored()).current_step_index == 2


async def test_fields_left_out_are_kept(progress: Progress) -> None:
    await progress.update(currentStepIndex=3, inputs={"a": 1}, outputs={"photo": PHOTO})
    await progress.update(inputs={"b": 2})

    stored = await progress.stored()
    assert stored.current_step_index == 3
    assert stored.inputs == {"a": 1, "b": 2}
    assert stored.outputs == {"photo": PHOTO}


async def test_every_write_adds_exactly_one_to_the_version(progress: Progress) -> None:
    versions = [progress.session.version]
    for step in range(1, 8):
        versions.append((await progress.update(currentStepIndex=step)).version)

    assert versions == list(range(1, 9))
    assert (await progress.stored()).version == 8


async def test_an_update_with_nothing_in_it_is_still_a_write(progress: Progress) -> None:
    updated = await progress.update()
    assert updated.version == 2
    assert updated.updated_at > progress.session.updated_at
    empty = await progress.update(inputs={}, outputs={})
    assert empty.version == 3
    assert empty.inputs == {}


async def test_updated_at_is_the_servers_time_of_the_write(
    progress: Progress, clock: ManualClock
) -> None:
    created = progress.session
    moment = clock.now

    updated = await progress.update(currentStepIndex=1)

    assert updated.updated_at == moment
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at
    assert updated.completed_at is None
    again = await progress.update(currentStepIndex=2)
    assert again.updated_at > updated.updated_at


async def test_the_returned_session_is_what_is_stored(progress: Progress) -> None:
    updated = await progress.update(
        currentStepIndex=4, inputs={"name": "Ada", "n": [1, 2.5, None]}, outputs={"p": PHOTO}
    )
    assert await progress.stored() == updated


async def test_the_input_may_be_a_model(progress: Progress, service: SessionService) -> None:
    data = UpdateSessionProgressInput(session_id=progress.session.id, current_step_index=3)
    updated = await service.update_session_progress(SYSTEM, progress.session.project_id, data)
    assert updated.current_step_index == 3


async def test_unicode_survives_the_round_trip(progress: Progress) -> None:
    inputs = {"名前": "Åda ✓", "emoji": "🎉👩‍🚀", "rtl": "שלום"}
    await progress.update(inputs=inputs)
    assert (await progress.stored()).inputs == inputs


async def test_a_nul_character_is_refused_on_every_store(progress: Progress) -> None:
    # PostgreSQL's jsonb cannot hold U+0000, so no store takes it: data stays portable.
    before = await progress.stored()
    with pytest.raises(ValidationError) as refused:
        await progress.update(inputs={"note": "a\u0000b"})
    assert refused.value.details[0]["path"] == "inputs.note"
    assert (await progress.stored()).version == before.version


async def test_numbers_survive_the_round_trip(progress: Progress) -> None:
    inputs = {"max": 2**63 - 1, "min": -(2**63), "float": 0.1, "tiny": 5e-324, "neg": -0.5}
    await progress.update(inputs=inputs)
    stored = (await progress.stored()).inputs
    assert stored == inputs
    assert type(stored["max"]) is int
    assert type(stored["float"]) is float


# -- expected version -------------------------------------------------------------------------


async def test_the_expected_version_lets_a_write_through(progress: Progress) -> None:
    updated = await progress.update(expected_version=1, currentStepIndex=1)
    assert updated.version == 2
    assert (await progress.update(expected_version=2, currentStepIndex=2)).version == 3


@pytest.mark.parametrize("expected", [1, 3, 100])
async def test_a_version_mismatch_writes_nothing(progress: Progress, expected: int) -> None:
    await progress.update(inputs={"kept": True})
    before = await progress.stored()

    with pytest.raises(FailedPreconditionError) as caught:
        await progress.update(expected_version=expected, inputs={"x": 1})

    assert caught.value.code == "FAILED_PRECONDITION"
    assert caught.value.http_status == 409
    assert caught.value.details == {"version": 2, "expected": expected}
    assert await progress.stored() == before


# -- missing sessions -------------------------------------------------------------------------


async def test_a_missing_session_is_not_found(progress: Progress, service: SessionService) -> None:
    with pytest.raises(NotFoundError) as caught:
        await service.update_session_progress(
            SYSTEM, progress.session.project_id, {"sessionId": "missing", "currentStepIndex": 1}
        )
    assert caught.value.details["resource"] == "session"


async def test_a_session_is_found_only_in_its_project(
    progress: Progress, service: SessionService, catalog: Catalog
) -> None:
    with pytest.raises(NotFoundError):
        await service.update_session_progress(
            SYSTEM, catalog.other_project_id, {"sessionId": progress.session.id, "inputs": {"a": 1}}
        )
    with pytest.raises(NotFoundError):
        await service.get_session(SYSTEM, catalog.other_project_id, progress.session.id)
    assert (await progress.stored()).version == 1


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"currentStepIndex": -1}, "currentStepIndex"),
        ({"currentStepIndex": 1.0}, "currentStepIndex"),
        ({"currentStepIndex": 2.5}, "currentStepIndex"),
        ({"currentStepIndex": True}, "currentStepIndex"),
        ({"currentStepIndex": "3"}, "currentStepIndex"),
        ({"currentStepIndex": 2**31}, "currentStepIndex"),
        ({"inputs": ["not", "an", "object"]}, "inputs"),
        ({"inputs": "text"}, "inputs"),
        ({"outputs": {"photo": "https://cdn.example.com/1.jpg"}}, "outputs.photo"),
        ({"outputs": {"photo": {"mediaAssetId": "m1"}}}, "outputs.photo.url"),
        ({"outputs": {"photo": {"url": PHOTO["url"]}}}, "outputs.photo.mediaAssetId"),
        ({"outputs": {"photo": {**PHOTO, "width": 640}}}, "outputs.photo.width"),
        ({"outputs": {"photo": {**PHOTO, "url": "/p/1.jpg"}}}, "outputs.photo.url"),
        (
            {"outputs": {"photo": {**PHOTO, "url": "ftp://cdn.example.com/1.jpg"}}},
            "outputs.photo.url",
        ),
        ({"outputs": {"photo": {**PHOTO, "url": "cdn.example.com/1.jpg"}}}, "outputs.photo.url"),
        ({"outputs": {"photo": {**PHOTO, "mediaAssetId": ""}}}, "outputs.photo.mediaAssetId"),
        ({"outputs": ["photo"]}, "outputs"),
        ({"status": "completed"}, "status"),
        ({"version": 9}, "version"),
        ({"updatedAt": "2020-01-01T00:00:00Z"}, "updatedAt"),
        ({"completedAt": None}, "completedAt"),
        ({"sessionId": ""}, "sessionId"),
        ({"sessionId": None}, "sessionId"),
    ],
)
async def test_bad_input_is_a_validation_error_and_writes_nothing(
    progress: Progress, fields: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await progress.update(**fields)

    assert caught.value.code == "VALIDATION_ERROR"
    assert path in [problem["path"] for problem in caught.value.details]
    assert await progress.stored() == progress.session


async def test_one_bad_part_refuses_the_whole_update(progress: Progress) -> None:
    with pytest.raises(ValidationError):
        await progress.update(
            currentStepIndex=4,
            inputs={"fine": 1},
            outputs={"photo": {**PHOTO, "url": "ftp://cdn.example.com/1.jpg"}},
        )
    assert await progress.stored() == progress.session


@pytest.mark.parametrize("data", [None, [], "s1", 3])
async def test_the_input_must_be_an_object(progress: Progress, data: Any) -> None:
    with pytest.raises(ValidationError):
        await progress.service.update_session_progress(SYSTEM, progress.session.project_id, data)
    assert await progress.stored() == progress.session


async def test_what_is_stored_does_not_follow_the_callers_objects(progress: Progress) -> None:
    answers = [1, 2]
    grid: dict[str, Any] = {"rows": [[0, 0]]}
    await progress.update(inputs={"answers": answers, "grid": grid})

    answers.append(3)
    grid["rows"][0].append(9)
    grid["cols"] = 2
    await progress.update(inputs={"other": "x"})

    stored = await progress.stored()
    assert stored.inputs == {"answers": [1, 2], "grid": {"rows": [[0, 0]]}, "other": "x"}


async def test_changing_a_returned_session_changes_nothing_stored(progress: Progress) -> None:
    returned = await progress.update(inputs={"answers": [1, 2], "profile": {"name": "Ada"}})

    returned.inputs["answers"].append(3)
    returned.inputs["profile"]["name"] = "Eve"
    returned.inputs["injected"] = True
    await progress.update(currentStepIndex=1)
    await progress.update(inputs={"other": "x"})

    stored = await progress.stored()
    assert stored.inputs == {"answers": [1, 2], "profile": {"name": "Ada"}, "other": "x"}
