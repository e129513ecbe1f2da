"""Scan to petition (码上访), end to end: what test_qr_sites.py leaves out — the
petition's channel data, the counters, what a revoked site still draws, what the
printed code holds, and tokens no shorter path can mistake for a route."""

from __future__ import annotations

import io
import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import segno
from sqlalchemy import select

from intake_api.models import Petition
from intake_api.qrcodes import QrClaims, sign, signing_key
from shared.db import make_engine, make_session_factory
from tests.conftest import TEST_SECRET
from tests.helpers import petition, wait_for
from tests.services.conftest import Api

HONGXING = {
    "name": "红星村安置房工地",
    "kind": "construction_site",
    "division_code": "990101100201",
    "unit_id": "qinghe.qingshi.hongxing",
}
KEY = signing_key(TEST_SECRET.encode())


def create(api: Api, **changes: Any) -> dict[str, Any]:
    r = api.client.post("/api/v1/qr-sites", json={**HONGXING, **changes}, headers=api.registrar)
    assert r.status_code == 201, r.text
    return r.json()


def scan_body(**changes: Any) -> dict[str, Any]:
    body = petition(**changes)
    del body["division_code"], body["channel"]
    return body


def site(api: Api, site_id: str) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/qr-sites/{site_id}", headers=api.registrar)
    assert r.status_code == 200, r.text
    return r.json()


def stored(api: Api) -> list[Petition]:
    engine = make_engine(api.url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(Petition)))
    finally:
        engine.dispose()


def assert_refused(r: Any) -> None:
    assert r.status_code == 404, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "二维码无效" in r.json()["detail"]


def test_a_petition_from_the_hongxing_site_is_placed_routed_and_counted(api: Api) -> None:
    created = create(api)
    assert {"id", "token", "url", "name", "kind", "division_code", "unit_id", "expires_at"} <= set(
        created
    )
    assert created["expires_at"] is None
    # the server's own address (PUBLIC_BASE_URL unset), whatever Host the caller sent
    assert created["url"] == f"http://127.0.0.1:8000/api/v1/qr/{created['token']}"
    shown = api.client.get(
        f"/api/v1/qr-sites/{created['id']}", headers={**api.registrar, "Host": "evil.example"}
    ).json()
    assert "evil.example" not in json.dumps(shown)

    landing = api.client.get(f"/api/v1/qr/{created['token']}").json()
    assert landing["unit_name"] != "qinghe.qingshi.hongxing"  # the directory's name
    assert landing["submit_url"] == f"{created['url']}/petitions"
    r = api.client.post(landing["submit_url"], json=scan_body())
    assert r.status_code == 201, r.text
    assert {"id", "query_code", "status", "received_at"} <= set(r.json())

    def routed() -> dict[str, Any] | None:
        rec = api.client.get(f"/api/v1/petitions/{r.json()['id']}", headers=api.registrar).json()
        return rec if rec.get("routing") else None

    rec = wait_for(routed)
    assert (rec["division_code"], rec["channel"]) == ("990101100201", "qr")
    assert rec["routing"]["decision"] in {"assign", "refer_down", "divert", "decline"}
    (row,) = stored(api)
    assert row.channel_data == {
        "site_id": created["id"],
        "site_name": "红星村安置房工地",
        "site_kind": "construction_site",
        "site_unit_id": "qinghe.qingshi.hongxing",
    }
    counts = site(api, created["id"])
    assert (counts["scans"], counts["submissions"]) == (1, 1)


def test_refused_tokens_and_refused_bodies_count_nothing(api: Api) -> None:
    created = create(api)
    forged = sign(signing_key(b"another county"), QrClaims(created["id"], 1, 0))
    assert_refused(api.client.get(f"/api/v1/qr/{forged}"))
    assert_refused(api.client.post(f"/api/v1/qr/{forged}/petitions", json=scan_body()))
    bad_phone = scan_body(petitioners=[{"name": "张三", "phone": "123"}])
    r = api.client.post(f"/api/v1/qr/{created['token']}/petitions", json=bad_phone)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "petitioners.0.phone"
    placed = {**scan_body(), "division_code": "990101100201"}
    r = api.client.post(f"/api/v1/qr/{created['token']}/petitions", json=placed)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["division_code"]
    counts = site(api, created["id"])
    assert (counts["scans"], counts["submissions"]) == (0, 0)
    assert stored(api) == []


def test_concurrent_scans_are_all_counted(api: Api) -> None:
    created = create(api)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: api.client.get(created["url"]).status_code, range(24)))
    assert codes == [200] * 24
    assert site(api, created["id"])["scans"] == 24


def test_revoking_stops_every_token_and_the_drawings(api: Api) -> None:
    created = create(api, expires_in_days=30)
    # Another genuine token of the same site and version, signed with the app key.
    other = sign(KEY, QrClaims(created["id"], 1, 0))
    assert api.client.get(f"/api/v1/qr/{other}").status_code == 200
    r = api.client.post(f"/api/v1/qr-sites/{created['id']}/revoke", headers=api.registrar)
    assert r.status_code == 200 and r.json()["revoked"] is True
    for token in (created["token"], other, sign(KEY, QrClaims(created["id"], 2, 0))):
        assert_refused(api.client.get(f"/api/v1/qr/{token}"))
        assert_refused(api.client.post(f"/api/v1/qr/{token}/petitions", json=scan_body()))
    for ext in ("svg", "png"):
        r = api.client.get(f"/api/v1/qr-sites/{created['id']}/qr.{ext}", headers=api.registrar)
        assert r.status_code == 404
    assert stored(api) == []


def test_an_expired_token_of_a_live_site_is_refused(api: Api) -> None:
    created = create(api)
    past = sign(KEY, QrClaims(created["id"], 1, 1_600_000_000))
    assert_refused(api.client.post(f"/api/v1/qr/{past}/petitions", json=scan_body()))
    assert stored(api) == []


@pytest.mark.parametrize(
    "token",
    [
        "A" * 121 + "." + "B" * 22,
        "ü" * 200,
        "二维码.签名",
        "%00",
        "a%5Cb",
        "...",
        "' OR 1=1 --",
        "e30.e30",
    ],
    ids=["too-long-payload", "non-ascii", "chinese", "nul", "backslash", "dots", "sql", "jwt-like"],
)
def test_any_token_string_is_a_404_problem(api: Api, token: str) -> None:
    scanned = api.client.get(f"/api/v1/qr/{token}")
    submitted = api.client.post(f"/api/v1/qr/{token}/petitions", json=scan_body())
    if token == "%00":
        # a NUL names nothing anywhere in the API: refused before any code is looked at
        for r in (scanned, submitted):
            assert r.status_code == 404 and r.json()["detail"].startswith("找不到 /api/v1/qr/")
        assert stored(api) == []
        return
    assert_refused(scanned)
    assert_refused(submitted)


def test_a_very_long_token_is_a_404_problem(api: Api) -> None:
    assert_refused(api.client.get(f"/api/v1/qr/{'x' * 5000}"))


def test_the_drawings_are_for_registrars_and_admins(api: Api) -> None:
    created = create(api)
    admin = api.auth("qinghe.petition_bureau", "admin")
    handler = api.auth("qinghe.hrss", "handler")
    for ext in ("svg", "png"):
        path = f"/api/v1/qr-sites/{created['id']}/qr.{ext}"
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers=handler).status_code == 403
        assert api.client.get(path, headers=admin).status_code == 200
    assert api.client.get(f"/api/v1/qr-sites/{created['id']}").status_code == 401
    missing = api.client.get("/api/v1/qr-sites/nosuchsite", headers=api.registrar)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def png_modules(data: bytes) -> list[list[bool]]:
    """The dark modules of a black-on-white, 1-bit greyscale PNG QR code."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + size]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += size + 12
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (1, 0), "segno draws 1-bit greyscale"
    stride = (width + 7) // 8
    raw, rows, prev = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            left, up, corner = line[i - 1] if i else 0, prev[i], prev[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        prev = line
    # The finder pattern's top-left corner gives the quiet zone and the scale.
    top = next(y for y, row in enumerate(rows) if any(row))
    left = rows[top].index(True)
    scale = rows[top][left:].index(False) // 7
    n = (width - 2 * left) // scale
    return [
        [rows[top + r * scale + scale // 2][left + c * scale + scale // 2] for c in range(n)]
        for r in range(n)
    ]


def test_the_printed_code_opens_the_absolute_scan_url(api: Api) -> None:
    created = create(api)
    png = api.client.get(f"/api/v1/qr-sites/{created['id']}/qr.png", headers=api.registrar)
    assert png.headers["content-type"] == "image/png"
    drawn = png_modules(png.content)
    url = f"http://127.0.0.1:8000/api/v1/qr/{created['token']}"
    assert url == created["url"]
    candidates = [
        [[bool(m) for m in row] for row in segno.make(url, error=e, boost_error=b).matrix]
        for e in "lmqh"
        for b in (True, False)
    ]
    assert drawn in candidates
    # What it opens works.
    assert api.client.get(url.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_the_svg_is_titled_with_the_site_name(api: Api) -> None:
    import xml.etree.ElementTree as ET

    created = create(api, name="幸福里小区", kind="housing_estate")
    svg = api.client.get(f"/api/v1/qr-sites/{created['id']}/qr.svg", headers=api.registrar)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.parse(io.BytesIO(svg.content)).getroot()
    titles = [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "title"]
    assert any("幸福里小区" in t for t in titles)
