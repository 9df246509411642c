"""The emulator's test certificate authority. MSAL only accepts an HTTPS authority, so the
emulator serves TLS with a certificate issued by a CA made with ``trustme``. The CA is kept
under the root (``tls/ca.pem``) and reused on restart, so a client's ``verify=`` path stays
valid for the life of the root directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def ensure_tls(root: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    folder = root / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_key = folder / "ca.key"
    if files.ca.exists() and ca_key.exists():
        ca = trustme.CA.from_pem(files.ca.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="Mobilise Graph emulator")
        files.ca.write_bytes(ca.cert_pem.bytes())
        ca_key.write_bytes(ca.private_key_pem.bytes())
        ca_key.chmod(0o600)
    server = ca.issue_cert(*hosts)
    files.cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files.key.write_bytes(server.private_key_pem.bytes())
    files.key.chmod(0o600)
    return files
