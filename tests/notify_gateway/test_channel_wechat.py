"""The WeChat subscribe-message channel against a real local fake of WeChat's API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from notify_gateway.channels.base import Message
from notify_gateway.channels.wechat import SubscribeTemplate, WeChatSubscribeChannel, field_value
from tests.notify_gateway.fake_wechat import FakeWeChat
from tests.notify_gateway.loopback import closed_port, running

APPID = "wx0123456789abcdef"
SECRET = "0123456789abcdef0123456789abcdef"
TEMPLATE_ID = "vZiztnFZqPuRrh7haFyJODqQ6LTtsmXviPAJdS-tjyE"
TIMEOUT = 0.5
OPENID = "okPfi5SgajfC3NV014n5vFoNoHqc"

TEMPLATES = {
    "petition.received": SubscribeTemplate(
        template_id=TEMPLATE_ID,
        fields={"thing1": "title", "character_string2": "query_code", "time3": "received_at"},
        page="pages/petition/detail?code={query_code}",
    )
}

RECEIPT = Message(
    address=OPENID,
    subject="您的信访事项已登记",
    body="张三：您的信访事项已登记。",
    event_id="6c1f1f9e-6f3e-4c53-9b1e-0d9a3c2f7a11",
    event_type="petition.received",
    data={
        "title": "工地拖欠农民工工资",
        "query_code": "QH7K2M9P",
        "received_at": "2026年03月03日 09:30",
    },
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wechat() -> Iterator[FakeWeChat]:
    with running(FakeWeChat(APPID, SECRET, {TEMPLATE_ID})) as fake:
        assert isinstance(fake, FakeWeChat)
        yield fake


def channel(
    base_url: str, *, secret: str = SECRET, clock: Clock | None = None
) -> WeChatSubscribeChannel:
    return WeChatSubscribeChannel(
        appid=APPID,
        secret=secret,
        templates=TEMPLATES,
        base_url=base_url,
        timeout=TIMEOUT,
        clock=clock or Clock(),
    )


def test_a_subscribe_message_arrives_with_its_chinese_values(wechat):
    wx = channel(wechat.base_url)
    result = wx.send(RECEIPT)
    wx.close()
    assert result.outcome == "sent", result.detail
    assert not result.retryable
    [got] = wechat.received
    assert got.touser == OPENID
    assert got.template_id == TEMPLATE_ID
    assert got.page == "pages/petition/detail?code=QH7K2M9P"
    assert got.data == {
        "thing1": "工地拖欠农民工工资",
        "character_string2": "QH7K2M9P",
        "time3": "2026年03月03日 09:30",
    }
    assert result.provider_id == "3000000001"


def test_the_access_token_is_fetched_once_and_reused(wechat):
    wx = channel(wechat.base_url)
    results = [wx.send(RECEIPT) for _ in range(3)]
    wx.close()
    assert [r.outcome for r in results] == ["sent"] * 3
    assert len(wechat.tokens_issued) == 1
    assert len(wechat.received) == 3


def test_the_token_is_renewed_before_it_expires(wechat):
    clock = Clock()
    wx = channel(wechat.base_url, clock=clock)
    assert wx.send(RECEIPT).ok
    clock.now += 7200 - 300 - 1  # just inside the margin: still kept
    assert wx.send(RECEIPT).ok
    clock.now += 2  # past expires_in less the margin: renewed before WeChat would refuse it
    assert wx.send(RECEIPT).ok
    wx.close()
    assert len(wechat.tokens_issued) == 2
    assert wechat.errcodes == [0, 0, 0]


def test_a_token_that_wechat_expired_is_renewed_once_and_the_message_sent(wechat):
    wx = channel(wechat.base_url)
    assert wx.send(RECEIPT).ok
    wechat.expire_tokens()  # e.g. another server fetched a new token
    result = wx.send(RECEIPT)
    wx.close()
    assert result.outcome == "sent", result.detail
    assert wechat.errcodes == [0, 42001, 0]
    assert len(wechat.tokens_issued) == 2


def test_a_wrong_secret_is_not_retried(wechat):
    wx = channel(wechat.base_url, secret="wrong")
    result = wx.send(RECEIPT)
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "40125" in result.detail
    assert wechat.received == []


def test_a_user_who_did_not_subscribe_is_not_retried(wechat):
    wechat.refused.add(OPENID)
    wx = channel(wechat.base_url)
    result = wx.send(RECEIPT)
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "43101" in result.detail


def test_a_busy_wechat_is_retried(wechat):
    wx = channel(wechat.base_url)
    assert wx.send(RECEIPT).ok
    wechat.mode = "busy"
    result = wx.send(RECEIPT)
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "-1" in result.detail


def test_a_long_title_is_cut_to_what_a_thing_field_takes(wechat):
    title = "关于青石镇红星村工地长期拖欠农民工工资问题的反映"
    wx = channel(wechat.base_url)
    result = wx.send(replace(RECEIPT, data={**RECEIPT.data, "title": title}))
    wx.close()
    assert result.outcome == "sent", result.detail
    sent = wechat.received[0].data["thing1"]
    assert len(sent) == 20 and sent == title[:19] + "…"
    assert field_value("character_string2", "Q" * 40) == "Q" * 31 + "…"
    assert field_value("time3", "2026年03月03日 09:30") == "2026年03月03日 09:30"


def test_missing_template_values_fail_without_calling_wechat(wechat):
    wx = channel(wechat.base_url)
    no_code = {k: v for k, v in RECEIPT.data.items() if k != "query_code"}
    missing = wx.send(replace(RECEIPT, data=no_code))
    unknown = wx.send(replace(RECEIPT, event_type="petition.closed"))
    wx.close()
    assert (missing.outcome, missing.retryable) == ("failed", False)
    assert "query_code" in missing.detail
    assert (unknown.outcome, unknown.retryable) == ("failed", False)
    assert wechat.requests == []


def test_wechat_down_is_retried(wechat):
    wechat.mode = "down"
    wx = channel(wechat.base_url)
    result = wx.send(RECEIPT)
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "503" in result.detail


def test_a_refused_connection_is_retried():
    wx = channel(f"http://127.0.0.1:{closed_port()}")
    result = wx.send(RECEIPT)
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", True)


def test_a_hanging_wechat_gives_up_within_the_timeout(wechat):
    wx = channel(wechat.base_url)
    assert wx.send(RECEIPT).ok  # the token is cached: the send itself hangs
    wechat.mode = "slow"
    started = time.monotonic()
    result = wx.send(RECEIPT)
    elapsed = time.monotonic() - started
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "超时" in result.detail
    assert elapsed < TIMEOUT + 0.5


def test_a_hanging_token_endpoint_gives_up_within_the_timeout(wechat):
    wechat.mode = "slow"
    wx = channel(wechat.base_url)
    started = time.monotonic()
    result = wx.send(RECEIPT)
    elapsed = time.monotonic() - started
    wx.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert elapsed < TIMEOUT + 0.5
