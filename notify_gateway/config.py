"""The notify gateway's settings. A channel is on only when it is configured: the
embedded default delivers to the inbox and to webhook subscribers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", env_file=".env", extra="ignore")

    # Delivery: retries with exponential back-off and jitter, then the notice is dead.
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    poll_seconds: float = Field(default=0.5, gt=0)
    batch: int = Field(default=50, ge=1, le=1000)
    # How long one send may take before it counts as failed (and is retried).
    send_timeout_seconds: float = Field(default=5.0, gt=0)
    # Quiet hours for petitioners' SMS (Asia/Shanghai), urgent notices excepted.
    quiet_start_hour: int = Field(default=22, ge=0, le=23)
    quiet_end_hour: int = Field(default=8, ge=0, le=23)
    # At most this many SMS to one recipient in an hour; the rest wait their turn.
    sms_per_recipient_per_hour: int = Field(default=5, ge=1)
    # Webhooks reach public addresses only; these hosts (names, addresses or CIDR
    # blocks, comma-separated) are allowed although they are not public.
    webhook_allowed_hosts: str = ""
    # Alibaba Cloud SMS (dysmsapi); on when the access key is set.
    aliyun_access_key_id: str = ""
    aliyun_access_key_secret: str = ""
    aliyun_sign_name: str = ""
    aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    # notice kind → TemplateCode, e.g. {"receipt": "SMS_1234"}
    aliyun_templates: dict[str, str] = Field(default_factory=dict)
    # E-mail by SMTP; on when the host is set.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: Literal["plain", "starttls", "ssl"] = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_sender: str = "xinfang@localhost"
    # WeChat mini-program subscribe messages; on when the appid is set.
    wechat_appid: str = ""
    wechat_secret: str = ""
    wechat_base_url: str = "https://api.weixin.qq.com"
    # notice kind → {"template_id": …, "fields": {"thing1": "title", …}, "page": …}
    wechat_templates: dict[str, dict[str, object]] = Field(default_factory=dict)
