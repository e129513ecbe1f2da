"""Time limits per step (信访工作条例 defaults). Data, not code: a county's own
limits replace these without a release once policies are stored (casework issue)."""

from __future__ import annotations

from dataclasses import dataclass

from deadline_scheduler.clock import PeriodUnit


@dataclass(frozen=True)
class StepPolicy:
    step: str
    name: str
    length: int
    unit: PeriodUnit
    article: str


FORWARD = StepPolicy(
    step="forward",
    name="登记、转送、交办",
    length=15,
    unit="calendar_days",
    article="《信访工作条例》第二十二条",
)

DEFAULT_POLICIES: dict[str, StepPolicy] = {FORWARD.step: FORWARD}
