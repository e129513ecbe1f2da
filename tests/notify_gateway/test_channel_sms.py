"""The Aliyun SMS channel against a real local fake that verifies every signature."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from notify_gateway.channels.base import Message
from notify_gateway.channels.sms_aliyun import (
    AliyunSmsChannel,
    percent_encode,
    sign,
    sms_segments,
)
from tests.notify_gateway.fake_aliyun import FakeAliyunSms
from tests.notify_gateway.loopback import closed_port, running

KEY_ID = "LTAI5tTestKeyId"
# Characters that the percent-encoding must get right live in the secret and the values.
SECRET = "s3cret/+*~ key"
TIMEOUT = 0.5

RECEIPT = Message(
    address="13800138000",
    subject="您的信访事项已登记",
    body="张三：您的信访事项已登记，查询码 QH7K2M9P。",
    event_id="6c1f1f9e-6f3e-4c53-9b1e-0d9a3c2f7a11",
    event_type="petition.received",
    data={"name": "张三", "code": "QH7K2M9P", "title": "工地 拖欠*工资~（红星村）"},
)


@pytest.fixture
def aliyun() -> Iterator[FakeAliyunSms]:
    with running(FakeAliyunSms({KEY_ID: SECRET})) as fake:
        assert isinstance(fake, FakeAliyunSms)
        yield fake


def channel(endpoint: str, *, secret: str = SECRET, key_id: str = KEY_ID) -> AliyunSmsChannel:
    return AliyunSmsChannel(
        access_key_id=key_id,
        access_key_secret=secret,
        sign_name="清河县信访局",
        templates={"petition.received": "SMS_465300001"},
        endpoint=endpoint,
        timeout=TIMEOUT,
    )


def test_the_documented_sendsms_example_signs_to_the_documented_value():
    # The worked example of Aliyun's SMS signature page (HTTP协议及签名), secret "testSecret".
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sign(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sign(params | {"Signature": "ignored"}, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_the_documented_rpc_example_signs_to_the_documented_value():
    # The example of Aliyun's generic RPC signature page (DescribeRegions), secret "testsecret".
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert sign(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encoding_follows_rfc_3986():
    assert percent_encode("a b") == "a%20b"
    assert percent_encode("*") == "%2A"
    assert percent_encode("~-_.") == "~-_."
    assert percent_encode("/+=&:") == "%2F%2B%3D%26%3A"
    assert percent_encode("信") == "%E4%BF%A1"


def test_a_message_arrives_with_its_chinese_template_values_intact(aliyun):
    sms = channel(aliyun.base_url)
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert result.outcome == "sent", result.detail
    assert result.ok and not result.retryable
    assert [r.phone for r in aliyun.received] == ["13800138000"]
    got = aliyun.received[0]
    assert result.provider_id == got.biz_id
    assert got.sign_name == "清河县信访局"
    assert got.template_code == "SMS_465300001"
    assert got.template_param == {
        "name": "张三",
        "code": "QH7K2M9P",
        "title": "工地 拖欠*工资~（红星村）",
    }


def test_every_request_has_a_fresh_nonce(aliyun):
    sms = channel(aliyun.base_url)
    try:
        results = [sms.send(RECEIPT) for _ in range(3)]
    finally:
        sms.close()
    assert [r.outcome for r in results] == ["sent"] * 3
    assert aliyun.rejected == []  # the fake refuses a nonce it has seen (SignatureNonceUsed)


def test_a_wrong_secret_is_rejected_by_the_signature_check_and_not_retried(aliyun):
    sms = channel(aliyun.base_url, secret="not-the-secret")
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert result.outcome == "failed"
    assert not result.retryable
    assert "SignatureDoesNotMatch" in result.detail
    assert aliyun.received == []
    assert aliyun.rejected == ["SignatureDoesNotMatch"]


def test_an_unknown_access_key_is_not_retried(aliyun):
    sms = channel(aliyun.base_url, key_id="LTAI-nobody")
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "InvalidAccessKeyId.NotFound" in result.detail


def test_an_illegal_mobile_number_is_not_retried(aliyun):
    sms = channel(aliyun.base_url)
    try:
        result = sms.send(replace(RECEIPT, address="1380013"))
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in result.detail
    assert aliyun.received == []


def test_flow_control_is_retried_later(aliyun):
    aliyun.mode = "limit"
    sms = channel(aliyun.base_url)
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "isv.BUSINESS_LIMIT_CONTROL" in result.detail


def test_an_event_without_a_template_fails_without_calling_the_provider(aliyun):
    sms = channel(aliyun.base_url)
    try:
        result = sms.send(replace(RECEIPT, event_type="other"))
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "短信模板" in result.detail
    assert aliyun.requests == []


def test_a_provider_that_is_down_is_retried(aliyun):
    aliyun.mode = "down"
    sms = channel(aliyun.base_url)
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "503" in result.detail


def test_a_refused_connection_is_retried():
    sms = channel(f"http://127.0.0.1:{closed_port()}")
    try:
        result = sms.send(RECEIPT)
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "连接失败" in result.detail


def test_a_hanging_provider_gives_up_within_the_timeout(aliyun):
    aliyun.mode = "slow"
    sms = channel(aliyun.base_url)
    try:
        started = time.monotonic()
        result = sms.send(RECEIPT)
        elapsed = time.monotonic() - started
    finally:
        sms.close()
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "超时" in result.detail
    assert elapsed < TIMEOUT + 0.5
    assert len(aliyun.requests) == 1  # it did reach the provider, which never answered


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 0), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_sms_segments_count_70_then_67_characters(length, segments):
    assert sms_segments("信" * length) == segments


def test_sms_segments_count_ascii_like_chinese_and_an_emoji_as_two():
    assert sms_segments("a" * 70) == 1
    assert sms_segments("a" * 69 + "😀") == 2  # 71 UTF-16 units
