"""DKIM for tests: RSA keys made with openssl at test time, signing with dkimpy,
and a tiny authoritative DNS server on loopback (UDP, dnspython wire format)
that publishes the public keys. The relay reaches it through DKIM_DNS_SERVER;
nothing here stands in for the verification itself."""

from __future__ import annotations

import base64
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import dkim
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


@dataclass(frozen=True)
class Key:
    selector: str
    domain: str
    private_pem: bytes
    public_b64: str

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}."

    @property
    def record(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_b64}"


def make_key(directory: Path, selector: str, domain: str, bits: int = 2048) -> Key:
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / f"{selector}.{domain}.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), str(bits)], check=True, capture_output=True)
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return Key(selector, domain, private.read_bytes(), base64.b64encode(der).decode())


SIGNED = (b"from", b"to", b"subject", b"date", b"in-reply-to", b"references", b"mime-version", b"content-type")


def sign(
    raw: bytes, key: Key, *, headers: tuple[bytes, ...] = SIGNED, length: bool = False, domain: str | None = None
) -> bytes:
    """``raw`` with a DKIM-Signature by ``key`` prepended (relaxed/relaxed; Message-ID not signed,
    as several providers do: it is what a replay changes)."""
    signature = dkim.sign(
        raw,
        key.selector.encode(),
        (domain or key.domain).encode(),
        key.private_pem,
        include_headers=list(headers),
        canonicalize=(b"relaxed", b"relaxed"),
        length=length,
    )
    return signature + raw


@dataclass
class DnsServer:
    """Answers TXT queries for the names in ``records``; NXDOMAIN for the rest."""

    records: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def publish(self, key: Key) -> None:
        self.records[key.record_name.lower()] = key.record

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DnsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - ignore garbage
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            question = query.question[0] if query.question else None
            name = question.name.to_text().lower() if question is not None else ""
            self.queries.append(name)
            text = self.records.get(name)
            if question is None or text is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                chunks = [text[i : i + 255] for i in range(0, len(text), 255)]
                value = " ".join('"' + c + '"' for c in chunks)
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, value)
                )
            self.sock.sendto(response.to_wire(), peer)
