"""The e-mail channel against a real aiosmtpd server on loopback."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from notify_gateway.channels.base import Message
from notify_gateway.channels.smtp import SmtpChannel, message_id
from tests.notify_gateway.loopback import closed_port
from tests.notify_gateway.smtp_server import (
    LoopbackController,
    RecordingHandler,
    authenticator,
    self_signed,
)

SENDER = "清河县信访局 <xinfang@qinghe.gov.cn>"
TIMEOUT = 0.5

RECEIPT = Message(
    address="zhangsan@example.cn",
    subject="您的信访事项已登记",
    body="张三：\n\n您反映的「工地拖欠农民工工资」已登记，查询码 QH7K2M9P。\n我们将在15日内告知是否受理。",
    event_id="6c1f1f9e-6f3e-4c53-9b1e-0d9a3c2f7a11",
    event_type="petition.received",
)


def serve(**kwargs: Any) -> Iterator[tuple[LoopbackController, RecordingHandler]]:
    handler = RecordingHandler()
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture
def plain() -> Iterator[tuple[LoopbackController, RecordingHandler]]:
    yield from serve()


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return self_signed(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def secured(contexts) -> Iterator[tuple[LoopbackController, RecordingHandler]]:
    """STARTTLS required, then login required (as a county's relay on port 587 would)."""
    server_context, _ = contexts
    yield from serve(
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )


def channel(port: int, **kwargs: Any) -> SmtpChannel:
    settings: dict[str, Any] = {"security": "plain", "timeout": TIMEOUT} | kwargs
    return SmtpChannel(host="127.0.0.1", port=port, sender=SENDER, **settings)


def test_a_notice_arrives_with_chinese_subject_and_body_intact(plain):
    controller, handler = plain
    result = channel(controller.port).send(RECEIPT)
    assert result.outcome == "sent", result.detail
    assert not result.retryable
    [got] = handler.received
    assert got.mail_from == "xinfang@qinghe.gov.cn"
    assert got.rcpt_tos == ["zhangsan@example.cn"]
    mail = got.message
    assert mail["Subject"] == "您的信访事项已登记"
    assert mail["From"].addresses[0].display_name == "清河县信访局"
    assert mail["To"] == "zhangsan@example.cn"
    assert mail.get_content().rstrip("\n") == RECEIPT.body
    assert mail.get_content_charset() == "utf-8"
    assert mail["X-Xinfang-Event-Id"] == RECEIPT.event_id
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] == result.provider_id
    # Nothing but ASCII went over the wire: no 8BITMIME or SMTPUTF8 needed.
    assert mail.as_bytes().isascii()


def test_the_message_id_lets_a_receiver_drop_a_redelivered_copy(plain):
    controller, handler = plain
    email = channel(controller.port)
    email.send(RECEIPT)
    email.send(RECEIPT)
    email.send(replace(RECEIPT, address="lisi@example.cn"))
    email.send(replace(RECEIPT, event_id="another-event"))
    ids = [r.message["Message-ID"] for r in handler.received]
    assert ids[0] == ids[1] == message_id(RECEIPT.event_id, RECEIPT.address, "qinghe.gov.cn")
    assert len(set(ids)) == 3
    assert all(i.startswith("<xinfang.") and i.endswith("@qinghe.gov.cn>") for i in ids)


def test_starttls_and_login_deliver_through_a_secured_relay(secured, contexts):
    controller, handler = secured
    _, client_context = contexts
    email = channel(
        controller.port,
        security="starttls",
        ssl_context=client_context,
        username="xinfang",
        password="pa55-Xinfang!",
    )
    result = email.send(RECEIPT)
    assert result.outcome == "sent", result.detail
    assert handler.received[0].message["Subject"] == "您的信访事项已登记"


def test_non_ascii_credentials_are_refused_when_the_channel_is_configured():
    with pytest.raises(ValueError, match="ASCII"):
        channel(25, username="xinfang", password="密码")


def test_a_wrong_password_is_not_retried(secured, contexts):
    controller, handler = secured
    _, client_context = contexts
    email = channel(
        controller.port,
        security="starttls",
        ssl_context=client_context,
        username="xinfang",
        password="wrong",
    )
    result = email.send(RECEIPT)
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "535" in result.detail
    assert handler.received == []


def test_skipping_starttls_where_it_is_required_is_not_retried(secured):
    controller, handler = secured
    result = channel(controller.port, security="plain").send(RECEIPT)
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "530" in result.detail
    assert handler.received == []


def test_an_untrusted_certificate_is_not_retried(secured):
    controller, handler = secured
    result = channel(controller.port, security="starttls").send(RECEIPT)  # system CAs only
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "证书" in result.detail
    assert handler.received == []


@pytest.mark.parametrize(
    ("address", "retryable", "code"),
    [("nobody@example.cn", False, "550"), ("busy@example.cn", True, "451")],
)
def test_a_refused_recipient_is_retried_only_when_the_refusal_is_temporary(
    plain, address, retryable, code
):
    controller, handler = plain
    result = channel(controller.port).send(replace(RECEIPT, address=address))
    assert (result.outcome, result.retryable) == ("failed", retryable)
    assert code in result.detail
    assert handler.received == []


@pytest.mark.parametrize(
    "address", ["not-an-address", "a@example.cn\r\nBcc: spy@example.cn", "a@b.cn, c@d.cn"]
)
def test_an_unusable_address_fails_without_a_connection(address):
    result = channel(closed_port()).send(replace(RECEIPT, address=address))
    assert (result.outcome, result.retryable) == ("failed", False)
    assert "地址" in result.detail


def test_a_server_that_is_down_is_retried():
    result = channel(closed_port()).send(RECEIPT)
    assert (result.outcome, result.retryable) == ("failed", True)


def test_a_server_that_never_greets_gives_up_within_the_timeout():
    # A listening socket that never accepts: the kernel completes the TCP handshake,
    # and then nothing ever answers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        result = channel(silent.getsockname()[1]).send(RECEIPT)
        elapsed = time.monotonic() - started
    assert (result.outcome, result.retryable) == ("failed", True)
    assert "超时" in result.detail
    assert elapsed < TIMEOUT + 0.5
