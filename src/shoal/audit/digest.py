"""Digest files: what makes the audit trail tamper-evident, as CloudTrail does it.

Each digest is CloudTrail's digest document (``awsAccountId``, ``digestStartTime``,
``digestEndTime``, ``digestS3Bucket``/``digestS3Object``, ``newestEventTime`` /
``oldestEventTime``, ``previousDigestS3Bucket``/``…S3Object``/``…HashValue``/
``…HashAlgorithm``/``…Signature`` and ``logFiles`` with each file's ``hashValue``),
gzipped at CloudTrail's key (``…/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_
CloudTrail-Digest_REGION_TRAIL_REGION_YYYYMMDDTHHMMSSZ.json.gz``). As in CloudTrail,
hashes are SHA-256 of the uncompressed content, and the signature is kept in the
digest object's metadata (``x-amz-meta-signature``, hex) over CloudTrail's data
signing string::

    digestEndTime \n digestS3Bucket/digestS3Object \n hex(SHA-256(digest content))
    \n previousDigestSignature ("null" for the first digest)

How shoal's signature differs from AWS's: CloudTrail signs with a regional RSA key
(``SHA256withRSA``) whose public halves AWS publishes (``ListPublicKeys``); shoal
signs with the service's own Ed25519 key (``DATA/audit-signing.key``, 0600;
``digestSignatureAlgorithm`` is ``Ed25519``, and ``digestPublicKeyFingerprint`` is the
SHA-256 of the raw public key rather than AWS's MD5-style fingerprint). Anyone
holding ``DATA/audit-signing.pub`` can check the chain; AWS's own validator
(``aws cloudtrail validate-logs``) cannot, as it fetches AWS's keys.

A digest is a pure function of the trail state: its end time is the newest event it
lists, moved one second past the previous digest's end if need be (so every digest
has its own name), and Ed25519 signatures are deterministic. Rewritten after a
crash, a digest is byte-for-byte the same object.

Digests written before shoal wrote CloudTrail's format (``LEGACY_SIGNATURE_FIELD`` in
the document: the signature inside it, hashes of the gzipped bytes) still verify
(``verify.py``); new digests continue their chain.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shoal.errors import AuditError
from shoal.storage.meta import ObjectMeta

HASH_ALGORITHM = "SHA-256"
SIGNATURE_ALGORITHM = "Ed25519"
SIGNATURE_META = "signature"  # x-amz-meta-signature, as CloudTrail stores it
SIGNATURE_ALGORITHM_META = "signature-algorithm"
LEGACY_SIGNATURE_FIELD = "digestSignature"  # digests of shoal before CloudTrail's format
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no timestamp), so a re-roll writes identical objects."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def content_hash(stored: bytes) -> str:
    """CloudTrail's ``hashValue`` of a stored (gzipped) file: SHA-256 of its content.

    Raises AuditError when the file is not gzip.
    """
    try:
        return sha256_hex(gzip.decompress(stored))
    except (OSError, EOFError, ValueError) as exc:
        raise AuditError(f"not a gzipped file: {exc}") from None


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a legacy digest's in-document signature covers: sorted keys."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def signing_string(document: dict[str, Any], content: bytes) -> bytes:
    """CloudTrail's data signing string of a digest whose uncompressed bytes are
    ``content``."""
    previous = document.get("previousDigestSignature") or "null"
    lines = (
        str(document.get("digestEndTime")),
        f"{document.get('digestS3Bucket')}/{document.get('digestS3Object')}",
        sha256_hex(content),
        str(previous),
    )
    return "\n".join(lines).encode()


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


def signature_valid(key: Ed25519PublicKey, signature: str | None, signed: bytes) -> bool:
    """Whether hex ``signature`` is ``key``'s signature of ``signed``."""
    if not isinstance(signature, str):
        return False
    try:
        key.verify(bytes.fromhex(signature), signed)
    except (InvalidSignature, ValueError):
        return False
    return True


def legacy_signature_valid(key: Ed25519PublicKey, document: dict[str, Any]) -> bool:
    """Whether a legacy digest's in-document signature signs the rest of it."""
    unsigned = {k: v for k, v in document.items() if k != LEGACY_SIGNATURE_FIELD}
    return signature_valid(key, document.get(LEGACY_SIGNATURE_FIELD), canonical(unsigned))


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
    # Intents of live processes still waiting for their record (audit/intents.py).
    open_intents: list[dict[str, Any]] = field(default_factory=list)

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
    event listed) to the newest event listed, at least a second past the previous
    end, so each digest's name (which carries its end) is its own."""
    oldest = min(p["oldestEventTime"] for p in state.pending)
    newest = max(p["newestEventTime"] for p in state.pending)
    if state.previous is None:
        return oldest, newest
    start = state.previous["digestEndTime"]
    after = _parse(start) + timedelta(seconds=1)
    return start, max(newest, after.strftime(TIME_FORMAT))


def _parse(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def build_digest(
    state: DigestState,
    fingerprint_hex: str,
    bucket: str,
    digest_key: str,
    account_id: str,
) -> dict[str, Any]:
    """The digest document listing ``state.pending`` (its signature goes in the
    object's metadata, see ``sign_digest``)."""
    start, end = digest_times(state)
    previous = state.previous or {}
    return {
        "awsAccountId": account_id,
        "digestStartTime": start,
        "digestEndTime": end,
        "digestS3Bucket": bucket,
        "digestS3Object": digest_key,
        "digestPublicKeyFingerprint": fingerprint_hex,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "newestEventTime": max(p["newestEventTime"] for p in state.pending),
        "oldestEventTime": min(p["oldestEventTime"] for p in state.pending),
        "previousDigestS3Bucket": bucket if previous else None,
        "previousDigestS3Object": previous.get("s3Object"),
        "previousDigestHashValue": previous.get("hashValue"),
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
        "previousDigestSignature": previous.get("signature"),
        "logFiles": list(state.pending),
    }


def encode_digest(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """(uncompressed content, stored gzipped bytes) of a digest document."""
    content = json.dumps(document, indent=1).encode()
    return content, gzip_bytes(content)


def sign_digest(key: Ed25519PrivateKey, document: dict[str, Any], content: bytes) -> str:
    """The hex signature of a digest, for its ``x-amz-meta-signature``."""
    return key.sign(signing_string(document, content)).hex()


def digest_meta(signature: str) -> ObjectMeta:
    """The object metadata a digest is stored with, as CloudTrail stores it."""
    return ObjectMeta(
        user={SIGNATURE_META: signature, SIGNATURE_ALGORITHM_META: SIGNATURE_ALGORITHM}
    )


def record_digest(
    state: DigestState, document: dict[str, Any], content: bytes, signature: str
) -> None:
    """Advance ``state`` past the digest ``document`` (uncompressed ``content``)."""
    state.previous = {
        "s3Object": document["digestS3Object"],
        "hashValue": sha256_hex(content),
        "signature": signature,
        "digestEndTime": document["digestEndTime"],
    }
    state.sequence += 1
    state.pending = []
    state.last_digest_time = time.time()
