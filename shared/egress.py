"""Where the system may send requests of its own (webhooks): public addresses only.

A subscriber's URL that names, or resolves to, a loopback, private, link-local
(cloud metadata at 169.254.169.254 among them), multicast, reserved or unspecified
address is refused, unless its host is on the allow-list the composition root
passes in (`NOTIFY_WEBHOOK_ALLOWED_HOSTS`: host names, addresses or CIDR blocks).
Checked when a subscription is made and again before every delivery, so a name
that later resolves inward is caught; redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _address(text: str) -> Address | None:
    """An IP address however it is written: 127.0.0.1, [::1], 0x7f000001, 2130706433,
    0177.0.0.1 (the forms a URL parser or the C library would also accept)."""
    text = text.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        # inet_aton's forms: hexadecimal, octal, dotless integers, short dotted forms
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def _inward(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _inward(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


@dataclass(frozen=True)
class EgressPolicy:
    """The allow-list of hosts a webhook may reach although they are not public."""

    allowed_hosts: frozenset[str] = frozenset()
    resolver: Resolver = resolve

    @classmethod
    def from_setting(cls, hosts: Iterable[str], resolver: Resolver = resolve) -> EgressPolicy:
        return cls(frozenset(h.strip().lower().strip("[]") for h in hosts if h.strip()), resolver)

    def _allowed(self, host: str, address: Address | None) -> bool:
        if host in self.allowed_hosts:
            return True
        if address is None:
            return False
        for entry in self.allowed_hosts:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def problem(self, url: str) -> str | None:
        """Why a request to `url` may not be sent, or None when it may."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "地址格式不正确"
        if parts.scheme not in ("http", "https"):
            return "只能推送到 http 或 https 地址"
        host = (parts.hostname or "").lower()
        if not host:
            return "地址缺少主机名"
        literal = _address(host)
        if self._allowed(host, literal):
            return None
        if literal is not None:
            addresses: list[Address] = [literal]
        else:
            try:
                found = self.resolver(host, port)
            except (OSError, UnicodeError):
                return f"无法解析主机名 {host}"
            addresses = [a for a in (_address(x) for x in found) if a is not None]
            if not addresses:
                return f"无法解析主机名 {host}"
        for address in addresses:
            if _inward(address) and not self._allowed(host, address):
                return (
                    f"不能推送到内网、本机、链路本地或保留地址（{host} → {address}）；"
                    "如确需推送，请将其列入 NOTIFY_WEBHOOK_ALLOWED_HOSTS"
                )
        return None
