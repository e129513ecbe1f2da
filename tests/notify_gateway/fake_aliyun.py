"""A fake Alibaba Cloud SMS endpoint that checks requests the way the real one does.

It recomputes the signature itself (its own encoder, not the adapter's) and answers
`SignatureDoesNotMatch` with HTTP 400 when it differs; it also checks the common
parameters, the timestamp's freshness and that a nonce is not used twice. Accepted
messages are recorded. Extra mode: `limit` answers `isv.BUSINESS_LIMIT_CONTROL`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, unquote

from tests.notify_gateway.loopback import FakeProvider

MOBILE = re.compile(r"^1\d{10}$")
MAX_CLOCK_SKEW = timedelta(minutes=15)


def _pop_encode(value: str) -> str:
    """The encoding from Aliyun's documentation: form-encode, then fix + * and ~."""
    return quote_plus(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def expected_signature(params: dict[str, str], secret: str) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{_pop_encode(k)}={_pop_encode(v)}" for k, v in pairs)
    to_sign = "GET&" + _pop_encode("/") + "&" + _pop_encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class ReceivedSms:
    phone: str
    sign_name: str
    template_code: str
    template_param: dict[str, Any]
    biz_id: str


class FakeAliyunSms(FakeProvider):
    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys  # AccessKeyId -> AccessKeySecret
        self.received: list[ReceivedSms] = []
        self.rejected: list[str] = []
        self._nonces: set[str] = set()

    def _answer(self, status: int, code: str, message: str, **extra: str) -> Any:
        if code != "OK":
            self.rejected.append(code)
        body = {"RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990", "Code": code}
        body |= {"Message": message, **extra}
        return status, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(body).encode()

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method != "GET" or path != "/":
            return self._answer(404, "InvalidAction.NotFound", "Specified api is not found")
        params: dict[str, str] = {}
        for pair in query.split("&"):
            key, _, value = (unquote(part) for part in pair.partition("="))
            if key in params:
                return self._answer(400, "InvalidParameter", f"duplicate {key}")
            params[key] = value
        required = [
            "AccessKeyId",
            "Action",
            "Format",
            "PhoneNumbers",
            "RegionId",
            "SignName",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "TemplateCode",
            "Timestamp",
            "Version",
        ]
        missing = [name for name in required if not params.get(name)]
        if missing:
            return self._answer(400, "MissingParameter", f"missing {missing[0]}")
        if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
            return self._answer(400, "InvalidAction.NotFound", "Specified api is not found")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return self._answer(400, "InvalidSignatureMethod", "unsupported signature method")
        if params["Format"] != "JSON":
            return self._answer(400, "InvalidParameter", "Format must be JSON here")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return self._answer(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        if not hmac.compare_digest(params["Signature"], expected_signature(params, secret)):
            return self._answer(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._answer(
                400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
            )
        if abs(datetime.now(UTC) - stamp) > MAX_CLOCK_SKEW:
            return self._answer(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        if params["SignatureNonce"] in self._nonces:
            return self._answer(
                400, "SignatureNonceUsed", "Specified signature nonce was used already."
            )
        self._nonces.add(params["SignatureNonce"])
        if self.mode == "limit":
            return self._answer(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        if not MOBILE.match(params["PhoneNumbers"]):
            return self._answer(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        try:
            template_param = json.loads(params.get("TemplateParam", "{}"))
        except ValueError:
            return self._answer(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(template_param, dict) or not all(
            isinstance(v, str) for v in template_param.values()
        ):
            return self._answer(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        biz_id = f"{900000 + len(self.received)}^0"
        self.received.append(
            ReceivedSms(
                phone=params["PhoneNumbers"],
                sign_name=params["SignName"],
                template_code=params["TemplateCode"],
                template_param=template_param,
                biz_id=biz_id,
            )
        )
        return self._answer(200, "OK", "OK", BizId=biz_id)
