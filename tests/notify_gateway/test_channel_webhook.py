"""The webhook channel against a real local subscriber that verifies and de-duplicates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from notify_gateway.channels.base import Message
from notify_gateway.channels.webhook import WebhookChannel, signature, verify_signature
from tests.notify_gateway.fake_subscriber import FakeSubscriber
from tests.notify_gateway.loopback import closed_port, running

SECRET = "whsec-清河-0123456789"
TIMEOUT = 0.5

NEW_CASE = Message(
    address="",  # the subscriber's URL, set per test
    subject="新交办信访事项：工地拖欠农民工工资",
    body="清河县人力资源和社会保障局：收到新交办信访事项「工地拖欠农民工工资」。",
    event_id="0b7e8a52-2d1c-4f1e-a8a5-4c8f5f3f6d10",
    event_type="petition.assigned",
    data={"query_code": "QH7K2M9P", "role": "主办", "units": ["人社局", "住建局"]},
)


@pytest.fixture
def subscriber() -> Iterator[FakeSubscriber]:
    with running(FakeSubscriber(SECRET)) as fake:
        assert isinstance(fake, FakeSubscriber)
        yield fake


@pytest.fixture
def webhook() -> Iterator[WebhookChannel]:
    channel = WebhookChannel(secret=SECRET, timeout=TIMEOUT)
    yield channel
    channel.close()


def to(fake: FakeSubscriber) -> Message:
    return replace(NEW_CASE, address=f"{fake.base_url}/hooks/xinfang")


def test_a_notice_is_delivered_signed_and_intact(subscriber, webhook):
    before = int(time.time())
    result = webhook.send(to(subscriber))
    assert result.outcome == "delivered", result.detail
    assert not result.retryable
    assert subscriber.refused == 0
    assert subscriber.events == {
        NEW_CASE.event_id: {
            "event_id": NEW_CASE.event_id,
            "event_type": "petition.assigned",
            "subject": "新交办信访事项：工地拖欠农民工工资",
            "body": NEW_CASE.body,
            "data": {"query_code": "QH7K2M9P", "role": "主办", "units": ["人社局", "住建局"]},
        }
    }
    headers = subscriber.headers_seen[0]
    assert headers["x-xinfang-event-type"] == "petition.assigned"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert before <= int(headers["x-xinfang-timestamp"]) <= time.time()
    assert headers["x-xinfang-signature"].startswith("sha256=")


def test_a_redelivered_event_is_kept_once_by_the_subscriber(subscriber, webhook):
    first = webhook.send(to(subscriber))
    again = webhook.send(to(subscriber))
    assert (first.outcome, again.outcome) == ("delivered", "delivered")
    assert list(subscriber.events) == [NEW_CASE.event_id]
    assert subscriber.duplicates == 1
    other = webhook.send(replace(to(subscriber), event_id="another-event"))
    assert other.outcome == "delivered"
    assert len(subscriber.events) == 2


def test_a_request_signed_with_another_secret_is_refused_by_the_subscriber(subscriber):
    stranger = WebhookChannel(secret="not-the-secret", timeout=TIMEOUT)
    try:
        result = stranger.send(to(subscriber))
    finally:
        stranger.close()
    assert result.outcome == "failed"
    # Only 410 stops a webhook: the subscriber may correct its secret, and then a retry lands.
    assert result.retryable
    assert "401" in result.detail
    assert subscriber.refused == 1 and subscriber.events == {}


def test_a_subscriber_that_is_gone_is_not_retried(subscriber, webhook):
    subscriber.mode = "gone"
    result = webhook.send(to(subscriber))
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "410" in result.detail


@pytest.mark.parametrize("mode", ["reject", "down"])
def test_other_error_statuses_are_retried(subscriber, webhook, mode):
    subscriber.mode = mode
    result = webhook.send(to(subscriber))
    assert (result.outcome, result.retryable) == ("failed", True)


def test_a_refused_connection_is_retried(webhook):
    result = webhook.send(replace(NEW_CASE, address=f"http://127.0.0.1:{closed_port()}/hook"))
    assert (result.outcome, result.retryable) == ("failed", True)


def test_an_invalid_url_is_not_retried(webhook):
    result = webhook.send(replace(NEW_CASE, address="ftp://example.invalid/hook"))
    assert (result.outcome, result.retryable) == ("failed", False)


def test_a_hanging_subscriber_gives_up_within_the_timeout(subscriber, webhook):
    subscriber.mode = "slow"
    started = time.monotonic()
    result = webhook.send(to(subscriber))
    elapsed = time.monotonic() - started
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "超时" in result.detail
    assert elapsed < TIMEOUT + 0.5


def test_a_reply_trickling_in_is_cut_off_at_the_deadline(subscriber, webhook):
    # Each byte arrives well within the read timeout; only the deadline ends the wait.
    subscriber.mode = "trickle"
    started = time.monotonic()
    result = webhook.send(to(subscriber))
    elapsed = time.monotonic() - started
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "超时" in result.detail
    assert elapsed < TIMEOUT + 0.5


BODY = '{"event_id":"e1","subject":"您的信访事项已登记"}'.encode()
NOW = 1_767_225_600


def test_verify_signature_accepts_the_genuine_request():
    header = signature(SECRET, str(NOW), BODY)
    assert verify_signature(SECRET, str(NOW), BODY, header, now=NOW)
    assert verify_signature(SECRET.encode(), str(NOW), BODY, header, now=NOW + 300)
    assert verify_signature(SECRET, str(NOW), BODY, header, now=NOW - 300)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("other-secret", str(NOW), BODY, NOW),  # wrong secret
        (SECRET, str(NOW), BODY + b" ", NOW),  # body changed
        (SECRET, str(NOW + 1), BODY, NOW),  # timestamp changed
        (SECRET, str(NOW), BODY, NOW + 301),  # too old: a replay
        (SECRET, str(NOW), BODY, NOW - 301),  # from the future
    ],
)
def test_verify_signature_refuses_a_forged_altered_or_stale_request(secret, timestamp, body, now):
    header = signature(SECRET, str(NOW), BODY)
    assert not verify_signature(secret, timestamp, body, header, now=now)


@pytest.mark.parametrize(
    ("timestamp", "header"),
    [
        ("", None),  # None: the genuine signature, so only the timestamp is wrong
        ("12a", None),
        ("-1", None),
        ("١٧٦٧٢٢٥٦٠٠", None),  # Arabic-Indic digits are digits to str.isdigit
        (str(NOW), "sha1=" + "0" * 40),
        (str(NOW), "sha256=签名"),
        (str(NOW), ""),
    ],
)
def test_verify_signature_refuses_malformed_headers(timestamp, header):
    good = signature(SECRET, str(NOW), BODY)
    header = good if header is None else header
    assert not verify_signature(SECRET, timestamp, BODY, header, now=NOW)
