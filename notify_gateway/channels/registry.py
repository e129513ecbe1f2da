"""The channels the settings turn on. Inbox and webhooks need no settings."""

from __future__ import annotations

from typing import Any

from notify_gateway.addressing import EMAIL, INBOX, SMS, WEBHOOK, WECHAT
from notify_gateway.channels.base import Channel
from notify_gateway.channels.sms_aliyun import AliyunSmsChannel
from notify_gateway.channels.smtp import SmtpChannel
from notify_gateway.channels.wechat import SubscribeTemplate, WeChatSubscribeChannel
from notify_gateway.config import NotifySettings


def _wechat_template(spec: dict[str, Any]) -> SubscribeTemplate:
    return SubscribeTemplate(
        template_id=str(spec["template_id"]),
        fields=dict(spec.get("fields") or {}),
        page=spec.get("page"),
    )


def channels_from(settings: NotifySettings) -> dict[str, Channel]:
    """The delivery channels (besides the inbox and webhooks) that are configured."""
    timeout = settings.send_timeout_seconds
    channels: dict[str, Channel] = {}
    if settings.aliyun_access_key_id:
        channels[SMS] = AliyunSmsChannel(
            access_key_id=settings.aliyun_access_key_id,
            access_key_secret=settings.aliyun_access_key_secret,
            sign_name=settings.aliyun_sign_name,
            templates=settings.aliyun_templates,
            endpoint=settings.aliyun_endpoint,
            timeout=timeout,
        )
    if settings.smtp_host:
        channels[EMAIL] = SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            sender=settings.smtp_sender,
            timeout=timeout,
        )
    if settings.wechat_appid:
        channels[WECHAT] = WeChatSubscribeChannel(
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            templates={k: _wechat_template(v) for k, v in settings.wechat_templates.items()},
            base_url=settings.wechat_base_url,
            timeout=timeout,
        )
    return channels


def enabled_channels(channels: dict[str, Channel]) -> frozenset[str]:
    return frozenset({INBOX, WEBHOOK, *channels})
