"""Digest files: what makes the audit trail tamper-evident, as CloudTrail does it.

Each digest lists the log files delivered since the previous digest with the SHA-256
of each, names the previous digest and its SHA-256 (a chain), and is signed with an
Ed25519 key the service keeps in ``DATA/audit-signing.key`` (0600). Anyone holding
the public key (``DATA/audit-signing.pub``) can check the chain.

Differences from CloudTrail, on purpose:

- Hashes are of the stored objects (the gzipped bytes), so any changed byte of a
  stored file is caught, header included.
- The signature is a field of the digest (``digestSignature``, hex) over the
  canonical JSON of every other field, because shoal's storage has no object
  metadata to keep it in (CloudTrail uses ``x-amz-meta-signature``).
- ``digestSequence`` numbers digests from 1, and the start and end times come from
  the events listed rather than the clock. A digest is therefore a pure function of
  the trail state: rewritten after a crash, it is byte-for-byte the same object.

``DigestState`` (``DATA/audit/state.json``) remembers what awaits a digest and the
last digest written, so rolls in any process continue one chain.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shoal.errors import AuditError

HASH_ALGORITHM = "SHA-256"
SIGNATURE_ALGORITHM = "Ed25519"
KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no timestamp), so a re-roll writes identical objects."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a digest signature covers: sorted keys, no whitespace."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# --- the signing key -------------------------------------------------------------


def load_signing_key(data_path: Path) -> Ed25519PrivateKey:
    """The service's digest key, created (0600) with its public half on first use."""
    path = data_path / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_private(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    (data_path / PUBLIC_KEY_FILE).write_bytes(public_pem(key.public_key()))
    return key


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise AuditError(f"cannot read the audit signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file (``audit-signing.pub`` or a private key file)."""
    data = path.read_bytes()
    try:
        if b"PRIVATE KEY" in data:
            return _read_private(path).public_key()
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise AuditError(f"cannot read the audit public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(f"{path} is not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: names the key a digest was signed with."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def signature_valid(key: Ed25519PublicKey, document: dict[str, Any]) -> bool:
    """Whether ``document['digestSignature']`` signs the rest of ``document``."""
    signature = document.get("digestSignature")
    if not isinstance(signature, str):
        return False
    unsigned = {k: v for k, v in document.items() if k != "digestSignature"}
    try:
        key.verify(bytes.fromhex(signature), canonical(unsigned))
    except (InvalidSignature, ValueError):
        return False
    return True


# --- state: what awaits a digest --------------------------------------------------


@dataclass
class DigestState:
    """What the trail has delivered and digested, kept in ``DATA/audit/state.json``.

    ``rolled`` names journal segments whose log files are delivered (their file may
    still exist if a crash came before its removal); ``pending`` lists delivered log
    files no digest lists yet; ``previous`` is the last digest written.
    """

    rolled: list[str] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    previous: dict[str, Any] | None = None
    sequence: int = 0
    last_digest_time: float = field(default_factory=time.time)

    @classmethod
    def load(cls, path: Path) -> DigestState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise AuditError(f"cannot read audit state {path}: {exc}") from None
        return cls(**data)

    def save(self, path: Path) -> None:
        """Replace the state file atomically and durably."""
        data = json.dumps(asdict(self), indent=1).encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)

    def add_log_file(self, entry: dict[str, Any]) -> None:
        if all(p["s3Object"] != entry["s3Object"] for p in self.pending):
            self.pending.append(entry)

    def due(self, every: int, seconds: float, force: bool = False) -> bool:
        """Whether a digest should be written now."""
        if not self.pending:
            return False
        waited = time.time() - self.last_digest_time
        return force or len(self.pending) >= every or waited >= seconds


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- building a digest ------------------------------------------------------------


def digest_times(state: DigestState) -> tuple[str, str]:
    """(start, end) of the next digest: from the previous digest's end (or the oldest
    event listed) to the newest event listed."""
    oldest = min(p["oldestEventTime"] for p in state.pending)
    newest = max(p["newestEventTime"] for p in state.pending)
    start = state.previous["digestEndTime"] if state.previous else oldest
    return start, newest


def build_digest(
    state: DigestState, key: Ed25519PrivateKey, bucket: str, digest_key: str, account_id: str
) -> dict[str, Any]:
    """The signed digest document listing ``state.pending``."""
    start, end = digest_times(state)
    previous = state.previous or {}
    document: dict[str, Any] = {
        "awsAccountId": account_id,
        "digestStartTime": start,
        "digestEndTime": end,
        "digestS3Bucket": bucket,
        "digestS3Object": digest_key,
        "digestSequence": state.sequence + 1,
        "digestPublicKeyFingerprint": fingerprint(key.public_key()),
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": end,
        "oldestEventTime": min(p["oldestEventTime"] for p in state.pending),
        "previousDigestS3Bucket": bucket if previous else None,
        "previousDigestS3Object": previous.get("s3Object"),
        "previousDigestHashValue": previous.get("hashValue"),
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.get("signature"),
        "logFiles": list(state.pending),
    }
    document["digestSignature"] = key.sign(canonical(document)).hex()
    return document


def encode_digest(document: dict[str, Any]) -> bytes:
    return gzip_bytes(json.dumps(document, indent=1).encode())


def record_digest(state: DigestState, document: dict[str, Any], stored: bytes) -> None:
    """Advance ``state`` past the digest ``document`` (stored as ``stored``)."""
    state.previous = {
        "s3Object": document["digestS3Object"],
        "hashValue": sha256_hex(stored),
        "signature": document["digestSignature"],
        "digestEndTime": document["digestEndTime"],
    }
    state.sequence = document["digestSequence"]
    state.pending = []
    state.last_digest_time = time.time()
