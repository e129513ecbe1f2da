"""SMS through Alibaba Cloud's Short Message Service (dysmsapi, `SendSms`).

The RPC-style API with signature version 1.0: the parameters, sorted by name and
percent-encoded by RFC 3986, form the canonicalized query string; the string to sign is
`GET&%2F&` + its percent-encoding; the signature is Base64(HMAC-SHA1(secret + "&", that)).

Aliyun sends a registered template, not free text: each event type maps to a
TemplateCode, and the event's `data` fills the template's variables (TemplateParam).
`Code == "OK"` means the platform accepted the message; whether it reached the handset
is reported later, by the delivery receipts, so a success here is `sent`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from notify_gateway.channels.base import (
    Deadline,
    DeliveryFailed,
    DeliveryResult,
    Message,
    exchange,
    retryable_status,
)

NAME = "sms"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"
API_VERSION = "2017-05-25"

# Codes after which the same request may succeed later: flow control, platform trouble.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.MONTH_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
    }
)

SEGMENT_SINGLE = 70  # UCS-2 characters in one SMS
SEGMENT_CONCATENATED = 67  # per part of a long SMS: the rest carries the joining header


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8, as the signature wants it.

    Only A-Z a-z 0-9 - _ . ~ stay as they are; a space becomes %20 (not +), * becomes %2A.
    """
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters (all but Signature), sorted by name, encoded, joined with &."""
    return "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}"
        for key in sorted(params)
        if key != "Signature"
    )


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(params: Mapping[str, str], access_key_secret: str, method: str = "GET") -> str:
    """The Signature parameter's value (before it is itself percent-encoded into the URL)."""
    digest = hmac.new(
        f"{access_key_secret}&".encode(),
        string_to_sign(params, method).encode(),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def sms_segments(text: str) -> int:
    """How many SMS a text takes, as carriers count Chinese (UCS-2) messages.

    Up to 70 characters is one SMS; a longer one is sent as parts of 67 characters
    each. Characters are counted in UTF-16 code units, as on the air: an emoji outside
    the Basic Multilingual Plane counts as two. Aliyun bills the text with its
    signature 【签名】 included, so count the text as the recipient will see it. An empty
    text is not sent and takes none.
    """
    units = len(text.encode("utf-16-le")) // 2
    if units <= SEGMENT_SINGLE:
        return 1 if units else 0
    return -(-units // SEGMENT_CONCATENATED)


def _utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nonce() -> str:
    return uuid.uuid4().hex


class AliyunSmsChannel:
    """Alibaba Cloud SMS, one `SendSms` GET per message."""

    name = NAME

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: Mapping[str, str],
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        timestamp: Callable[[], str] = _utc_timestamp,
        nonce: Callable[[], str] = _nonce,
    ) -> None:
        """`templates` maps an event type to its TemplateCode; `timeout` bounds a send."""
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.endpoint = endpoint.rstrip("/")
        self.region_id = region_id
        self.timeout = timeout
        self._client = client or httpx.Client(timeout=timeout)
        self._timestamp = timestamp
        self._nonce = nonce

    def close(self) -> None:
        self._client.close()

    def request_params(self, message: Message) -> dict[str, str]:
        """The signed parameters of the SendSms request for one message."""
        template_code = self.templates.get(message.event_type)
        if template_code is None:
            raise DeliveryFailed(
                DeliveryResult.failure(
                    f"没有为事件类型 {message.event_type} 配置短信模板", retryable=False
                )
            )
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.address,
            "RegionId": self.region_id,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(
                {key: str(value) for key, value in message.data.items()},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            "Timestamp": self._timestamp(),
            "Version": API_VERSION,
        }
        params["Signature"] = sign(params, self._secret)
        return params

    def send(self, message: Message) -> DeliveryResult:
        deadline = Deadline(self.timeout)
        try:
            params = self.request_params(message)
            query = f"Signature={percent_encode(params['Signature'])}&{canonical_query(params)}"
            reply = exchange(
                self._client,
                "GET",
                f"{self.endpoint}/?{query}",
                deadline=deadline,
                what="阿里云短信接口",
            )
        except DeliveryFailed as failed:
            return failed.result
        answer = reply.json_object()
        code = answer.get("Code") if answer else None
        if reply.status == 200 and code == "OK" and answer is not None:
            biz_id = answer.get("BizId")
            return DeliveryResult(
                outcome="sent",
                detail="阿里云短信平台已受理",
                provider_id=str(biz_id) if biz_id is not None else None,
            )
        if not isinstance(code, str):
            return DeliveryResult.failure(
                f"阿里云短信接口返回 HTTP {reply.status}，应答无法识别",
                retryable=retryable_status(reply.status) or reply.status == 200,
            )
        text = answer.get("Message", "") if answer else ""
        return DeliveryResult.failure(
            f"阿里云短信平台拒绝（HTTP {reply.status}）：{code} {text}".rstrip(),
            retryable=code in RETRYABLE_CODES or retryable_status(reply.status),
        )
