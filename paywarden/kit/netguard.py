"""The SSRF guard: where a request to a URL someone else chose (a merchant's `webhook_url`, an
order's `callback_url`) may go.

A destination is public only when every address it stands for is globally reachable: a literal
IP, or every address its name resolves to. Hosts are read the way resolvers and browsers read
them (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1` are all 127.0.0.1; `localhost.` is
localhost), IPv6 forms that carry an IPv4 address (mapped, NAT64) are judged by that address,
and anything ambiguous (a zone id, percent-encoded or invalid host) is refused rather than
guessed at.

Three uses: `check_url` when a URL is saved (production), `check_shape` before each send, and
`guarded_transport`, whose connections resolve the host once, check every address and connect
to a checked one: no second lookup for a rebinding DNS server to answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (strings, as getaddrinfo gives them)
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Not globally reachable, whatever this Python's `is_global` says (its tables changed in
# 3.12.4/3.13; these are IANA's special-purpose registries, plus the deprecated forms that
# tunnel to an address of somebody else's choosing).
_NOT_PUBLIC: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    _V4("0.0.0.0/8"),
    _V4("10.0.0.0/8"),
    _V4("100.64.0.0/10"),  # carrier-grade NAT; Alibaba's metadata at 100.100.100.200
    _V4("127.0.0.0/8"),
    _V4("169.254.0.0/16"),  # link-local; cloud metadata at 169.254.169.254
    _V4("172.16.0.0/12"),
    _V4("192.0.0.0/24"),
    _V4("192.0.2.0/24"),
    _V4("192.88.99.0/24"),  # 6to4 relay anycast
    _V4("192.168.0.0/16"),
    _V4("198.18.0.0/15"),
    _V4("198.51.100.0/24"),
    _V4("203.0.113.0/24"),
    _V4("224.0.0.0/4"),
    _V4("240.0.0.0/4"),  # includes 255.255.255.255
    _V6("::/96"),  # unspecified, loopback, IPv4-compatible (deprecated)
    _V6("64:ff9b:1::/48"),  # local-use NAT64
    _V6("100::/64"),
    _V6("2001::/23"),  # IETF protocol assignments, Teredo (2001::/32) among them
    _V6("2001:db8::/32"),
    _V6("2002::/16"),  # 6to4: the embedded IPv4 address decides where it goes
    _V6("3fff::/20"),
    _V6("5f00::/16"),
    _V6("fc00::/7"),
    _V6("fe80::/10"),
    _V6("fec0::/10"),
    _V6("ff00::/8"),
)
_NAT64 = _V6("64:ff9b::/96")  # the well-known prefix: the last 32 bits are the IPv4 target
# Special-use names (RFC 6761, 6762, 9476, ICANN's .internal): never a public receiver.
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "invalid", "test", "onion", "alt")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_DECIMAL = re.compile(r"[0-9]+\Z")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*\Z")


class UnsafeUrl(ValueError):
    """The URL is not one a request may be sent to; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class Destination:
    """A URL's parts as the sender will use them."""

    scheme: str
    host: str  # ASCII (IDNA), lowercase, no trailing dot; an IP in its compressed form
    port: int
    ip: IPAddress | None  # the host, when it is an address literal
    addresses: tuple[IPAddress, ...] = ()  # what the host resolved to (check_url only)


def is_public(ip: IPAddress) -> bool:
    """True only for a globally reachable unicast address (embedded IPv4 judged by itself)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if any(ip in net for net in _NOT_PUBLIC if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`host` read as the WHATWG URL standard and inet_aton read it: 1 to 4 parts, each decimal,
    octal (leading 0) or hex (0x), the last filling the remaining bytes. None when the host does
    not end in a number (a domain name); UnsafeUrl when it does but is no valid address."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    if not (_DECIMAL.match(last) or _HEX.match(last)):
        return None
    if len(parts) > 4:
        raise UnsafeUrl(f"{host} is not a valid IPv4 address")
    numbers = []
    for part in parts:
        if _HEX.match(part):
            number = int(part[2:] or "0", 16)
        elif _DECIMAL.match(part) and len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                raise UnsafeUrl(f"{host} is not a valid IPv4 address")
            number = int(part, 8)
        elif _DECIMAL.match(part):
            number = int(part)
        else:
            raise UnsafeUrl(f"{host} is not a valid IPv4 address")
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise UnsafeUrl(f"{host} is not a valid IPv4 address")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def parse_host(host: str) -> IPAddress | str:
    """An address literal, or the normalised name (lowercase, no trailing dot) to resolve."""
    host = host.lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise UnsafeUrl("an IPv6 zone id is not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeUrl(f"{host} is not a valid IPv6 address") from exc
    if not host.isascii() or not host or len(host) > 254:
        raise UnsafeUrl("not a valid host name")
    ip = parse_ipv4(host)
    if ip is not None:
        return ip
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise UnsafeUrl(f"{host} is not a valid host name")
    return name


def check_shape(url: str, *, allow_http: bool = False) -> Destination:
    """What can be told without DNS: scheme (https, or http when allowed), no credentials, a
    valid host and port, and an address literal's being public. Raises UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"URL is longer than {MAX_URL_LENGTH} characters")
    # Parsers disagree on backslashes, whitespace and controls: refuse rather than pick one.
    if any(c == "\\" or c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeUrl("URL contains a backslash, whitespace or control character")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeUrl(f"not a valid URL ({exc})") from exc
    allowed = ("https", "http") if allow_http else ("https",)
    if parsed.scheme not in allowed:
        raise UnsafeUrl(f"the scheme must be {' or '.join(allowed)}")
    authority = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if parsed.userinfo or "@" in authority:
        raise UnsafeUrl("the URL must not contain credentials (user:password@)")
    raw_host = parsed.raw_host.decode("ascii")
    if not raw_host:
        raise UnsafeUrl("the URL has no host")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise UnsafeUrl(f"port {port} is out of range")
    host = parse_host(raw_host)
    if isinstance(host, str):
        if any(host == s or host.endswith("." + s) for s in _LOCAL_SUFFIXES):
            raise UnsafeUrl(f"{host} is a local name, not a public host")
        if "." not in host:
            # A single label resolves through the search domains: an internal host.
            raise UnsafeUrl(f"{host} is not a fully qualified public host name")
        return Destination(parsed.scheme, host, port, None)
    if not is_public(host):
        raise UnsafeUrl(f"{host} is not a public address")
    return Destination(parsed.scheme, host.compressed, port, host)


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The event loop's getaddrinfo (the process's resolver, /etc/hosts included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve(
    host: str, port: int, resolver: Resolver | None = None, *, check: bool = True
) -> tuple[IPAddress, ...]:
    """Every address `host` stands for, each public when `check`; UnsafeUrl otherwise, or when
    it resolves to nothing."""
    literal = parse_host(host)
    if not isinstance(literal, str):
        found: list[IPAddress] = [literal]
    else:
        try:
            answers = await asyncio.wait_for(
                (resolver or system_resolver)(literal, port), RESOLVE_TIMEOUT_SECONDS
            )
        except (OSError, UnicodeError, TimeoutError) as exc:
            raise UnsafeUrl(f"{literal} does not resolve") from exc
        found = []
        for answer in answers:
            try:
                found.append(ipaddress.ip_address(answer))
            except ValueError as exc:  # e.g. a scoped fe80::1%eth0: link-local, never public
                raise UnsafeUrl(f"{literal} resolves to a non-public address {answer}") from exc
    if not found:
        raise UnsafeUrl(f"{host} does not resolve")
    if check:
        for ip in found:
            if not is_public(ip):
                raise UnsafeUrl(f"{host} resolves to a non-public address {ip}")
    return tuple(dict.fromkeys(found))


async def check_url(
    url: str, *, allow_http: bool = False, resolver: Resolver | None = None
) -> Destination:
    """`check_shape`, then every address the host resolves to must be public."""
    dest = check_shape(url, allow_http=allow_http)
    addresses = await resolve(dest.host, dest.port, resolver)
    return Destination(dest.scheme, dest.host, dest.port, dest.ip, addresses)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to an address the guard checked: the host is
    resolved once, here, every address checked (`enforce`), and the connection opened to one
    of them; with `enforce` off (development) it only resolves through the same resolver."""

    def __init__(self, *, enforce: bool, resolver: Resolver | None = None) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._enforce = enforce
        self._resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, self._resolver, check=self._enforce)
        failure: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeUrl("unix sockets are not a destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(
    *,
    enforce: bool,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext,
    limits: httpx.Limits,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through `GuardedBackend`. Proxies from the
    environment are ignored: a proxy would resolve the name itself, past the guard."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    # httpx takes no network backend: its pool is rebuilt with the same settings and ours
    # (tests/kit/test_netguard.py proves the connection goes where the guard says).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=verify,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(enforce=enforce, resolver=resolver),
    )
    return transport
