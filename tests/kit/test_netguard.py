"""The SSRF guard (paywarden/kit/netguard.py): hosts read as resolvers and browsers read them,
every address judged (embedded IPv4 included), URLs' scheme and credentials, DNS answers, and a
transport that connects only where the guard said. DNS is faked at the resolver boundary."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from paywarden.kit.netguard import (
    UnsafeUrl,
    check_shape,
    check_url,
    guarded_transport,
    is_public,
    parse_host,
)
from tests.servers import free_socket, serve

PUBLIC, PRIVATE, INVALID = "public", "private", "invalid"

# host as it appears in a URL -> what it is
HOSTS: list[tuple[str, str]] = [
    ("8.8.8.8", PUBLIC),
    ("1.1.1.1", PUBLIC),
    ("93.184.215.14", PUBLIC),
    ("2606:4700::1111", PUBLIC),
    ("[2606:4700:4700::1111]", PUBLIC),
    ("2001:4860:4860::8888", PUBLIC),
    ("::ffff:8.8.8.8", PUBLIC),  # IPv4-mapped: judged as 8.8.8.8
    ("64:ff9b::808:808", PUBLIC),  # NAT64 of 8.8.8.8
    ("134744072", PUBLIC),  # decimal 8.8.8.8
    ("127.0.0.1", PRIVATE),
    ("127.255.255.254", PRIVATE),
    ("2130706433", PRIVATE),  # decimal
    ("017700000001", PRIVATE),  # octal, one part
    ("0177.0.0.1", PRIVATE),  # octal
    ("0x7f.1", PRIVATE),  # hex, short form
    ("0x7f000001", PRIVATE),
    ("0x7F.0x0.0x0.0x1", PRIVATE),
    ("127.1", PRIVATE),  # short form
    ("127.0.1", PRIVATE),
    ("127.0.0.1.", PRIVATE),  # trailing dot
    ("0", PRIVATE),  # 0.0.0.0
    ("0.0.0.0", PRIVATE),  # noqa: S104 (a host to refuse, not a bind address)
    ("10.0.0.1", PRIVATE),
    ("012.0.0.1", PRIVATE),  # octal 10.0.0.1
    ("172.16.5.4", PRIVATE),
    ("192.168.1.1", PRIVATE),
    ("3232235777", PRIVATE),  # decimal 192.168.1.1
    ("169.254.169.254", PRIVATE),  # cloud metadata
    ("0xa9fea9fe", PRIVATE),  # hex 169.254.169.254
    ("100.64.0.1", PRIVATE),  # CGNAT
    ("100.100.100.200", PRIVATE),  # Alibaba metadata
    ("192.0.0.170", PRIVATE),
    ("192.0.2.1", PRIVATE),
    ("198.18.0.1", PRIVATE),
    ("198.51.100.7", PRIVATE),
    ("203.0.113.9", PRIVATE),
    ("192.88.99.1", PRIVATE),  # 6to4 relay anycast
    ("224.0.0.1", PRIVATE),
    ("240.0.0.1", PRIVATE),
    ("255.255.255.255", PRIVATE),
    ("0xffffffff", PRIVATE),
    ("::1", PRIVATE),
    ("[::1]", PRIVATE),
    ("::", PRIVATE),
    ("::ffff:127.0.0.1", PRIVATE),  # IPv4-mapped
    ("::ffff:7f00:1", PRIVATE),
    ("::ffff:10.0.0.1", PRIVATE),
    ("::ffff:169.254.169.254", PRIVATE),
    ("::127.0.0.1", PRIVATE),  # IPv4-compatible (deprecated)
    ("::8.8.8.8", PRIVATE),
    ("64:ff9b::7f00:1", PRIVATE),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", PRIVATE),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::a00:1", PRIVATE),  # local-use NAT64
    ("2002:7f00:1::", PRIVATE),  # 6to4 of 127.0.0.1
    ("2002:a00:1::1", PRIVATE),  # 6to4 of 10.0.0.1
    ("2002:808:808::1", PRIVATE),  # 6to4 at all: somebody else's relay decides
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", PRIVATE),  # Teredo
    ("2001:db8::1", PRIVATE),
    ("fc00::1", PRIVATE),
    ("fd12:3456::1", PRIVATE),
    ("fe80::1", PRIVATE),
    ("fec0::1", PRIVATE),
    ("ff02::1", PRIVATE),
    ("100::1", PRIVATE),
    ("fe80::1%eth0", INVALID),  # zone id
    ("fe80::1%25eth0", INVALID),
    ("09.1", INVALID),  # 9 is no octal digit
    ("0x7g.1", INVALID),
    ("1.2.3.4.5", INVALID),
    ("256.1.1.1", INVALID),
    ("1.2.3.256", INVALID),
    ("4294967296", INVALID),  # 2**32
    ("1..2", INVALID),
    ("%31%32%37.0.0.1", INVALID),  # percent-encoded
    ("exa mple.com", INVALID),
    ("-bad.example.com", INVALID),
    ("::ffff:127.0.0.1:80", INVALID),
]


@pytest.mark.parametrize(("host", "kind"), HOSTS)
def test_hosts_are_read_and_judged_as_resolvers_read_them(host: str, kind: str) -> None:
    if kind == INVALID:
        with pytest.raises(UnsafeUrl):
            parse_host(host)
        return
    ip = parse_host(host)
    assert isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    assert is_public(ip) is (kind == PUBLIC)


def test_the_table_is_large_and_agrees_with_the_c_library() -> None:
    assert len(HOSTS) >= 40
    # inet_aton is what getaddrinfo uses for numeric hosts: it reads every IPv4 form the same.
    for host in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0xa9fea9fe", "012.0.0.1"):
        assert str(parse_host(host)) == socket.inet_ntoa(socket.inet_aton(host))


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("Example.COM", "example.com"),
        ("hooks.example.com.", "hooks.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("1.2.3.example", "1.2.3.example"),  # does not end in a number: a name
        ("0x7f.example", "0x7f.example"),
    ],
)
def test_names_are_normalised_for_resolving(host: str, name: str) -> None:
    assert parse_host(host) == name


ADDRESSES = {
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "internal.example.com": ["10.0.0.5"],
    "mixed.example.com": ["93.184.215.14", "127.0.0.1"],  # one bad answer spoils it
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:192.168.0.1"],
    "nat64.example.com": ["64:ff9b::a00:1"],
    "scoped.example.com": ["fe80::1%eth0"],
    "empty.example.com": [],
    "xn--bcher-kva.example": ["93.184.215.14"],
}


async def fake_dns(host: str, port: int) -> Sequence[str]:
    """The outside world's DNS: names in ADDRESSES, NXDOMAIN for the rest."""
    if host not in ADDRESSES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return ADDRESSES[host]


# URL -> None when allowed, else a piece of the reason (production, http not allowed)
URLS: list[tuple[str, str | None]] = [
    ("https://hooks.example.com/webhooks", None),
    ("https://hooks.example.com:8443/in?x=1#f", None),
    ("https://HOOKS.Example.com./webhooks", None),  # case, trailing dot
    ("https://bücher.example/hook", None),  # IDNA
    ("https://8.8.8.8/hook", None),
    ("https://[2606:4700::1111]:443/hook", None),
    ("https://134744072/hook", None),  # decimal 8.8.8.8
    ("http://hooks.example.com/webhooks", "scheme must be https"),
    ("ftp://hooks.example.com/x", "scheme must be https"),
    ("file:///etc/passwd", "scheme must be https"),
    ("gopher://8.8.8.8:70/_x", "scheme must be https"),
    ("javascript:alert(1)", "scheme must be https"),
    ("https://user:pass@hooks.example.com/x", "credentials"),
    ("https://user@hooks.example.com/x", "credentials"),
    ("https://@hooks.example.com/x", "credentials"),
    ("https://hooks.example.com@127.0.0.1/x", "credentials"),
    ("https://127.0.0.1\\@hooks.example.com/x", "backslash"),
    ("https://hooks.example.com /x", "whitespace"),
    ("https://hooks.example.com/\nx", "control"),
    ("https://internal.example.com/x", "non-public address 10.0.0.5"),
    ("https://mixed.example.com/x", "non-public address 127.0.0.1"),
    ("https://metadata.example.com/latest", "169.254.169.254"),
    ("https://mapped.example.com/x", "::ffff:c0a8:1"),
    ("https://nat64.example.com/x", "64:ff9b::a00:1"),
    ("https://scoped.example.com/x", "fe80::1%eth0"),
    ("https://empty.example.com/x", "does not resolve"),
    ("https://nowhere.example.com/x", "does not resolve"),
    ("https://localhost/x", "local name"),
    ("https://localhost./x", "local name"),
    ("https://api.localhost/x", "local name"),
    ("https://printer.local/x", "local name"),
    ("https://db.internal/x", "local name"),
    ("https://metadata/computeMetadata", "fully qualified"),
    ("https://127.0.0.1/x", "127.0.0.1 is not a public"),
    ("https://2130706433/x", "127.0.0.1 is not a public"),
    ("https://0x7f.1/x", "127.0.0.1 is not a public"),
    ("https://127.1:8443/x", "127.0.0.1 is not a public"),
    ("https://100.100.100.200/latest/meta-data", "not a public"),
    ("https://169.254.169.254/latest/meta-data", "not a public"),
    ("https://[::ffff:127.0.0.1]/x", "not a public"),
    ("https://[::ffff:a9fe:a9fe]/x", "not a public"),
    ("https://[64:ff9b::a9fe:a9fe]/x", "not a public"),
    ("https://[2002:a9fe:a9fe::]/x", "not a public"),
    ("https://[fe80::1%25eth0]/x", "zone id"),
    ("https://[::1]:8080/x", "not a public"),
    ("https://0177.0.0.1/x", "not a valid URL"),  # httpx itself refuses a leading zero
    ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x", "not a valid URL"),  # full-width digits
    ("https://hooks.example.com:0/x", "port 0"),
    ("https://hooks.example.com:99999/x", "port 99999"),
    ("https:///x", "no host"),
    ("https://" + "a" * 2050 + ".com/", "longer than"),
]


@pytest.mark.parametrize(("url", "reason"), URLS)
async def test_urls_are_checked_as_production_saves_and_sends_them(
    url: str, reason: str | None
) -> None:
    if reason is None:
        dest = await check_url(url, resolver=fake_dns)
        assert dest.addresses
        assert all(is_public(ip) for ip in dest.addresses)
        return
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, resolver=fake_dns)
    assert reason in str(caught.value)


async def test_http_only_where_allowed_and_credentials_never() -> None:
    assert check_shape("http://8.8.8.8/x", allow_http=True).port == 80
    dest = await check_url("http://hooks.example.com/x", allow_http=True, resolver=fake_dns)
    assert dest.host == "hooks.example.com"
    with pytest.raises(UnsafeUrl, match="credentials"):
        check_shape("http://a:b@8.8.8.8/x", allow_http=True)
    with pytest.raises(UnsafeUrl, match="not a public"):
        check_shape("http://10.0.0.1/x", allow_http=True)


async def test_the_system_resolver_refuses_what_it_cannot_resolve() -> None:
    """The default resolver is the loop's getaddrinfo: `localhost` is refused by name already,
    and a name under .invalid (RFC 6761: never resolves) is refused for not resolving."""
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await check_url("https://hooks.example.invalid-tld-for-tests./x")


def test_url_table_is_large() -> None:
    assert len(URLS) >= 40


@dataclass
class Receiver:
    """A server on 127.0.0.1 recording the Host header of each request it gets."""

    base: str = ""
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = FastAPI()

    @app.post("/merchant")
    async def hook(request: Request) -> dict[str, bool]:
        rec.hosts.append(request.headers["host"])
        return {"ok": True}

    async for base in serve(app, lifespan="off"):
        rec.base = base
        yield rec


async def _post(url: str, *, enforce: bool, answers: list[str], asked: list[str]) -> int:
    async def dns(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return answers

    transport = guarded_transport(
        enforce=enforce,
        resolver=dns,
        verify=httpx.create_ssl_context(),
        limits=httpx.Limits(max_connections=2),
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(url, content=b"{}")
    return response.status_code


async def test_the_transport_connects_where_the_guard_resolved(receiver: Receiver) -> None:
    """`hooks.example.com` reaches the receiver on 127.0.0.1 only through the guard's own
    answer: the connection goes to the address resolved (once) by the guard."""
    port = httpx.URL(receiver.base).port
    asked: list[str] = []
    url = f"http://hooks.example.com:{port}/merchant"
    assert await _post(url, enforce=False, answers=["127.0.0.1"], asked=asked) == 200
    assert asked == ["hooks.example.com"]
    assert receiver.hosts == [f"hooks.example.com:{port}"]


@pytest.mark.parametrize(
    ("host", "answers"),
    [
        ("hooks.example.com", ["127.0.0.1"]),
        ("hooks.example.com", ["8.8.8.8", "127.0.0.1"]),  # rebinding: one private answer
        ("127.0.0.1", []),
        ("2130706433", []),
        ("[::ffff:127.0.0.1]", []),
    ],
)
async def test_the_enforcing_transport_never_connects_to_a_private_address(
    receiver: Receiver, host: str, answers: list[str]
) -> None:
    port = httpx.URL(receiver.base).port
    asked: list[str] = []
    with pytest.raises(UnsafeUrl, match=r"not a public|non-public"):
        await _post(f"http://{host}:{port}/merchant", enforce=True, answers=answers, asked=asked)
    assert receiver.hosts == []
    assert asked == ([] if not answers else ["hooks.example.com"])


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `name` and its key, PEM."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


async def test_tls_still_verifies_the_urls_host_on_the_checked_address(tmp_path: Path) -> None:
    """Connected to the guard's address, TLS names and verifies the URL's host: a certificate
    for hooks.example.com served on 127.0.0.1 is accepted for that name, and the same server
    is refused for another name resolving to the same address."""
    import asyncio
    import ssl

    import uvicorn

    cert, key = _certificate("hooks.example.com")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    app = FastAPI()

    @app.post("/merchant")
    async def hook(request: Request) -> dict[str, str]:
        return {"host": request.headers["host"]}

    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="off",
        access_log=False,
        ssl_certfile=str(tmp_path / "cert.pem"),
        ssl_keyfile=str(tmp_path / "key.pem"),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def dns(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    trust = ssl.create_default_context(cadata=cert.decode())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # raises what stopped it
                await asyncio.sleep(0.02)
        transport = guarded_transport(
            enforce=False, resolver=dns, verify=trust, limits=httpx.Limits(max_connections=2)
        )
        async with httpx.AsyncClient(transport=transport) as client:
            ok = await client.post(f"https://hooks.example.com:{port}/merchant")
            assert ok.json() == {"host": f"hooks.example.com:{port}"}
            with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                await client.post(f"https://other.example.com:{port}/merchant")
    finally:
        server.should_exit = True
        await task
        sock.close()
