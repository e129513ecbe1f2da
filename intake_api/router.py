"""The intake's HTTP endpoints: every channel's router, in one."""

from __future__ import annotations

from fastapi import APIRouter

from intake_api.channels import hotline, mail, qrsite, visit, web

router = APIRouter()
for channel in (web, qrsite, hotline, mail, visit):
    router.include_router(channel.router)

from intake_api import personal_data  # noqa: E402  (kept apart from the channels)

router.include_router(personal_data.router)
