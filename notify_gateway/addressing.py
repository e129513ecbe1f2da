"""Which channels carry a notice to a recipient, and to which address. Pure.

- everyone: the inbox (staff and petitioners read it through the API);
- petitioners: SMS to the first petitioner's phone, a WeChat subscribe message when
  the petition came from the mini-program;
- units: e-mail to the unit's address; SMS to the unit's phone only when urgent;
- webhook subscribers: their URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.directory import Directory

INBOX, SMS, EMAIL, WECHAT, WEBHOOK = "inbox", "sms", "email", "wechat", "webhook"
# A petitioner's phone stays sealed with the data key until the moment it is sent.
SEALED = "sealed:"


@dataclass(frozen=True)
class Route:
    channel: str
    address: str | None  # None for the inbox


def unit_of(recipient: str) -> str | None:
    """`unit:<id>[:<role>]` → the unit id."""
    if not recipient.startswith("unit:"):
        return None
    return recipient.split(":")[1]


def role_of(recipient: str) -> str:
    """`unit:<id>:<role>` → the role (`handler` when the notice is to the whole unit)."""
    parts = recipient.split(":")
    return parts[2] if len(parts) > 2 and parts[2] else "handler"


def routes_for(
    recipient: str,
    *,
    urgent: bool,
    enabled: frozenset[str],
    directory: Directory,
    sealed_phones: list[str] | None = None,
    openid: str | None = None,
) -> list[Route]:
    routes = [Route(INBOX, None)]
    if recipient.startswith("petitioner:"):
        if SMS in enabled and sealed_phones:
            routes.append(Route(SMS, SEALED + sealed_phones[0]))
        if WECHAT in enabled and openid:
            routes.append(Route(WECHAT, openid))
    elif (unit_id := unit_of(recipient)) is not None:
        unit = directory.units.get(unit_id)
        contact = unit.contact if unit else {}
        if EMAIL in enabled and contact.get("email"):
            routes.append(Route(EMAIL, str(contact["email"])))
        if urgent and SMS in enabled and contact.get("phone"):
            routes.append(Route(SMS, str(contact["phone"])))
    return routes
