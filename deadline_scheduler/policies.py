"""Time limits per step, as data (DOMAIN.md, "The life of a petition and its time
limits"). Each policy says which event starts the step's clock, which events end it,
its length and unit, and its urging ladder. The defaults are the regulation's; a
county replaces lengths by the handling unit's level (village, township, county)
with `xinfang policy load FILE` or `PUT /api/v1/time-limits`, and open deadlines are
worked out again. The same file may redefine an urging ladder or add one of the
county's own (`ladders`), which its time limits then name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from deadline_scheduler.clock import ClockUnit
from deadline_scheduler.ladder import LADDERS, Ladder, ladder_from_data, ladder_to_data
from deadline_scheduler.models import TimeLimit, UrgingLadder
from shared.errors import pydantic_errors_to_fields
from shared.events import (
    DEADLINE_STAGES,
    PETITION_ACCEPTED,
    PETITION_DECLINED,
    PETITION_RE_EXAMINED,
    PETITION_REPLIED,
    PETITION_RETURNED,
    PETITION_REVIEWED,
    PETITION_ROUTED,
    REVIEW_REQUESTED,
)
from shared.timeutil import utcnow

LEVELS = ("village", "township", "county", "city", "province")


@dataclass(frozen=True)
class StepPolicy:
    step: str
    name: str
    length: int
    unit: ClockUnit
    article: str
    starts_on: str  # the event type that starts the clock
    ends_on: tuple[str, ...]  # the event types that end it (the step is done)
    ladder: str = "default"
    level: str = ""  # "" = any level; otherwise the level of the unit it binds


TAKEN_IN = (PETITION_ACCEPTED, PETITION_DECLINED, PETITION_RETURNED)
DEFAULT_POLICIES: dict[str, StepPolicy] = {
    p.step: p
    for p in (
        StepPolicy(
            "forward",
            "登记、转送、交办",
            15,
            "calendar_days",
            "《信访工作条例》第二十二条",
            PETITION_ROUTED,
            # Routing is the forwarding: the clock is met when the decision is made
            # (and shows how long registration → forwarding took).
            (PETITION_ROUTED,),
        ),
        StepPolicy(
            "accept",
            "告知是否受理",
            15,
            "calendar_days",
            "《信访工作条例》第二十三条",
            PETITION_ROUTED,
            TAKEN_IN,
        ),
        StepPolicy(
            "collective_response",
            "集体访到场处置",
            24,
            "hours",
            "《信访工作条例》第二十条",
            PETITION_ROUTED,
            TAKEN_IN,
            ladder="collective",
        ),
        StepPolicy(
            "handle",
            "办理、答复",
            60,
            "calendar_days",
            "《信访工作条例》第三十二条、第三十四条",
            PETITION_ACCEPTED,
            (PETITION_REPLIED,),
        ),
        StepPolicy(
            "review",
            "复查意见",
            30,
            "calendar_days",
            "《信访工作条例》第三十五条",
            REVIEW_REQUESTED,
            (PETITION_REVIEWED,),
        ),
        StepPolicy(
            "re_examination",
            "复核意见",
            30,
            "calendar_days",
            "《信访工作条例》第三十六条",
            REVIEW_REQUESTED,
            (PETITION_RE_EXAMINED,),
        ),
    )
}
# Stored under FORWARD for the modules that name the forwarding step.
FORWARD = DEFAULT_POLICIES["forward"]


LADDER_NAME = r"^[a-z][a-z0-9_]{0,29}$"


class LadderStageIn(BaseModel):
    """One rung: when (working days from the deadline's last day, or hours from the
    due time) and to whom (see deadline_scheduler.recipients)."""

    model_config = {"extra": "forbid"}

    stage: Literal["reminded", "urged", "supervised", "accountability"]
    to: Literal["handler", "unit_and_head", "superior_and_supervision", "discipline"]
    offset_working_days: int | None = Field(default=None, ge=-30, le=60, strict=True)
    offset_hours: int | None = Field(default=None, ge=-720, le=720, strict=True)


class TimeLimitIn(BaseModel):
    model_config = {"extra": "forbid"}

    step: Literal["forward", "accept", "collective_response", "handle", "review", "re_examination"]
    level: Literal["", "village", "township", "county", "city", "province"] = Field(
        default="", description="承办单位的层级；空为所有层级"
    )
    length: int = Field(ge=1, le=3650, strict=True, examples=[15])
    unit: Literal["calendar_days", "working_days", "hours"] = Field(examples=["working_days"])
    ladder: str | None = Field(
        default=None,
        pattern=LADDER_NAME,
        description="催办阶梯：default、collective 或本文件 ladders 中的名称",
    )


class TimeLimitsIn(BaseModel):
    """The file `xinfang policy load` reads and `PUT /api/v1/time-limits` takes."""

    model_config = {"extra": "forbid"}

    time_limits: list[TimeLimitIn] = Field(max_length=200)
    ladders: dict[
        Annotated[str, StringConstraints(pattern=LADDER_NAME)],
        Annotated[list[LadderStageIn], Field(min_length=1, max_length=4)],
    ] = Field(default_factory=dict, max_length=20)
    notes: list[str] = Field(default_factory=list)


Overrides = dict[tuple[str, str], TimeLimitIn]


def policy_for(step: str, level: str | None, overrides: Overrides) -> StepPolicy:
    """The step's policy for a unit of `level`: the county's own for that level, else
    its own for every level, else the regulation's."""
    base = DEFAULT_POLICIES[step]
    own = overrides.get((step, level or "")) or overrides.get((step, ""))
    if own is None:
        return base
    return replace(
        base, length=own.length, unit=own.unit, ladder=own.ladder or base.ladder, level=own.level
    )


def load_ladders(session: Session) -> dict[str, Ladder]:
    """The ladders in force: the defaults, with the county's own over them."""
    own = {row.name: ladder_from_data(row.stages) for row in session.scalars(select(UrgingLadder))}
    return {**LADDERS, **own}


def describe_ladders(ladders: dict[str, Ladder]) -> list[dict[str, Any]]:
    return [
        {"name": name, "local": ladder != LADDERS.get(name), "stages": ladder_to_data(ladder)}
        for name, ladder in sorted(ladders.items())
    ]


def load_overrides(session: Session) -> Overrides:
    return {
        (row.step, row.level): TimeLimitIn(
            step=row.step,  # type: ignore[arg-type]
            level=row.level,  # type: ignore[arg-type]
            length=row.length,
            unit=row.unit,  # type: ignore[arg-type]
            ladder=row.ladder,  # type: ignore[arg-type]
        )
        for row in session.scalars(select(TimeLimit))
    }


class TimeLimitsFileError(ValueError):
    pass


def parse_time_limits(text: str, source: str) -> TimeLimitsIn:
    """Read a time-limits file; every fault is named by its path, and nothing is kept
    when one is wrong."""
    try:
        limits = TimeLimitsIn.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise TimeLimitsFileError(
            f"{source}: 第 {exc.lineno} 行不是合法的 JSON：{exc.msg}"
        ) from exc
    except ValidationError as exc:
        fields = pydantic_errors_to_fields(exc.errors(), drop_location=False)
        faults = [(e["field"], e["message"]) for e in fields]
    else:
        faults = time_limit_faults(limits)
    if faults:
        raise TimeLimitsFileError(f"{source}: " + "；".join(f"{f}: {m}" for f, m in faults))
    return limits


def time_limit_faults(limits: TimeLimitsIn) -> list[tuple[str, str]]:
    """What is wrong beyond each entry's shape: (field path, message)."""
    faults: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, limit in enumerate(limits.time_limits):
        if (limit.step, limit.level) in seen:
            faults.append((f"time_limits.{i}", f"步骤 {limit.step} 层级「{limit.level}」重复"))
        seen.add((limit.step, limit.level))
        in_hours = DEFAULT_POLICIES[limit.step].unit == "hours"
        if (limit.unit == "hours") != in_hours:
            faults.append(
                (f"time_limits.{i}.unit", f"步骤 {limit.step} 须以{'小时' if in_hours else '日'}计")
            )
        known = {*LADDERS, *limits.ladders}
        if limit.ladder is not None and limit.ladder not in known:
            faults.append(
                (
                    f"time_limits.{i}.ladder",
                    f"没有名为 {limit.ladder} 的催办阶梯；可选：{'、'.join(sorted(known))}",
                )
            )
    for name, stages in limits.ladders.items():
        faults += ladder_faults(f"ladders.{name}", stages)
    return faults


def ladder_faults(path: str, stages: list[LadderStageIn]) -> list[tuple[str, str]]:
    """A ladder climbs: its rungs in the order 提醒, 催办, 督办, 追责 (any may be left
    out, none repeated), each at or after the one before, all counted one way."""
    faults: list[tuple[str, str]] = []
    for j, stage in enumerate(stages):
        if (stage.offset_working_days is None) == (stage.offset_hours is None):
            faults.append(
                (f"{path}.{j}", "须给出 offset_working_days（工作日）或 offset_hours（小时）之一")
            )
    if faults:
        return faults
    order = [DEADLINE_STAGES.index(stage.stage) for stage in stages]
    if order != sorted(set(order)):
        faults.append((path, "各阶段须按提醒、催办、督办、追责的顺序排列，且不重复"))
    if len({stage.offset_hours is None for stage in stages}) > 1:
        faults.append((path, "同一阶梯的各阶段须同以工作日或同以小时计"))
    else:
        # exactly one of the two is set (checked above)
        offsets = [stage.offset_hours or stage.offset_working_days or 0 for stage in stages]
        if offsets != sorted(offsets):
            faults.append((path, "后一阶段不能早于前一阶段"))
    return faults


def read_time_limits_file(path: Path) -> TimeLimitsIn:
    return parse_time_limits(path.read_text(encoding="utf-8"), str(path))


def store_time_limits(session: Session, limits: TimeLimitsIn, source: str) -> None:
    """Replace the county's own limits and ladders with these, in the caller's
    transaction."""
    session.execute(delete(TimeLimit))
    session.execute(delete(UrgingLadder))
    now = utcnow()
    for name, stages in limits.ladders.items():
        session.add(
            UrgingLadder(
                name=name,
                stages=[s.model_dump(exclude_none=True) for s in stages],
                source=source,
                loaded_at=now,
            )
        )
    for limit in limits.time_limits:
        session.add(
            TimeLimit(
                step=limit.step,
                level=limit.level,
                length=limit.length,
                unit=limit.unit,
                ladder=limit.ladder,
                source=source,
                loaded_at=now,
            )
        )
    session.flush()


def describe(overrides: Overrides) -> list[dict[str, Any]]:
    """Every step's policy and its local lengths by level, for the API."""
    out = []
    for step, base in DEFAULT_POLICIES.items():
        out.append(
            {
                "step": step,
                "name": base.name,
                "article": base.article,
                "default": {"length": base.length, "unit": base.unit, "ladder": base.ladder},
                "local": [
                    {"level": level, "length": o.length, "unit": o.unit, "ladder": o.ladder}
                    for (s, level), o in sorted(overrides.items())
                    if s == step
                ],
            }
        )
    return out
