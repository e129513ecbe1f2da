"""Scan to petition (码上访): staff post codes at building sites, estates and villages;
a scan opens a form whose place and responsible unit come from the code's site."""

from __future__ import annotations

import io
import secrets
from datetime import timedelta
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Depends, Path, Request, Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from intake_api.channels.common import PROBLEM_422, channel_problems, submit
from intake_api.models import QrSite
from intake_api.qrcodes import QrClaims, sign, signing_key, verify
from intake_api.schemas import (
    QR_KINDS,
    PetitionReceipt,
    QrLanding,
    QrPetition,
    QrSiteCreated,
    QrSiteIn,
    QrSiteRead,
)
from intake_api.service import ChannelIntake
from shared.errors import FieldError, ProblemError, not_found, validation_problem
from shared.petition import EXAMPLE_BODY, PetitionBody
from shared.security import Principal
from shared.timeutil import to_china, utcnow
from shared.visibility import covers_unit
from shared.web import SessionDep, require_staff

router = APIRouter(prefix="/api/v1", tags=["扫码信访"])
Registrar = Annotated[Principal, Depends(require_staff("registrar", "admin"))]
SiteId = Annotated[str, Path(max_length=20, description="二维码点位编号")]
# No length cap here: any string that is not a genuine token is the same 404,
# and verify() rejects by pattern before it computes a MAC.
Token = Annotated[str, Path(description="二维码中的令牌")]
INVALID = "二维码无效、已过期或已停用，请联系张贴单位"

SITE_EXAMPLE = {
    "name": "红星村安置房工地",
    "kind": "construction_site",
    "division_code": "990101100201",
    "unit_id": "qinghe.qingshi.gov",
    "expires_in_days": 365,
}
QR_PETITION_EXAMPLE = {
    k: v for k, v in EXAMPLE_BODY.items() if k not in ("division_code", "channel")
}


def _key(request: Request) -> bytes:
    return signing_key(request.app.state.runtime.settings.security.secret_key())


def _token(request: Request, site: QrSite) -> str:
    expires = int(site.expires_at.timestamp()) if site.expires_at else 0
    return sign(_key(request), QrClaims(site.id, site.token_version, expires))


def _url(request: Request, token: str) -> str:
    # from the configured public address: a Host header is the caller's to write
    return f"{request.app.state.runtime.settings.server.base_url()}/api/v1/qr/{token}"


def _read(site: QrSite) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "kind": site.kind,
        "division_code": site.division_code,
        "unit_id": site.unit_id,
        "expires_at": to_china(site.expires_at) if site.expires_at else None,
        "revoked": site.revoked_at is not None,
        "scans": site.scans,
        "submissions": site.submissions,
    }


def site_for_token(request: Request, session: Session, token: str) -> QrSite:
    """The live site a token names; 404 for a forged, altered, expired or revoked one."""
    claims = verify(_key(request), token, int(utcnow().timestamp()))
    site = session.get(QrSite, claims.site_id) if claims else None
    if (
        claims is None
        or site is None
        or site.revoked_at is not None
        or site.token_version != claims.version
        or (site.expires_at is not None and site.expires_at < utcnow())
    ):
        raise ProblemError(404, INVALID)
    return site


def _count(session: Session, site_id: str, column: str) -> None:
    # An atomic increment: concurrent scans are all counted.
    counter = getattr(QrSite, column)
    session.execute(update(QrSite).where(QrSite.id == site_id).values({counter: counter + 1}))


@router.post(
    "/qr-sites",
    status_code=201,
    response_model=QrSiteCreated,
    summary="新建扫码信访点位（工地、小区、村）",
    responses=PROBLEM_422,
)
def create_site(
    request: Request,
    session: SessionDep,
    who: Registrar,
    body: Annotated[QrSiteIn, Body(openapi_examples={"工地": {"value": SITE_EXAMPLE}})],
) -> dict[str, Any]:
    directory = request.app.state.directory.get(session)
    problems = []
    if body.division_code not in directory.divisions:
        problems.append(FieldError("division_code", f"区划代码 {body.division_code} 不在目录中"))
    if body.unit_id not in directory.units:
        problems.append(FieldError("unit_id", f"单位 {body.unit_id} 不在目录中"))
    elif not covers_unit(who, body.unit_id, directory):
        problems.append(
            FieldError("unit_id", f"单位 {body.unit_id} 不在本单位辖区内，不能为其设扫码点位")
        )
    if problems:
        raise validation_problem(problems)
    now = utcnow()
    site = QrSite(
        id=secrets.token_hex(6),
        name=body.name,
        kind=body.kind,
        division_code=body.division_code,
        unit_id=body.unit_id,
        created_at=now,
        created_by=who.label,
        expires_at=now + timedelta(days=body.expires_in_days)
        if body.expires_in_days is not None
        else None,
        token_version=1,
        scans=0,
        submissions=0,
    )
    session.add(site)
    session.commit()
    token = _token(request, site)
    return {**_read(site), "token": token, "url": _url(request, token)}


@router.get(
    "/qr-sites/{site_id}", response_model=QrSiteRead, summary="查看扫码点位及其扫码、提交次数"
)
def get_site(
    request: Request, session: SessionDep, who: Registrar, site_id: SiteId
) -> dict[str, Any]:
    return _read(_own_site(request, session, who, site_id))


@router.post(
    "/qr-sites/{site_id}/revoke",
    response_model=QrSiteRead,
    summary="停用扫码点位：已张贴的二维码立即失效",
)
def revoke_site(
    request: Request, session: SessionDep, who: Registrar, site_id: SiteId
) -> dict[str, Any]:
    site = _own_site(request, session, who, site_id)
    if site.revoked_at is None:
        site.revoked_at = utcnow()
        site.token_version += 1
    session.commit()
    return _read(site)


def _own_site(request: Request, session: Session, who: Principal, site_id: str) -> QrSite:
    """A site of a unit in the caller's jurisdiction; any other does not exist for them."""
    site = session.get(QrSite, site_id)
    directory = request.app.state.directory.get(session)
    if site is None or not covers_unit(who, site.unit_id, directory):
        raise not_found(f"扫码点位 {site_id} ")
    return site


def _code(
    request: Request, session: Session, who: Principal, site_id: str
) -> tuple[QrSite, segno.QRCode]:
    site = _own_site(request, session, who, site_id)
    if site.revoked_at is not None:
        raise not_found(f"扫码点位 {site_id} ")
    return site, segno.make(_url(request, _token(request, site)), error="m")


@router.get(
    "/qr-sites/{site_id}/qr.svg",
    summary="二维码图片（SVG，可打印张贴）",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def qr_svg(request: Request, session: SessionDep, who: Registrar, site_id: SiteId) -> Response:
    site, code = _code(request, session, who, site_id)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=8, border=4, title=f"扫码信访：{site.name}", encoding="utf-8")
    return Response(out.getvalue(), media_type="image/svg+xml")


@router.get(
    "/qr-sites/{site_id}/qr.png",
    summary="二维码图片（PNG）",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def qr_png(request: Request, session: SessionDep, who: Registrar, site_id: SiteId) -> Response:
    _, code = _code(request, session, who, site_id)
    out = io.BytesIO()
    code.save(out, kind="png", scale=8, border=4)
    return Response(out.getvalue(), media_type="image/png")


@router.get("/qr/{token}", response_model=QrLanding, summary="扫码打开：显示点位信息与提交地址")
def scan(request: Request, session: SessionDep, token: Token) -> QrLanding:
    site = site_for_token(request, session, token)
    directory = request.app.state.directory.get(session)
    _count(session, site.id, "scans")
    session.commit()
    unit = directory.units.get(site.unit_id)
    return QrLanding(
        site_name=site.name,
        site_kind=QR_KINDS.get(site.kind, site.kind),
        division_code=site.division_code,
        division_name=directory.full_name(site.division_code),
        unit_name=unit.name if unit else site.unit_id,
        submit_url=f"{_url(request, token)}/petitions",
    )


@router.post(
    "/qr/{token}/petitions",
    status_code=201,
    response_model=PetitionReceipt,
    summary="扫码提交信访事项（地点与责任单位取自二维码）",
    responses=PROBLEM_422,
)
def submit_by_scan(
    request: Request,
    session: SessionDep,
    token: Token,
    body: Annotated[
        QrPetition, Body(openapi_examples={"工地欠薪": {"value": QR_PETITION_EXAMPLE}})
    ],
) -> PetitionReceipt:
    site = site_for_token(request, session, token)
    placed = PetitionBody.model_validate(
        {
            **body.model_dump(exclude={"division_code"}, exclude_unset=True),
            "division_code": site.division_code,
            "addressed_to": body.addressed_to or site.unit_id,
            "channel": "qr",
        }
    )
    _count(session, site.id, "submissions")
    intake = ChannelIntake(
        channel="qr",
        channel_data={
            "site_id": site.id,
            "site_name": site.name,
            "site_kind": site.kind,
            "site_unit_id": site.unit_id,
        },
        problems=channel_problems(body, ("qr",)),
    )
    return submit(request, session, placed, intake)
