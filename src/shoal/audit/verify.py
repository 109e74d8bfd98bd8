"""``verify_trail``: check a trail's log files against its signed digest chain.

It reports, one line each, every problem it finds:

- a digest that does not parse, whose signature does not verify, or that was signed
  with another key (edited);
- a break in the chain: a digest naming a previous digest that is gone (deleted),
  or whose recorded hash no longer matches it (edited);
- a listed log file that is gone (deleted), whose SHA-256 differs (edited), or that
  holds another listed file's content (reordered);
- a log file no digest lists (inserted), unless it is newer than the last digest
  (reported apart as not yet digested);
- log files listed out of delivery order.

With the trail's local state it also notices that the newest digest was deleted,
which the chain alone cannot show.

Digests in CloudTrail's format carry their signature in the object's metadata and
hash uncompressed content; digests shoal wrote before it used CloudTrail's format
(the signature inside the document) are checked by their own rule, and the chain
runs on from the last of them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shoal.audit import digest as digests
from shoal.audit.trail import TrailLayout
from shoal.errors import AuditError, NoSuchBucketError
from shoal.storage.base import ObjectInfo, Storage


@dataclass
class VerifyReport:
    """What ``verify_trail`` found; the trail is intact when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)
    digests: int = 0
    log_files: int = 0
    not_yet_digested: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Digest:
    key: str
    document: dict[str, Any]
    chain_hash: str  # what the next digest's previousDigestHashValue must be
    signature: str | None  # x-amz-meta-signature, or the legacy in-document field
    signed: bytes  # what the signature covers

    @property
    def legacy(self) -> bool:
        return digests.LEGACY_SIGNATURE_FIELD in self.document

    @property
    def order(self) -> tuple[bool, int, str, str]:
        """Legacy digests first, by their sequence; then by end time (each its own)."""
        sequence = self.document.get("digestSequence")  # legacy digests only
        number = sequence if isinstance(sequence, int) and self.legacy else 0
        return (not self.legacy, number, str(self.document.get("digestEndTime")), self.key)


def verify_trail(
    storage: Storage,
    layout: TrailLayout,
    public_key: Ed25519PublicKey | None,
    state: digests.DigestState | None = None,
) -> VerifyReport:
    """Check the trail in ``layout`` (see the module docstring).

    Args:
        storage: Where the trail's files are.
        layout: Bucket, account and region of the trail.
        public_key: The key digests must be signed with; None when the service has
            never made one (then any digest found is a problem).
        state: The trail's local state, if at hand: it names the last digest written
            and the log files awaiting a digest.
    """
    report = VerifyReport()
    chain = _load_digests(storage, layout, report)
    report.digests = len(chain)
    _check_signatures(chain, public_key, report)
    _check_chain(chain, report)
    if state is not None and state.previous is not None:
        last = state.previous["s3Object"]
        if last not in {d.key for d in chain}:
            report.problems.append(f"digest missing: {last} (the last digest written)")
    listed = _check_listed_order(chain, report)
    _check_log_files(storage, layout, listed, chain, state, report)
    return report


def _objects(storage: Storage, bucket: str, prefix: str) -> list[ObjectInfo]:
    try:
        return list(storage.walk(bucket, prefix))
    except NoSuchBucketError:
        return []


def _load_digests(storage: Storage, layout: TrailLayout, report: VerifyReport) -> list[_Digest]:
    chain = []
    for info in _objects(storage, layout.bucket, layout.digest_prefix):
        stored = storage.read(info.bucket, info.key)
        try:
            content = gzip.decompress(stored)
            document = json.loads(content)
            if not isinstance(document, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, EOFError):
            report.problems.append(f"digest unreadable: {info.key} (edited)")
            continue
        chain.append(_digest(storage, info, stored, content, document))
    return sorted(chain, key=lambda d: d.order)


def _digest(
    storage: Storage, info: ObjectInfo, stored: bytes, content: bytes, document: dict[str, Any]
) -> _Digest:
    if digests.LEGACY_SIGNATURE_FIELD in document:
        signature = document[digests.LEGACY_SIGNATURE_FIELD]
        return _Digest(info.key, document, digests.sha256_hex(stored), signature, b"")
    _, meta = storage.head(info.bucket, info.key)
    signed = digests.signing_string(document, content)
    signature = meta.user.get(digests.SIGNATURE_META)
    return _Digest(info.key, document, digests.sha256_hex(content), signature, signed)


def _check_signatures(
    chain: list[_Digest], key: Ed25519PublicKey | None, report: VerifyReport
) -> None:
    expected = digests.fingerprint(key) if key is not None else None
    for digest in chain:
        doc = digest.document
        if key is None or doc.get("digestPublicKeyFingerprint") != expected:
            report.problems.append(f"digest signed with an unknown key: {digest.key}")
        elif digest.signature is None:
            report.problems.append(f"digest signature missing: {digest.key} (edited)")
        elif not _signed(key, digest):
            report.problems.append(f"digest signature invalid: {digest.key} (edited)")
        if doc.get("digestS3Object") != digest.key:
            report.problems.append(
                f"digest moved: {digest.key} was written as {doc.get('digestS3Object')}"
            )


def _signed(key: Ed25519PublicKey, digest: _Digest) -> bool:
    if digest.legacy:
        return digests.legacy_signature_valid(key, digest.document)
    return digests.signature_valid(key, digest.signature, digest.signed)


def _check_chain(chain: list[_Digest], report: VerifyReport) -> None:
    keys = {d.key for d in chain}
    for index, digest in enumerate(chain):
        previous_key = digest.document.get("previousDigestS3Object")
        before = chain[index - 1] if index else None
        if previous_key is None:
            if before is not None:
                report.problems.append(f"digest chain restarts at {digest.key}")
            continue
        if previous_key not in keys:
            report.problems.append(f"digest missing: {previous_key} (previous of {digest.key})")
        elif before is None or previous_key != before.key:
            report.problems.append(f"digests out of order: {digest.key} follows {previous_key}")
        elif digest.document.get("previousDigestHashValue") != before.chain_hash:
            report.problems.append(
                f"digest changed: {before.key} no longer matches the hash in {digest.key}"
            )
        elif not digest.legacy and digest.document.get("previousDigestSignature") != (
            before.signature
        ):
            report.problems.append(
                f"digest changed: {before.key} no longer matches the signature in {digest.key}"
            )


Listed = dict[str, tuple[str, str, bool]]  # log file -> (hash, digest, legacy)


def _check_listed_order(chain: list[_Digest], report: VerifyReport) -> Listed:
    """Every listed log file -> (its SHA-256, the digest listing it, whether that
    digest is legacy); flags files listed out of delivery order (names carry the
    delivery time)."""
    listed: Listed = {}
    last_stamp = ""
    for digest in chain:
        for entry in digest.document.get("logFiles") or []:
            key = str(entry.get("s3Object"))
            stamp = _stamp(key)
            if stamp < last_stamp:
                report.problems.append(f"log files out of order: {key} listed after {last_stamp}")
            last_stamp = max(last_stamp, stamp)
            listed[key] = (str(entry.get("hashValue")), digest.key, digest.legacy)
    return listed


def _check_log_files(
    storage: Storage,
    layout: TrailLayout,
    listed: Listed,
    chain: list[_Digest],
    state: digests.DigestState | None,
    report: VerifyReport,
) -> None:
    found = {o.key: o for o in _objects(storage, layout.bucket, layout.log_prefix)}
    report.log_files = len(found)
    owner_of_hash = {sha: key for key, (sha, _, _) in listed.items()}
    for key, (expected, digest_key, legacy) in listed.items():
        if key not in found:
            report.problems.append(f"log file deleted: {key} (listed in {digest_key})")
            continue
        actual = _log_hash(storage.read(layout.bucket, key), legacy)
        if actual == expected:
            continue
        other = owner_of_hash.get(actual)
        if other is not None:
            report.problems.append(f"log file reordered: {key} holds the content of {other}")
        else:
            report.problems.append(f"log file edited: {key} (SHA-256 differs from {digest_key})")
    pending = {p["s3Object"] for p in state.pending} if state is not None else None
    newest = max((_stamp(k) for k in listed), default="")
    for key in sorted(set(found) - set(listed)):
        # Without the state, a file no older than the newest listed may await a digest.
        awaiting = key in pending if pending is not None else _stamp(key) >= newest
        if awaiting:
            report.not_yet_digested.append(key)
        else:
            report.problems.append(f"log file inserted: {key} (listed in no digest)")


def _log_hash(stored: bytes, legacy: bool) -> str:
    """A log file's hash as its digest computed it: of the gzipped bytes (legacy) or,
    as CloudTrail, of the content; a file that is no longer gzip hashes to nothing."""
    if legacy:
        return digests.sha256_hex(stored)
    try:
        return digests.content_hash(stored)
    except AuditError:
        return "(not gzip)"


def _stamp(key: str) -> str:
    """The delivery time in a log file name (``…_20240101T1200Z_unique.json.gz``)."""
    parts = key.rsplit("/", 1)[-1].split("_")
    return parts[-2] if len(parts) >= 2 else ""
