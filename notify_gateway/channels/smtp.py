"""E-mail through an SMTP relay (the county's mail server), with the standard library.

The subject and body are UTF-8 (the subject RFC 2047-encoded, the body base64, so no
8BITMIME is needed on the way). The Message-ID is derived from the event id and the
recipient, so a redelivered notice carries the same Message-ID as the first copy and a
receiving system can drop the duplicate.

A message the relay accepted is `sent`: the relay delivers it onward on its own.
Replies 5xx are permanent (not retried), 4xx temporary (retried), as RFC 5321 says.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal

from notify_gateway.channels.base import Deadline, DeliveryFailed, DeliveryResult, Message
from shared.timeutil import utcnow

NAME = "email"
Security = Literal["plain", "starttls", "ssl"]


def message_id(event_id: str, address: str, domain: str) -> str:
    """The same Message-ID for the same event to the same recipient, and only for them."""
    digest = hashlib.sha256(f"{event_id}\n{address}".encode()).hexdigest()[:40]
    return f"<xinfang.{digest}@{domain}>"


class SmtpChannel:
    """Sends each message as one e-mail through one SMTP session."""

    name = NAME

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        port: int = 25,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        message_id_domain: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        """`sender` is the From header, e.g. "清河县信访局 <xinfang@qinghe.gov.cn>";
        `security`: "plain", "starttls" (upgrade on port 25/587) or "ssl" (port 465);
        `timeout` bounds the whole session of one send."""
        if not ((username or "").isascii() and (password or "").isascii()):
            # smtplib encodes AUTH as ASCII; better to say so at start-up than at each send.
            raise ValueError("SMTP 用户名和密码只能包含 ASCII 字符")
        self.host = host
        self.port = port
        self.sender = sender
        self.security: Security = security
        self.username = username
        self._password = password
        self._ssl_context = ssl_context
        self.timeout = timeout
        self.local_hostname = local_hostname
        _, sender_address = parseaddr(sender)
        self.sender_address = sender_address
        self.message_id_domain = (
            message_id_domain or sender_address.rpartition("@")[2] or "xinfang.invalid"
        )

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail for one message. Raises `DeliveryFailed` for an unusable address."""
        address = message.address.strip()
        if "@" not in address or any(c in address for c in "\r\n<>,;"):
            raise DeliveryFailed(
                DeliveryResult.failure(f"电子邮箱地址无效：{address!r}", retryable=False)
            )
        mail = EmailMessage()
        try:
            mail["From"] = self.sender
            mail["To"] = Address(addr_spec=address)
            mail["Subject"] = message.subject
        except (ValueError, HeaderParseError) as exc:
            raise DeliveryFailed(
                DeliveryResult.failure(f"邮件头无效：{exc}", retryable=False)
            ) from exc
        mail["Date"] = format_datetime(utcnow())
        mail["Message-ID"] = message_id(message.event_id, address, self.message_id_domain)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        mail["X-Xinfang-Event-Id"] = message.event_id
        mail["X-Xinfang-Event-Type"] = message.event_type
        mail.set_content(message.body, charset="utf-8", cte="base64")
        return mail

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self, deadline: Deadline) -> smtplib.SMTP:
        timeout = deadline.remaining()
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=timeout,
                context=self._context(),
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=timeout
        )

    def _session(self, mail: EmailMessage, deadline: Deadline) -> None:
        def step() -> None:
            # smtplib's timeout bounds each read; this bounds the session as a whole.
            remaining = deadline.remaining()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            if smtp.sock is not None:
                smtp.sock.settimeout(remaining)

        smtp = self._connect(deadline)
        try:
            step()
            smtp.ehlo()
            if self.security == "starttls":
                step()
                smtp.starttls(context=self._context())
                step()
                smtp.ehlo()
            if self.username:
                step()
                smtp.login(self.username, self._password or "")
            step()
            smtp.send_message(mail, from_addr=self.sender_address or None)
        except BaseException:
            smtp.close()  # no polite QUIT to a server that failed us: it could hang too
            raise
        try:
            step()
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the message is accepted; a QUIT that fails changes nothing

    def send(self, message: Message) -> DeliveryResult:
        deadline = Deadline(self.timeout)
        try:
            mail = self.compose(message)
            self._session(mail, deadline)
        except DeliveryFailed as failed:
            return failed.result
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            return _refused("收件人被拒绝", code, reply)
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult.failure(f"邮件服务器不支持所需功能：{exc}", retryable=False)
        except smtplib.SMTPResponseException as exc:
            # Sender refused, DATA refused, authentication failed, unexpected greeting...
            return _refused("邮件服务器拒绝", exc.smtp_code, exc.smtp_error)
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult.failure(
                f"邮件服务器证书校验失败：{exc.verify_message}", retryable=False
            )
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            if deadline.expired() or isinstance(exc.__context__, TimeoutError):
                return DeliveryResult.failure(
                    f"邮件服务器超时（{self.timeout:g}秒内未完成）", retryable=True
                )
            return DeliveryResult.failure(f"邮件服务器断开连接：{exc}", retryable=True)
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult.failure(
                f"邮件服务器连接失败：{type(exc).__name__} {exc}", retryable=True
            )
        return DeliveryResult(
            outcome="sent",
            detail="邮件服务器已接收",
            provider_id=str(mail["Message-ID"]),
        )


def _refused(what: str, code: int, reply: bytes | str) -> DeliveryResult:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    # 5xx is permanent; 4xx temporary; anything else is no clear verdict, so try again.
    return DeliveryResult.failure(f"{what}：{code} {text}".strip(), retryable=not 500 <= code < 600)
