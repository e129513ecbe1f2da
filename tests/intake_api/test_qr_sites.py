"""Scan to petition: signed codes posted at sites; place and unit come from the code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from intake_api.qrcodes import QrClaims, sign, signing_key
from tests.conftest import TEST_SECRET
from tests.helpers import petition, wait_for
from tests.services.conftest import Api

SITE = {
    "name": "红星村安置房工地",
    "kind": "construction_site",
    "division_code": "990101100201",
    "unit_id": "qinghe.qingshi.gov",
}


def create(api: Api, **changes: Any) -> dict[str, Any]:
    r = api.client.post("/api/v1/qr-sites", json={**SITE, **changes}, headers=api.registrar)
    assert r.status_code == 201, r.text
    return r.json()


def scan_body(**changes: Any) -> dict[str, Any]:
    body = petition(**changes)
    body.pop("division_code")
    body.pop("channel")
    return body


def test_a_scan_submission_takes_its_place_and_unit_from_the_site(api: Api) -> None:
    site = create(api)
    assert site["url"].endswith(f"/api/v1/qr/{site['token']}")
    landing = api.client.get(f"/api/v1/qr/{site['token']}")
    assert landing.status_code == 200
    assert landing.json()["division_name"].endswith("青石镇红星村")
    assert landing.json()["site_kind"] == "工地"
    r = api.client.post(f"/api/v1/qr/{site['token']}/petitions", json=scan_body())
    assert r.status_code == 201, r.text

    def routed() -> dict[str, Any] | None:
        rec = api.client.get(f"/api/v1/petitions/{r.json()['id']}", headers=api.registrar).json()
        return rec if rec.get("routing") else None

    rec = wait_for(routed)
    assert rec["division_code"] == "990101100201"
    assert rec["channel"] == "qr"
    assert rec["addressed_to"] == "qinghe.qingshi.gov"
    counts = api.client.get(f"/api/v1/qr-sites/{site['id']}", headers=api.registrar).json()
    assert (counts["scans"], counts["submissions"]) == (1, 1)


def test_the_code_draws_as_svg_and_png(api: Api) -> None:
    site = create(api)
    svg = api.client.get(f"/api/v1/qr-sites/{site['id']}/qr.svg", headers=api.registrar)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    assert "红星村安置房工地" in svg.text
    png = api.client.get(f"/api/v1/qr-sites/{site['id']}/qr.png", headers=api.registrar)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")


def flip(token: str) -> str:
    i = len(token) // 3
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def test_forged_expired_and_revoked_codes_are_not_found_and_store_nothing(api: Api) -> None:
    site = create(api)
    key = signing_key(TEST_SECRET.encode())
    other_key = signing_key(b"some other county's secret")
    expired = sign(key, QrClaims(site["id"], 1, 1_000_000_000))
    bad = [
        flip(site["token"]),
        sign(other_key, QrClaims(site["id"], 1, 0)),
        expired,
        "x" * 300,
        "..%2F..%2Fetc%2Fpasswd",
        "二维码",
    ]
    for token in bad:
        for r in (
            api.client.get(f"/api/v1/qr/{token}"),
            api.client.post(f"/api/v1/qr/{token}/petitions", json=scan_body()),
        ):
            assert r.status_code == 404, (token, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    revoked = api.client.post(f"/api/v1/qr-sites/{site['id']}/revoke", headers=api.registrar)
    assert revoked.json()["revoked"] is True
    assert (
        api.client.post(f"/api/v1/qr/{site['token']}/petitions", json=scan_body()).status_code
        == 404
    )
    assert api.client.get("/api/v1/petitions", headers=api.registrar).json() == []


def test_a_site_that_expires_today_stops_working(api: Api) -> None:
    site = create(api, expires_in_days=0)
    assert api.client.get(f"/api/v1/qr/{site['token']}").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"division_code": "990101999999"}, "division_code"),
        ({"unit_id": "qinghe.nowhere"}, "unit_id"),
        ({"kind": "palace"}, "kind"),
    ],
)
def test_a_site_must_name_real_places_and_units(
    api: Api, changes: dict[str, str], field: str
) -> None:
    r = api.client.post("/api/v1/qr-sites", json={**SITE, **changes}, headers=api.registrar)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_a_scan_submission_cannot_name_another_place(api: Api) -> None:
    site = create(api)
    body = {**scan_body(), "division_code": "990101101201"}
    r = api.client.post(f"/api/v1/qr/{site['token']}/petitions", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "division_code"


def test_only_registrars_and_admins_make_sites(api: Api) -> None:
    assert api.client.post("/api/v1/qr-sites", json=SITE).status_code == 401
    handler = api.auth("qinghe.hrss", "handler")
    assert api.client.post("/api/v1/qr-sites", json=SITE, headers=handler).status_code == 403
