"""The measures officials are judged by, counted from the read model's facts. Pure:
no database; `service` loads the facts a caller may see and hands them here.

Each measure has one date that places it in a period (and in a day, week, month …
of a grouping): the day a petition was received, replied to, evaluated or reviewed,
the day a clock fell due, the day a return was taken. `DEFINITIONS` says which,
with the numerator and the denominator, and is served with every answer.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import product
from typing import Any

from shared.timeutil import CHINA, to_china

RUNGS = ("open", "reminded", "urged", "supervised", "accountability")
SATISFIED = ("satisfied", "basically_satisfied")
TIME_DIMENSIONS = ("day", "week", "month", "quarter", "year")
DIMENSIONS = ("unit", "level", "category", "channel", "type", "division", *TIME_DIMENSIONS)
COUNTS = ("received", "collective", "collective_people", "returned")
# What the yearly report (art. 41) adds: how matters went out, what the ladder issued.
HANDLING = ("referred_down", "assigned", "supervision_orders", "accountability_recommendations")
RATES = (
    "forwarded_on_time_rate",
    "timely_acceptance_rate",
    "on_time_reply_rate",
    "satisfaction_rate",
    "evaluation_rate",
    "first_time_resolution_rate",
    "repeat_rate",
    "skip_level_rate",
    "review_rate",
    "re_examination_rate",
)
MEASURES = (
    *COUNTS[:3],
    *RATES,
    "returned",
    "overdue",
    "average_cycle_days",
    "median_cycle_days",
    *HANDLING,
)

DEFINITIONS: dict[str, str] = {
    "received": "期内收到的信访事项件数（按收到之日，北京时间）",
    "collective": "期内收到的集体信访件数（分办时标记为集体访，5 人以上）",
    "collective_people": "期内收到的集体信访涉及的人数之和",
    "forwarded_on_time_rate": "转送交办及时率：期内收到、转送期限已届满或已转送的事项中，在期限内转送交办的件数 / 这些事项的件数（第二十二条，15 日）",
    "timely_acceptance_rate": "及时受理率：期内收到、告知受理期限已届满或已作出受理、不予受理、退回决定的受理环节中，在期限内作出决定的 / 这些受理环节（每轮分办各计一次）",
    "on_time_reply_rate": "按期答复率：办理期限在期内届满的事项中，在期限内书面答复的件数 / 期内届满的件数（含仍未答复的超期件；中止计时的不计）",
    "satisfaction_rate": "满意率：期内作出评价的事项中，评价为满意或基本满意的件数 / 作出评价的件数",
    "evaluation_rate": "参评率：期内答复的事项中，信访人已作出评价的件数 / 期内答复的件数",
    "first_time_resolution_rate": "一次性化解率：期内答复的初信初访（非重复信访）中，未请求复查、且答复后 {window} 日内未就同一事项再次信访的件数 / 期内答复的初信初访件数（答复不足 {window} 日的按目前所知计）",
    "repeat_rate": "重复信访率：期内收到的事项中，与同一信访人此前同一事项相同的件数 / 期内收到的件数",
    "skip_level_rate": "越级信访率：期内收到的事项中，向有权处理机关的上级提出、被转送下级的件数 / 期内收到的件数",
    "review_rate": "复查申请率：期内答复的事项中，信访人请求复查的件数 / 期内答复的件数",
    "re_examination_rate": "复核申请率：期内作出复查意见的事项中，信访人请求复核的件数 / 期内作出复查意见的件数",
    "returned": "期内承办单位以不属于本单位职责为由退回的次数",
    "overdue": "期末（或当前，取较早者）已超期仍未办结的环节数，按已发出的最高一级催办分列：open 尚未催办、reminded 提醒、urged 催办、supervised 督办、accountability 追责问责建议",
    "average_cycle_days": "平均办理周期：期内答复的事项自收到至答复的自然日数的平均值",
    "median_cycle_days": "办理周期中位数：同上，取中位数",
    "referred_down": "转送：期内收到、被转送有权处理的下级机关的件数",
    "assigned": "交办：期内收到、交由有权处理的机关办理的件数",
    "supervision_orders": "期内发出的督办单（催办阶梯第三级）件数",
    "accountability_recommendations": "期内发出的追责问责建议（催办阶梯第四级）件数",
}


@dataclass(frozen=True)
class PetitionFacts:
    petition_id: str
    received_at: datetime | None
    received_on: date | None
    channel: str
    type: str
    category: str
    division_code: str
    people_count: int
    repeat_of: str | None
    repeated_at: datetime | None
    decision: str
    lead_unit: str | None
    lead_level: str
    collective: bool
    skip_level: bool
    replied_at: datetime | None
    replied_on: date | None
    rating: str | None
    evaluated_on: date | None
    review_requested_at: datetime | None
    reviewed_on: date | None
    re_examination_requested_at: datetime | None


@dataclass(frozen=True)
class DeadlineFacts:
    petition_id: str
    base_step: str
    state: str
    due_at: datetime
    due_on: date
    opened_at: datetime | None
    met_at: datetime | None
    late: bool
    stages: dict[str, datetime | None]


@dataclass(frozen=True)
class Query:
    """What is asked: the period (both days included, Beijing), the grouping, the
    instant the figures stand at (now), the repeat window."""

    start: date
    end: date
    group_by: tuple[str, ...]
    now: datetime
    repeat_window_days: int = 90


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fractions: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    overdue: dict[str, int] = field(default_factory=lambda: {r: 0 for r in RUNGS})
    cycles: list[int] = field(default_factory=list)

    def rate(self, name: str, hit: bool) -> None:
        pair = self.fractions[name]
        pair[0] += int(hit)
        pair[1] += 1

    def measures(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.counts.get(name, 0) for name in (*COUNTS, *HANDLING)}
        for name in RATES:
            num, den = self.fractions.get(name, [0, 0])
            out[name] = {
                "value": round(num / den, 4) if den else None,
                "numerator": num,
                "denominator": den,
            }
        out["overdue"] = dict(self.overdue)
        out["average_cycle_days"] = (
            round(sum(self.cycles) / len(self.cycles), 2) if self.cycles else None
        )
        out["median_cycle_days"] = statistics.median(self.cycles) if self.cycles else None
        return {name: out[name] for name in MEASURES}


def definitions(window: int) -> dict[str, str]:
    return {k: v.format(window=window) for k, v in DEFINITIONS.items()}


def bucket(day: date, dimension: str) -> str:
    """The label of the period of `dimension` that `day` falls in."""
    if dimension == "day":
        return day.isoformat()
    if dimension == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if dimension == "month":
        return f"{day.year}-{day.month:02d}"
    if dimension == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def bucket_end(label: str, dimension: str) -> date:
    """The last day of a bucket."""
    if dimension == "day":
        return date.fromisoformat(label)
    if dimension == "week":
        iso_year, week = label.split("-W")
        return date.fromisocalendar(int(iso_year), int(week), 7)
    if dimension == "month":
        year, month = (int(part) for part in label.split("-"))
        first_next = date(year + month // 12, month % 12 + 1, 1)
        return first_next - timedelta(days=1)
    if dimension == "quarter":
        quarter_year, quarter = label.split("-Q")
        return bucket_end(f"{quarter_year}-{int(quarter) * 3:02d}", "month")
    return date(int(label), 12, 31)


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=CHINA)


UnitKeys = Callable[[str | None], list[str]]


class Counter:
    """Adds facts up by the query's grouping."""

    def __init__(self, query: Query, unit_keys: UnitKeys) -> None:
        self.query = query
        self.unit_keys = unit_keys
        self.tallies: dict[tuple[str, ...], Tally] = defaultdict(Tally)
        # the instants overdue steps are counted at: the period's end, or each time
        # bucket's (capped at the period's end and at now)
        time_dims = [dim for dim in query.group_by if dim in TIME_DIMENSIONS]
        ends = [query.end]
        if time_dims:
            dim = time_dims[-1]
            labels = {bucket(day, dim) for day in _days(query.start, query.end)}
            ends = sorted({min(bucket_end(label, dim), query.end) for label in labels})
        self.ends = [(last, min(end_of(last), query.now)) for last in ends]
        # the instant the whole period's figures stand at
        self.stands_at = min(end_of(query.end), query.now)

    def in_period(self, day: date | None) -> bool:
        return day is not None and self.query.start <= day <= self.query.end

    def keys(self, p: PetitionFacts, day: date) -> Iterator[tuple[str, ...]]:
        options: list[list[str]] = []
        for dim in self.query.group_by:
            if dim == "unit":
                options.append(self.unit_keys(p.lead_unit))
            elif dim == "level":
                options.append([p.lead_level or "unrouted"])
            elif dim == "category":
                options.append([p.category])
            elif dim == "channel":
                options.append([p.channel])
            elif dim == "type":
                options.append([p.type])
            elif dim == "division":
                options.append([p.division_code])
            else:
                options.append([bucket(day, dim)])
        return (tuple(k) for k in product(*options))

    def tallies_for(self, p: PetitionFacts, day: date | None) -> Iterable[Tally]:
        if not self.in_period(day):
            return ()
        assert day is not None
        return [self.tallies[k] for k in self.keys(p, day)]

    def add_petition(self, p: PetitionFacts) -> None:
        window = timedelta(days=self.query.repeat_window_days)
        for t in self.tallies_for(p, p.received_on):
            t.counts["received"] += 1
            if p.collective:
                t.counts["collective"] += 1
                t.counts["collective_people"] += p.people_count
            t.rate("repeat_rate", p.repeat_of is not None)
            t.rate("skip_level_rate", p.skip_level)
            if p.decision == "refer_down":
                t.counts["referred_down"] += 1
            elif p.decision == "assign":
                t.counts["assigned"] += 1
        for t in self.tallies_for(p, p.replied_on):
            assert p.replied_at is not None
            t.rate("evaluation_rate", p.rating is not None)
            t.rate("review_rate", p.review_requested_at is not None)
            if p.repeat_of is None:
                again = p.repeated_at is not None and p.repeated_at <= p.replied_at + window
                t.rate("first_time_resolution_rate", p.review_requested_at is None and not again)
            if p.received_on is not None and p.replied_on is not None:
                t.cycles.append((p.replied_on - p.received_on).days)
        for t in self.tallies_for(p, p.evaluated_on):
            t.rate("satisfaction_rate", p.rating in SATISFIED)
        for t in self.tallies_for(p, p.reviewed_on):
            t.rate("re_examination_rate", p.re_examination_requested_at is not None)

    def add_return(self, p: PetitionFacts, on: date) -> None:
        for t in self.tallies_for(p, on):
            t.counts["returned"] += 1

    def add_deadline(self, p: PetitionFacts, d: DeadlineFacts) -> None:
        stands_at = self.stands_at
        if d.base_step in ("forward", "accept"):
            # counted in the period the petition was received, once decided or due
            for t in self.tallies_for(p, p.received_on):
                decided = d.met_at is not None and d.met_at <= stands_at
                if decided or (d.state != "paused" and d.due_at <= stands_at):
                    name = (
                        "forwarded_on_time_rate"
                        if d.base_step == "forward"
                        else "timely_acceptance_rate"
                    )
                    t.rate(name, decided and not d.late)
        if d.base_step == "handle" and d.state != "paused" and d.due_at <= stands_at:
            for t in self.tallies_for(p, d.due_on):
                t.rate("on_time_reply_rate", d.met_at is not None and not d.late)
        for stage, name in (
            ("supervised", "supervision_orders"),
            ("accountability", "accountability_recommendations"),
        ):
            issued = d.stages.get(stage)
            if issued is not None:
                for t in self.tallies_for(p, to_china(issued).date()):
                    t.counts[name] += 1

    def add_overdue(self, p: PetitionFacts, d: DeadlineFacts) -> None:
        """At the end of the period (or of each time bucket), capped at now."""
        for last, at in self.ends:
            opened = d.opened_at or d.due_at
            if d.state == "paused" or opened > at or d.due_at >= at:
                continue
            if d.met_at is not None and d.met_at <= at:
                continue
            rung = "open"
            for stage in RUNGS[1:]:
                issued = d.stages.get(stage)
                if issued is not None and issued <= at:
                    rung = stage
            for t in self.tallies_for(p, last):
                t.overdue[rung] += 1

    def groups(self) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self.tallies):
            out.append(
                {
                    "key": dict(zip(self.query.group_by, key, strict=True)),
                    "measures": self.tallies[key].measures(),
                }
            )
        if not self.query.group_by and not out:
            out.append({"key": {}, "measures": Tally().measures()})
        return out


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)
