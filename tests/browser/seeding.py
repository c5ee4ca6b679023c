"""A photo booth's worth of sessions for the dashboard's tests and screenshots.

``plan_booth`` describes sessions (experience, event, mode, how far they got, how they ended);
``seed_booth`` writes them through the service, as kiosks would have; ``expected_funnel``
computes from the plans alone what the funnel must show, so a test compares two independent
counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from session_runtime import SYSTEM, SessionService

EXPERIENCES = ("AI portrait", "Sticker booth", "Mood quiz")
EVENTS = ("Launch night", "City tour")
OUTCOMES = ("active", "completed", "abandoned", "error")
# Seven long, so that each of the three experiences gets every outcome.
OUTCOME_CYCLE = ("completed", "active", "completed", "abandoned", "completed", "error", "active")


@dataclass(frozen=True)
class SessionPlan:
    experience: str
    event: str
    mode: str
    step: int
    outcome: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: int = 0
    created_minutes_ago: float = 0.0
    updated_minutes_ago: float = 0.0


@dataclass
class Booth:
    project_id: str
    owner: str
    viewer: str
    guest: str
    events: dict[str, str]
    experiences: dict[str, str]
    session_ids: list[str]


class ShiftedClock:
    """Server time moved back by ``minutes_ago``: seeded sessions get realistic ages."""

    def __init__(self) -> None:
        self.minutes_ago = 0.0

    def __call__(self) -> datetime:
        return datetime.now(UTC) - timedelta(minutes=self.minutes_ago)


NAMES = ("Ada", "Grace", "Linus", "Hedy", "Alan", "Katherine", "Tim", "Margaret", "Dennis")
MOODS = ("happy", "calm", "bold", "dreamy")
STYLES = ("watercolour", "comic", "neon", "oil paint")


def plan_booth(count: int = 36) -> list[SessionPlan]:
    """``count`` sessions spread over three experiences and two events, in every outcome,
    with a few previews (a designer trying the flow) that the funnel must leave out."""
    plans = []
    for index in range(count):
        experience = EXPERIENCES[index % 3]
        outcome = OUTCOME_CYCLE[index % len(OUTCOME_CYCLE)]
        last_step = {"AI portrait": 4, "Sticker booth": 3, "Mood quiz": 5}[experience]
        step = last_step if outcome == "completed" else (index * 7) % last_step
        inputs: dict[str, Any] = {"guest": {"name": NAMES[index % len(NAMES)]}}
        if step >= 1:
            inputs["mood"] = MOODS[index % len(MOODS)]
        if step >= 2 and experience == "AI portrait":
            inputs["style"] = STYLES[index % len(STYLES)]
        outputs = 0 if step < 2 else (2 if outcome == "completed" else 1)
        created = 2.0 + (count - index) * 3.5
        plans.append(
            SessionPlan(
                experience=experience,
                event=EVENTS[0] if index % 4 else EVENTS[1],
                mode="preview" if index % 8 == 5 else "guest",
                step=step,
                outcome=outcome,
                inputs=inputs,
                outputs=outputs,
                created_minutes_ago=created,
                updated_minutes_ago=max(0.2, created - 1.5 - step * 0.8),
            )
        )
    return plans


async def seed_booth(
    service: SessionService,
    plans: Sequence[SessionPlan],
    *,
    media_url: Callable[[int], str] = lambda n: f"https://media.example.com/{n}.jpg",
    clock: ShiftedClock | None = None,
    name: str = "Photo booth",
) -> Booth:
    """A project with the plans' events and experiences, tokens, and one session per plan."""
    project = await service.create_project(SYSTEM, {"name": name})
    events = {}
    for event in EVENTS:
        created = await service.create_event(SYSTEM, {"projectId": project.id, "name": event})
        events[event] = created.id
    experiences = {}
    for experience in EXPERIENCES:
        made = await service.create_experience(
            SYSTEM, {"projectId": project.id, "name": experience}
        )
        experiences[experience] = made.id
    owner = (await service.create_member_token(SYSTEM, project.id, user="ada", role="owner"))[1]
    viewer = (await service.create_member_token(SYSTEM, project.id, user="lin", role="viewer"))[1]
    guest = (await service.create_guest_token(SYSTEM, project.id))[1]
    ids = []
    for number, plan in enumerate(plans):
        if clock is not None:
            clock.minutes_ago = plan.created_minutes_ago
        created_session = await service.create_session(
            SYSTEM,
            {
                "projectId": project.id,
                "eventId": events[plan.event],
                "experienceId": experiences[plan.experience],
                "mode": plan.mode,
                "configSource": "draft" if plan.mode == "preview" else "published",
            },
        )
        session_id = created_session.session_id
        if clock is not None:
            clock.minutes_ago = plan.updated_minutes_ago
        outputs = {
            f"{kind}": {"mediaAssetId": f"m-{number}-{kind}", "url": media_url(number * 2 + k)}
            for k, kind in enumerate(("portrait", "print")[: plan.outputs])
        }
        if plan.step or plan.inputs or outputs:
            await service.update_session_progress(
                SYSTEM,
                project.id,
                {
                    "sessionId": session_id,
                    "currentStepIndex": plan.step,
                    "inputs": plan.inputs,
                    "outputs": outputs,
                },
            )
        if plan.outcome == "completed":
            await service.complete_session(SYSTEM, project.id, session_id)
        elif plan.outcome == "abandoned":
            await service.abandon_session(
                SYSTEM, project.id, {"sessionId": session_id, "reason": "walked away"}
            )
        elif plan.outcome == "error":
            await service.fail_session(
                SYSTEM, project.id, {"sessionId": session_id, "reason": "camera unavailable"}
            )
        ids.append(session_id)
    if clock is not None:
        clock.minutes_ago = 0.0
    return Booth(project.id, owner, viewer, guest, events, experiences, ids)


def expected_funnel(plans: Sequence[SessionPlan], mode: str = "guest") -> dict[str, Any]:
    """Per experience name: the counts by outcome and how many reached each step."""
    funnel: dict[str, Any] = {}
    by_experience: dict[str, list[SessionPlan]] = defaultdict(list)
    for plan in plans:
        if plan.mode == mode:
            by_experience[plan.experience].append(plan)
    for experience, chosen in by_experience.items():
        highest = max(plan.step for plan in chosen)
        funnel[experience] = {
            "total": len(chosen),
            **{outcome: sum(plan.outcome == outcome for plan in chosen) for outcome in OUTCOMES},
            "reached": [sum(plan.step >= k for plan in chosen) for k in range(highest + 1)],
        }
    return funnel
