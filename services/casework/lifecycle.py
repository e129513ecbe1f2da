"""The life of a petition as an explicit state machine (DOMAIN.md, "The life of a
petition"). Pure: which steps exist, from which states each may be taken, where it
leads and who takes it. The I/O lives in `steps.py`.

received → routed → accepted (in handling) | declined | returned → (extended,
paused for a hearing or for material) → replied → evaluated → review requested →
reviewed → re-examination requested → re-examined → finalized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Actor = Literal["routing", "lead", "lead_head", "review", "re_examination", "petitioner"]

STATUS_NAMES: dict[str, str] = {
    "received": "已登记",
    "routed": "已分办",
    "returned": "退回重新分办中",
    "declined": "不予受理",
    "handling": "已受理，办理中",
    "extended": "已延期，办理中",
    "paused": "中止计时（听证或补充材料）",
    "replied": "已答复",
    "evaluated": "已评价",
    "review_requested": "已请求复查",
    "reviewed": "已复查",
    "re_examination_requested": "已请求复核",
    "re_examined": "已复核",
    "finalized": "已终结",
}
STATUSES = tuple(STATUS_NAMES)


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    sources: tuple[str, ...]
    # None: the step goes back to the state the case was in before (resume).
    target: str | None
    actor: Actor


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("accept", "受理", ("routed",), "handling", "lead"),
        Step("decline", "不予受理", ("routed",), "declined", "lead"),
        Step("return", "退回重新分办", ("routed",), "returned", "lead"),
        Step("extend", "延期", ("handling",), "extended", "lead_head"),
        Step(
            "pause",
            "中止计时",
            ("handling", "extended", "re_examination_requested"),
            "paused",
            "lead",
        ),
        Step("resume", "恢复计时", ("paused",), None, "lead"),
        Step("reply", "答复（信访处理意见书）", ("handling", "extended"), "replied", "lead"),
        Step("evaluate", "评价", ("replied",), "evaluated", "petitioner"),
        Step(
            "request_review", "请求复查", ("replied", "evaluated"), "review_requested", "petitioner"
        ),
        Step("review", "复查意见", ("review_requested",), "reviewed", "review"),
        Step(
            "request_re_examination",
            "请求复核",
            ("reviewed",),
            "re_examination_requested",
            "petitioner",
        ),
        Step(
            "re_examine", "复核意见", ("re_examination_requested",), "finalized", "re_examination"
        ),
    )
}
# A re-examination ends the matter (三级终结, art. 36): it is recorded as re-examined and
# finalized at once; the same matter is not accepted again.
FINAL_STATES = ("finalized", "declined")


class IllegalStep(Exception):
    """The step cannot be taken in the case's current state."""

    def __init__(self, step: str, status: str, allowed: list[str]) -> None:
        self.step, self.status, self.allowed = step, status, allowed
        names = "、".join(f"{s}（{STEPS[s].title}）" for s in allowed) or "无"
        super().__init__(
            f"当前状态为「{STATUS_NAMES.get(status, status)}」，不能{STEPS[step].title}；"
            f"现在可以进行的步骤：{names}"
        )


def allowed_steps(status: str) -> list[str]:
    """The steps that may be taken now, in the order of the life of a petition."""
    return [s.name for s in STEPS.values() if status in s.sources]


def next_status(step: str, status: str, paused_from: str | None = None) -> str:
    """Where `step` leads from `status`; raises IllegalStep when it may not be taken."""
    spec = STEPS[step]
    if status not in spec.sources:
        raise IllegalStep(step, status, allowed_steps(status))
    if spec.target is None:
        return paused_from or "handling"
    return spec.target
