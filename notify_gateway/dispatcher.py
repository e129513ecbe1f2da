"""The dispatcher: delivers pending notices on each channel, one worker thread per
channel, so a channel that fails or hangs never holds up another.

A worker claims what is due on its channel (`FOR UPDATE SKIP LOCKED` on PostgreSQL)
and leases it, sends outside any transaction with the channel's own time limit, then
records the outcome. A failure is retried with exponential back-off and jitter; after
the last attempt the notice is dead, visible, and staff can re-drive it. Quiet hours
hold petitioners' SMS until morning unless urgent; a per-recipient limit spaces SMS,
and dispatchers claiming for the same phone at once take turns to count.
If a worker dies mid-send its lease lapses and another tries again: a notice may then
reach a provider twice, so every message carries the notice's stable id (webhook
event id, e-mail Message-ID) for the receiver to de-duplicate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from notify_gateway.addressing import SEALED, SMS, WEBHOOK
from notify_gateway.channels.base import Channel, DeliveryResult, Message
from notify_gateway.channels.webhook import WebhookChannel
from notify_gateway.config import NotifySettings
from notify_gateway.delivery import quiet_until, rate_limited_until, retry_at
from notify_gateway.models import Notice, WebhookSubscription
from notify_gateway.service import announce
from shared.db import transaction
from shared.egress import EgressPolicy
from shared.events import NOTICE_FAILED
from shared.security import DataProtector
from shared.timeutil import iso_china, utcnow

log = logging.getLogger("xinfang.notify.dispatcher")
WAITING = ("pending", "failed")


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int  # before this one
    message: Message
    subscription_id: int | None


def serialize_recipients(session: Session, keys: Iterable[str | None]) -> None:
    """Dispatchers (one per replica) claiming SMS to the same phone take turns: each
    counts what the other claimed before it (PostgreSQL: a transaction-scoped advisory
    lock per phone, taken in one order so two claims never deadlock; SQLite's
    transactions are serial already)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({k for k in keys if k}):
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


class Dispatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        channels: Mapping[str, Channel],
        settings: NotifySettings,
        protector: DataProtector,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.factory = factory
        self.channels = dict(channels)
        self.settings = settings
        self.protector = protector
        self.egress = egress or EgressPolicy()
        self._webhook_client = httpx.Client(follow_redirects=False)
        self._webhooks: dict[int, WebhookChannel] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def names(self) -> list[str]:
        return [*self.channels, WEBHOOK]

    # --- one round on one channel ---------------------------------------------------

    def run_once(self, channel: str, now: datetime | None = None) -> int:
        """Claim what is due on `channel`, send it, record the outcomes. Returns how
        many notices were tried."""
        claimed = self._claim(channel, now or utcnow())
        for item in claimed:
            result = self._send(channel, item)
            self._record(item, result)
        return len(claimed)

    def _claim(self, channel: str, now: datetime) -> list[Claimed]:
        s = self.settings
        lease = timedelta(seconds=s.send_timeout_seconds * 3 + 5)
        out: list[Claimed] = []
        with transaction(self.factory) as session:
            rows = session.scalars(
                select(Notice)
                .where(
                    Notice.channel == channel,
                    Notice.state.in_(WAITING),
                    Notice.next_attempt_at <= now,
                    or_(Notice.lease_until.is_(None), Notice.lease_until < now),
                )
                .order_by(Notice.next_attempt_at, Notice.id)
                .limit(s.batch)
                .with_for_update(skip_locked=True)
            ).all()
            messages = {notice.id: self._message(session, notice) for notice in rows}
            if channel == SMS:
                limited = [n.address_hash for n in rows if messages[n.id] and not n.urgent]
                serialize_recipients(session, limited)
            for notice in rows:
                message = messages[notice.id]
                if message is None:
                    continue
                wait = self._held_until(session, notice, now)
                if wait is not None:
                    notice.next_attempt_at = wait  # not an attempt: it waits its turn
                    continue
                notice.lease_until = now + lease
                subscription = int(notice.recipient.split(":")[1]) if channel == WEBHOOK else None
                out.append(Claimed(notice.id, notice.attempts, message, subscription))
        return out

    def _held_until(
        self,
        session: Session,
        notice: Notice,
        now: datetime,
    ) -> datetime | None:
        """Quiet hours and the per-recipient rate limit, for SMS; urgent ones go."""
        if notice.channel != SMS or notice.urgent:
            return None
        s = self.settings
        if notice.recipient.startswith("petitioner:"):
            morning = quiet_until(now, s.quiet_start_hour, s.quiet_end_hour)
            if morning is not None:
                return morning
        key = notice.address_hash
        sent = session.scalars(
            select(Notice.sent_at).where(
                Notice.channel == SMS,
                Notice.address_hash == key,
                Notice.sent_at > now - timedelta(hours=1),
            )
        ).all()
        # Those held right now, by this round (flushed before the query) or by another
        # dispatcher, count as sent by the time their send times out.
        in_flight = session.scalar(
            select(func.count()).where(
                Notice.channel == SMS,
                Notice.address_hash == key,
                Notice.sent_at.is_(None),
                Notice.lease_until > now,
                Notice.id != notice.id,
            )
        )
        ends = now + timedelta(seconds=s.send_timeout_seconds)
        recent = [t for t in sent if t] + [ends] * (in_flight or 0)
        return rate_limited_until(recent, now, s.sms_per_recipient_per_hour)

    def _message(self, session: Session, notice: Notice) -> Message | None:
        """What the channel sends; None (and the notice dead) when it cannot be sent."""
        address = notice.address or ""
        if address.startswith(SEALED):
            try:
                address = self.protector.decrypt(address.removeprefix(SEALED))
            except ValueError as exc:
                self._fail_now(session, notice, f"无法解密信访人手机号：{exc}")
                return None
        if notice.channel == SMS:
            # The same phone has the same key however it was sealed: the rate limit's.
            notice.address_hash = self.protector.lookup_hash(address)
        if notice.channel == WEBHOOK:
            sub = session.get(WebhookSubscription, int(notice.recipient.split(":")[1]))
            if sub is None or not sub.active:
                self._fail_now(session, notice, "订阅已停止，不再推送")
                return None
            # The event itself, as the subscriber subscribed to it.
            return Message(
                address=address,
                subject=notice.subject,
                body="",
                event_id=notice.event_id,
                event_type=notice.subject,
                data=json.loads(notice.body),
            )
        return Message(
            address=address,
            subject=notice.subject,
            body=notice.body,
            event_id=notice.event_id,
            event_type=notice.kind,
            data={"subject": notice.subject, "body": notice.body},
        )

    def _fail_now(self, session: Session, notice: Notice, why: str) -> None:
        notice.state = "dead"
        notice.last_error = why
        notice.next_attempt_at = None
        announce(
            session,
            notice,
            NOTICE_FAILED,
            attempts=notice.attempts,
            error=notice.last_error,
            at=iso_china(utcnow()),
        )

    def _send(self, channel: str, item: Claimed) -> DeliveryResult:
        if channel == WEBHOOK:
            # checked at every delivery: a name may have come to resolve inward since
            refused = self.egress.problem(item.message.address or "")
            if refused:
                return DeliveryResult.failure(refused, retryable=False)
        try:
            sender = self._webhook(item.subscription_id) if channel == WEBHOOK else None
            sender = sender or self.channels[channel]
            return sender.send(item.message)
        except Exception as exc:  # an adapter bug must not stop the worker
            log.exception("channel %s raised", channel)
            return DeliveryResult.failure(f"发送出错：{type(exc).__name__}: {exc}", retryable=True)

    def _webhook(self, subscription_id: int | None) -> WebhookChannel | None:
        if subscription_id is None:
            return None
        if subscription_id not in self._webhooks:
            with self.factory() as session:
                sub = session.get(WebhookSubscription, subscription_id)
                secret = self.protector.decrypt(sub.secret_enc) if sub else ""
            self._webhooks[subscription_id] = WebhookChannel(
                secret=secret,
                timeout=self.settings.send_timeout_seconds,
                client=self._webhook_client,
            )
        return self._webhooks[subscription_id]

    def _record(self, item: Claimed, result: DeliveryResult) -> None:
        """One UPDATE per outcome, committed at once: a sent notice is never sent again."""
        s = self.settings
        now = utcnow()
        attempts = item.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "lease_until": None}
        if result.ok:
            values.update(
                state=result.outcome,
                sent_at=now,
                delivered_at=now if result.outcome == "delivered" else None,
                provider_id=result.provider_id,
                next_attempt_at=None,
                last_error=None,
            )
        elif result.retryable and attempts < s.max_attempts:
            values.update(
                state="failed",
                last_error=result.detail,
                next_attempt_at=retry_at(
                    attempts,
                    now,
                    base=s.retry_base_seconds,
                    cap=s.retry_max_seconds,
                    jitter=s.retry_jitter,
                ),
            )
        with transaction(self.factory) as session:
            if "state" in values:
                session.execute(update(Notice).where(Notice.id == item.id).values(**values))
                if result.ok:  # the timeline shows it went
                    notice = session.get(Notice, item.id)
                    if notice is not None:
                        announce(session, notice)
                return
            notice = session.get(Notice, item.id)
            if notice is not None:
                notice.attempts, notice.lease_until = attempts, None
                self._fail_now(session, notice, result.detail)

    # --- the worker threads -------------------------------------------------------------

    def start(self) -> None:
        for name in self.names:
            thread = threading.Thread(
                target=self._loop, args=(name,), name=f"notify-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, channel: str) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once(channel)
            except Exception:  # the database is away: try again after a pause
                log.exception("dispatching on %s failed", channel)
                busy = 0
            if not busy:
                self._stop.wait(self.settings.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.send_timeout_seconds + 5)
        self._webhook_client.close()
