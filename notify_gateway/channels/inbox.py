"""The inbox channel: a notice is delivered when it is stored for its recipient to read
through the API. Other channels (SMS, e-mail, webhooks, WeChat) come with the notify issue."""

from __future__ import annotations

from notify_gateway.models import Notice
from shared.timeutil import utcnow

NAME = "inbox"


def deliver(notice: Notice) -> None:
    notice.state = "delivered"
    notice.attempts += 1
    notice.delivered_at = utcnow()
