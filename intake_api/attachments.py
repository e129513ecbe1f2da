"""Attachment checks: the type is what the bytes say (magic numbers), not the name;
sizes are limited per file and in total. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import FieldError
from shared.petition import AttachmentIn

# (content type, Chinese name, test on the first bytes)
SIGNATURES: tuple[tuple[str, str, re.Pattern[bytes]], ...] = (
    ("image/jpeg", "JPEG 图片", re.compile(rb"\A\xff\xd8\xff", re.S)),
    ("image/png", "PNG 图片", re.compile(rb"\A\x89PNG\r\n\x1a\n", re.S)),
    ("image/webp", "WebP 图片", re.compile(rb"\ARIFF....WEBP", re.S)),
    ("application/pdf", "PDF 文档", re.compile(rb"\A%PDF-", re.S)),
    ("audio/mpeg", "MP3 音频", re.compile(rb"\A(ID3|\xff[\xfb\xf3\xf2])", re.S)),
    ("audio/amr", "AMR 录音", re.compile(rb"\A#!AMR", re.S)),
    ("video/mp4", "MP4 视频", re.compile(rb"\A....ftyp", re.S)),
)
ALLOWED = {ct for ct, _, _ in SIGNATURES}
NAMES = {ct: name for ct, name, _ in SIGNATURES}


@dataclass(frozen=True)
class AttachmentLimits:
    max_file_bytes: int = 512 * 1024
    max_total_bytes: int = 700 * 1024  # a request is at most 1 MiB, Base64 included


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves show, or None if not an allowed kind."""
    head = data[:16]
    return next((ct for ct, _, sig in SIGNATURES if sig.match(head)), None)


def safe_name(name: str) -> str:
    """A display name with no path in it."""
    name = re.sub(r"[\x00-\x1f\\/]", "_", name).strip(". ")
    return name[:200] or "附件"


def attachment_problems(
    attachments: list[AttachmentIn], limits: AttachmentLimits
) -> list[FieldError]:
    problems: list[FieldError] = []
    total = 0
    allowed = "、".join(NAMES.values())
    for i, att in enumerate(attachments):
        data = att.data()
        total += len(data)
        where = f"attachments.{i}"
        if not data:
            problems.append(FieldError(f"{where}.data_base64", "附件内容为空"))
            continue
        if len(data) > limits.max_file_bytes:
            problems.append(
                FieldError(
                    f"{where}.data_base64", f"单个附件不能超过 {limits.max_file_bytes // 1024} KB"
                )
            )
        actual = sniff(data)
        if actual is None:
            problems.append(
                FieldError(f"{where}.data_base64", f"不支持的附件类型，仅接受：{allowed}")
            )
        elif att.content_type.lower() != actual:
            problems.append(
                FieldError(
                    f"{where}.content_type",
                    f"声明的类型 {att.content_type} 与内容不符（内容是{NAMES[actual]}）",
                )
            )
    if total > limits.max_total_bytes:
        problems.append(
            FieldError("attachments", f"附件合计不能超过 {limits.max_total_bytes // 1024} KB")
        )
    return problems
