"""The canonical petition body every channel is normalized into (API.md).

Pure: validation and normalization only, no I/O. Checks that need the
directory (does the division exist?) belong to the intake service.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from shared.directory import Directory
from shared.errors import FieldError
from shared.timeutil import to_china, utcnow

CHANNELS = ("web", "miniprogram", "qr", "hotline", "mail", "visit")
TYPES = {"suggestion": "建议意见", "report": "检举控告", "complaint": "申诉求决"}
PetitionType = Literal["suggestion", "report", "complaint"]
MOBILE = re.compile(r"^1[3-9]\d{9}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MAX_CONTENT_CHARS = 10_000

# The outcome of a written reply or opinion (DOMAIN.md, "Outcomes and measures").
OUTCOME_NAMES = {"supported": "支持", "partly_supported": "部分支持", "not_supported": "不支持"}


def today_in_china() -> date:
    return to_china(utcnow()).date()


def fold_text(value: Any) -> Any:
    """NFKC-fold (full-width digits and letters to half-width) and trim text."""
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return value


def trim_text(value: Any) -> Any:
    """Trim what a petitioner wrote, and nothing more (full-width spaces included)."""
    return value.strip() if isinstance(value, str) else value


# Codes, numbers and ids: folded, so that １３８… and 138… are one phone.
Text = Annotated[str, BeforeValidator(fold_text)]
# What the citizen wrote (title, content, names, addresses): kept exactly as written,
# full-width punctuation and letters included; matching folds its own copy.
Written = Annotated[str, BeforeValidator(trim_text)]


def id_number_problem(number: str) -> str | None:
    """Why an 18-digit resident ID number (GB 11643) is invalid, or None if it is valid."""
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return "身份证号须为 18 位（末位可为 X）"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "身份证号中的出生日期不存在"
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    if born.year < 1900 or born > today_in_china():
        return "身份证号中的出生日期不合理"
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK[total % 11] != number[17]:
        return "身份证号校验位不正确"
    return None


def normalize_phone(value: str) -> str:
    """Fold full-width digits (NFKC), strip separators and a +86/0086 prefix from a
    mainland mobile number: every part of the system compares phones in this form."""
    digits = re.sub(r"[\s\-()（）.]", "", unicodedata.normalize("NFKC", value))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    return digits


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PetitionerIn(_Body):
    name: Written = Field(min_length=1, max_length=50, examples=["张三"])
    id_number: Text | None = Field(default=None, examples=["11010519491231002X"])
    phone: Text | None = Field(default=None, examples=["13800138000"])
    address: Written | None = Field(default=None, max_length=200)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        v = v.upper()
        problem = id_number_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        v = normalize_phone(v)
        if not MOBILE.fullmatch(v):
            raise ValueError("手机号须为 11 位大陆手机号码（1 开头，第二位 3-9）")
        return v


class AccusedIn(_Body):
    name: Written | None = Field(default=None, max_length=50)
    position: Written | None = Field(default=None, max_length=100)
    unit_id: Text | None = Field(default=None, max_length=100)


class PriorIn(_Body):
    petition_id: Text | None = Field(default=None, max_length=36)
    unit_id: Text | None = Field(default=None, max_length=100)
    opinion_on: date | None = None


class AttachmentIn(_Body):
    name: Written = Field(min_length=1, max_length=200)
    content_type: Text = Field(min_length=1, max_length=100)
    data_base64: str = Field(min_length=1)

    @field_validator("data_base64")
    @classmethod
    def _base64(cls, v: str) -> str:
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("附件内容须为 Base64 编码") from exc
        return v

    def data(self) -> bytes:
        return base64.b64decode(self.data_base64)


class PetitionBody(_Body):
    """One petition, whatever the channel."""

    channel: Literal["web", "miniprogram", "qr", "hotline", "mail", "visit"] = "web"
    petitioners: list[PetitionerIn] = Field(default_factory=list, max_length=50)
    anonymous: bool = Field(default=False, strict=True)
    title: Written = Field(min_length=1, max_length=100, examples=["工地拖欠农民工工资"])
    content: Written = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    type: PetitionType | None = None
    category: Text | None = Field(default=None, max_length=100, examples=["labor.wage_arrears"])
    division_code: Text | None = Field(default=None, examples=["990101100201"])
    address: Written | None = Field(default=None, max_length=200)
    addressed_to: Text | None = Field(default=None, max_length=100)
    people_count: int = Field(default=1, ge=1, le=100_000, strict=True)
    accused: AccusedIn | None = None
    prior: PriorIn | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)
    openid: Text | None = Field(default=None, max_length=64, description="小程序用户 openid")

    @field_validator("division_code")
    @classmethod
    def _division(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not re.fullmatch(r"\d{12}", v):
            raise ValueError("区划代码须为 12 位数字（统计用区划代码）")
        return v


def body_problems(body: PetitionBody, *, require_phone: bool = True) -> list[tuple[str, str]]:
    """Checks across fields, as `(field, message)`: who may petition anonymously, and
    that a petitioner who follows the case online has a phone to do it with."""
    problems: list[tuple[str, str]] = []
    if body.anonymous:
        if body.type not in (None, "report"):
            problems.append(("anonymous", "只有检举控告（type=report）可以匿名提交"))
        if body.petitioners:
            problems.append(("petitioners", "匿名检举不应填写信访人"))
    elif not body.petitioners:
        problems.append(("petitioners", "请填写信访人（匿名检举请将 anonymous 设为 true）"))
    elif require_phone and not any(p.phone for p in body.petitioners):
        problems.append(("petitioners.0.phone", "请至少为一位信访人填写手机号，用于查询办理进度"))
    return problems


def default_type(category: str) -> str:
    return "report" if category.startswith("discipline.") else "complaint"


def resolve_references(
    body: PetitionBody, directory: Directory, *, require_phone: bool = True
) -> tuple[dict[str, str], list[FieldError]]:
    """Check every reference to the directory; returns the resolved values and the problems."""
    problems = [FieldError(f, m) for f, m in body_problems(body, require_phone=require_phone)]
    resolved: dict[str, str] = {}
    if body.division_code is None:
        problems.append(
            FieldError("division_code", "请填写事发地的区划代码（12 位统计用区划代码）")
        )
    elif body.division_code not in directory.divisions:
        problems.append(
            FieldError("division_code", f"区划代码 {body.division_code} 不在本系统的行政区划目录中")
        )
    if body.category is None:
        problems.append(FieldError("category", "请选择信访事项的内容类别"))
    elif body.category not in directory.categories:
        problems.append(FieldError("category", f"内容类别 {body.category} 不存在"))
    if body.addressed_to is not None and body.addressed_to not in directory.units:
        problems.append(FieldError("addressed_to", f"受信单位 {body.addressed_to} 不存在"))
    if body.accused and body.accused.unit_id and body.accused.unit_id not in directory.units:
        problems.append(
            FieldError("accused.unit_id", f"被检举人所在单位 {body.accused.unit_id} 不存在")
        )
    if body.prior and body.prior.unit_id and body.prior.unit_id not in directory.units:
        problems.append(FieldError("prior.unit_id", f"已处理单位 {body.prior.unit_id} 不存在"))
    if problems:
        return resolved, problems
    assert body.division_code is not None and body.category is not None
    addressed = body.addressed_to
    if addressed is None:
        # By default a petition is addressed to the petition bureau of the place's county.
        county = directory.division_at(body.division_code, "county")
        bureau = directory.unit_with(county.code, "petition_bureau") if county else None
        if bureau is None:
            problems.append(
                FieldError("addressed_to", "事发地所在县没有信访工作机构，请填写受信单位")
            )
            return resolved, problems
        addressed = bureau.id
    resolved["addressed_to"] = addressed
    resolved["type"] = body.type or default_type(body.category)
    if body.anonymous and resolved["type"] != "report":
        problems.append(FieldError("anonymous", "只有检举控告（type=report）可以匿名提交"))
    return resolved, problems


EXAMPLE_BODY: dict[str, Any] = {
    "channel": "web",
    "petitioners": [
        {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13800138000",
            "address": "清河县青石镇红星村三组",
        }
    ],
    "anonymous": False,
    "title": "工地拖欠农民工工资",
    "content": "红星村安置房工地拖欠我们十二名工人三个月工资共计八万余元，多次讨要无果。",
    "type": "complaint",
    "category": "labor.wage_arrears",
    "division_code": "990101100201",
    "address": "清河县青石镇红星村安置房工地",
    "people_count": 1,
}
