"""Rate limits on the public endpoints (429 with Retry-After), on the whole app and
on the bare middleware with a clock of the test's own."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.config import LimitSettings
from shared.ratelimit import RateLimit, Window
from tests.helpers import petition, wait_for
from tests.shared.test_limits import listed, serve

LIFTED = 100_000


def person(phone: str) -> list[dict[str, str]]:
    return [{"name": "张三", "phone": phone}]


def assert_429(r: Any, most: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    seconds = int(r.headers["retry-after"])
    assert 1 <= seconds <= most
    doc = r.json()
    assert doc["status"] == 429 and doc["title"] == "请求过于频繁"
    assert doc["detail"] == f"请求过于频繁，请 {seconds} 秒后再试"


def test_the_defaults() -> None:
    limits = LimitSettings()
    assert (limits.rate_ip_per_minute, limits.rate_phone_per_hour) == (30, 10)
    assert limits.trusted_proxies == ""


def test_the_31st_petition_from_one_address_in_a_minute_is_refused(db_url: str) -> None:
    with serve(db_url, rate_ip_per_minute=30, rate_phone_per_hour=LIFTED) as api:
        for i in range(30):
            body = petition(title=f"欠薪{i}", petitioners=person(f"138{i:08d}"))
            r = api.client.post("/api/v1/petitions", json=body)
            assert r.status_code == 201, (i, r.text)
        r = api.client.post("/api/v1/petitions", json=petition(petitioners=person("13999999999")))
        assert_429(r, 60)
        # the scan-code submission is public too, and shares the address's allowance
        r = api.client.post("/api/v1/qr/not-a-token/petitions", json=petition())
        assert_429(r, 60)
        # staff endpoints are not limited, from the same address
        for _ in range(5):
            assert api.client.get("/api/v1/petitions", headers=api.registrar).status_code == 200
        letter = petition(channel="mail", petitioners=[{"name": "王五"}])
        r = api.client.post("/api/v1/mail/letters", json=letter, headers=api.registrar)
        assert r.status_code != 429, r.text
        assert api.client.get("/healthz").status_code == 200
        # another address is counted on its own
        other = TestClient(api.client.app, client=("10.0.0.9", 5000))
        assert other.post("/api/v1/petitions", json=petition()).status_code == 201


def test_a_phone_is_limited_on_its_own_from_any_address(db_url: str) -> None:
    with serve(db_url, rate_ip_per_minute=LIFTED, rate_phone_per_hour=2) as api:
        # two more clients of the running app (not started again), from other addresses
        a = TestClient(api.client.app, client=("10.0.0.1", 1))
        b = TestClient(api.client.app, client=("10.0.0.2", 1))
        assert a.post("/api/v1/petitions", json=petition()).status_code == 201
        # the same number written differently is the same phone
        same = petition(title="第二件", petitioners=person("+86 138-0013-8000"))
        assert b.post("/api/v1/petitions", json=same).status_code == 201
        assert_429(b.post("/api/v1/petitions", json=petition(title="第三件")), 3600)
        assert_429(a.post("/api/v1/petitions", json=petition(title="第四件")), 3600)
        # a different phone has its own allowance
        other = petition(petitioners=person("13911112222"))
        assert a.post("/api/v1/petitions", json=other).status_code == 201
        # a petition naming both the exhausted phone and a fresh one is refused
        both = petition(petitioners=[*person("13700000000"), *person("13800138000")])
        assert_429(a.post("/api/v1/petitions", json=both), 3600)
        # ... and used up nothing of the fresh one's allowance
        fresh = petition(petitioners=person("13700000000"))
        assert a.post("/api/v1/petitions", json=fresh).status_code == 201
        assert a.post("/api/v1/petitions", json=fresh).status_code == 201
        assert_429(a.post("/api/v1/petitions", json=fresh), 3600)


def test_tracking_is_limited_by_the_phone_asked_about(db_url: str) -> None:
    with serve(db_url, rate_ip_per_minute=LIFTED, rate_phone_per_hour=3) as api:
        receipt = api.client.post("/api/v1/petitions", json=petition()).json()
        wait_for(lambda: receipt["id"] in listed(api))  # staff reads are not counted
        url = f"/api/v1/track/{receipt['query_code']}"
        for _ in range(3):
            assert api.client.get(url, params={"phone": "13800138000"}).status_code == 200
        assert_429(api.client.get(url, params={"phone": "138 0013 8000"}), 3600)
        # guessing codes for the phone does not help either
        assert_429(api.client.get("/api/v1/track/ABCD-EFGH", params={"phone": "13800138000"}), 3600)
        # another phone is counted on its own (and is simply not found)
        assert api.client.get(url, params={"phone": "13900139000"}).status_code == 404
        # following a case does not use up the right to submit one
        r = api.client.post("/api/v1/petitions", json=petition(title="又一件"))
        assert r.status_code == 201, r.text


def test_tracking_counts_against_the_address_too(db_url: str) -> None:
    with serve(db_url, rate_ip_per_minute=3, rate_phone_per_hour=LIFTED) as api:
        for i in range(3):
            r = api.client.get("/api/v1/track/ABCD-EFGH", params={"phone": f"1390000000{i}"})
            assert r.status_code == 404
        assert_429(api.client.get("/api/v1/track/ABCD-EFGH", params={"phone": "13900000009"}), 60)
        assert api.client.get("/api/v1/petitions", headers=api.registrar).status_code == 200


# --- the bare middleware, with a clock of the test's own -----------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def created(request: Request) -> JSONResponse:
    body = await request.json()  # the body read by the limiter still reaches the app
    return JSONResponse({"title": body.get("title")}, status_code=201)


async def tracked(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def limited(clock: Clock, **kwargs: Any) -> RateLimit:
    inner = Starlette(
        routes=[
            Route("/api/v1/petitions", created, methods=["POST"]),
            Route("/api/v1/track/{code}", tracked),
            Route("/api/v1/staff", tracked, methods=["GET", "POST"]),
        ]
    )
    return RateLimit(
        inner,
        per_ip=Window(kwargs.pop("ip", 3), 60),
        per_phone=Window(kwargs.pop("phone", 100), 3600),
        clock=clock,
        **kwargs,
    )


def test_the_window_slides_and_retry_after_tells_when() -> None:
    clock = Clock()
    with TestClient(limited(clock)) as client:

        def post() -> Any:
            return client.post("/api/v1/petitions", json={"title": "标题"})

        assert post().json() == {"title": "标题"}
        clock.now += 20
        assert post().status_code == 201
        clock.now += 20
        assert post().status_code == 201
        clock.now += 5  # 45 s after the first
        r = post()
        assert r.status_code == 429 and r.headers["retry-after"] == "15"
        clock.now += 14.5
        assert post().headers["retry-after"] == "1"  # rounded up, never 0
        clock.now += 0.5  # the first has left the window: one more
        assert post().status_code == 201
        assert post().headers["retry-after"] == "20"
        # refused requests used up nothing: 20 s on, the second has left too
        clock.now += 20
        assert post().status_code == 201
        # staff paths are never counted
        for _ in range(10):
            assert client.post("/api/v1/staff").status_code == 200


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    clock = Clock()
    headers = {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
    untrusted = limited(clock, ip=1)
    with TestClient(untrusted) as client:
        assert client.get("/api/v1/track/X", headers=headers).status_code == 200
        # a forged header does not make a new client
        other = {"X-Forwarded-For": "198.51.100.1"}
        assert client.get("/api/v1/track/X", headers=other).status_code == 429
    trusted = limited(clock, ip=1, trusted_proxies=frozenset({"testclient"}))
    with TestClient(trusted) as client:
        assert client.get("/api/v1/track/X", headers=headers).status_code == 200
        assert client.get("/api/v1/track/X", headers=headers).status_code == 429
        other = {"X-Forwarded-For": "198.51.100.1"}
        assert client.get("/api/v1/track/X", headers=other).status_code == 200
    assert trusted.client_ip({"client": ("testclient", 1), "headers": []}) == "testclient"


def test_a_rotated_forwarded_header_is_one_client_under_the_real_server(sqlite_url: str) -> None:
    """Served as `xinfang serve` serves (uvicorn, over a socket from 127.0.0.1): a
    caller that writes a new X-Forwarded-For on every guess is still one address."""
    import socket
    import threading

    import httpx
    import uvicorn

    from services.app import build_app, server_config
    from tests.conftest import load_demo
    from tests.services.conftest import settings_for

    load_demo(sqlite_url)
    app = build_app(settings_for(sqlite_url, rate_ip_per_minute=3))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=10)
        codes = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(6):
                r = client.get(
                    "/api/v1/track/AAAA-BBBB-CCCC",
                    params={"phone": "13800138000"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
                codes.append(r.status_code)
        assert codes == [404, 404, 404, 429, 429, 429]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_trusted_proxy_names_the_client_the_client_cannot_forge_it() -> None:
    limiter = RateLimit(
        None,  # type: ignore[arg-type]
        per_ip=Window(1, 60),
        per_phone=Window(1, 60),
        trusted_proxies=frozenset({"10.0.0.2"}),
    )

    def seen(forwarded: str) -> str:
        scope = {"client": ("10.0.0.2", 1), "headers": [(b"x-forwarded-for", forwarded.encode())]}
        return limiter.client_ip(scope)

    # the proxy appends the peer it saw; whatever the client wrote before it is ignored
    assert seen("203.0.113.9") == "203.0.113.9"
    assert seen("1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert seen("6.6.6.6, 203.0.113.9") == "203.0.113.9"
    # the rate limit's and intake's phone are one: full-width digits are the same phone
    from shared.ratelimit import phones_in

    assert phones_in('{"petitioners":[{"phone":"１３８００１３８０００"}]}'.encode()) == {
        "13800138000"
    }
    assert phones_in(b'{"petitioners":[{"phone":"+86 138-0013-8000"}]}') == {"13800138000"}
