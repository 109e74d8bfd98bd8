"""The audit trail: a durable local journal, rolled into the lake as CloudTrail logs.

Durability: ``append`` returns once its record is written to the append-only journal
``DATA/audit/journal/active.jsonl``, so it survives the process being killed; a
background thread fsyncs the journal within ``journal.SYNC_SECONDS`` (group commit:
every record of that moment shares one sync), which is what an OS crash can lose.

Roll-over: every ``audit_roll_seconds`` (and on ``shoal audit flush``, and when a
trail starts, so records a crash left behind are delivered) the active journal is
renamed to a segment and each segment becomes log files as CloudTrail writes them,
one per event day: a gzipped ``{"Records": [...]}`` document of CloudTrail records,
at CloudTrail's keys::

    s3://BUCKET/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
        ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz

so the CloudTrail table AWS documents for Athena, and any tool that reads CloudTrail
logs, reads shoal's trail.

A segment is deleted only after its log files are stored, its days catalogued and
the digest state records it, so a crash at any point loses nothing, and re-rolling
a segment rewrites the same objects (names and bytes derive from the segment).
Rolls in several processes (the server and ``shoal audit flush``) take turns through
``flock`` and continue one digest chain through ``DATA/audit/state.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoal.audit import digest as digests
from shoal.audit import intents
from shoal.audit.catalog import add_day_partitions, ensure_audit_table
from shoal.audit.journal import (
    SEGMENT_PREFIX,
    Journal,
    encode_record,
    flock,
    read_journal_lines,
)
from shoal.audit.records import ApiCall, Caller, build_record
from shoal.errors import NoSuchBucketError, NoSuchKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shoal.catalog.store import CatalogStore
    from shoal.storage.base import Storage

log = logging.getLogger("shoal.audit")

TRAIL_NAME = "shoal"  # the trail name in digest file names


@dataclass(frozen=True)
class TrailLayout:
    """Where a trail's log and digest files go (CloudTrail's key layout)."""

    bucket: str
    account_id: str
    region: str
    trail_name: str = TRAIL_NAME

    @property
    def account_prefix(self) -> str:
        """The table's location in AWS's documented DDL: ``AWSLogs/ACCOUNT/``."""
        return f"AWSLogs/{self.account_id}/"

    @property
    def log_prefix(self) -> str:
        return f"AWSLogs/{self.account_id}/CloudTrail/{self.region}/"

    @property
    def digest_prefix(self) -> str:
        return f"AWSLogs/{self.account_id}/CloudTrail-Digest/{self.region}/"

    def day_folder(self, day: str) -> str:
        """The folder of day ``YYYY-MM-DD``: ``…/YYYY/MM/DD/``."""
        return self.log_prefix + day.replace("-", "/") + "/"

    def log_key(self, day: str, stamp: str, unique: str) -> str:
        name = f"{self.account_id}_CloudTrail_{self.region}_{stamp}_{unique}.json.gz"
        return self.day_folder(day) + name

    def digest_key(self, end_time: str) -> str:
        """``…/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_TIME.json.gz``."""
        moment = datetime.strptime(end_time, "%Y-%m-%dT%H:%M:%SZ")
        folder = self.digest_prefix + moment.strftime("%Y/%m/%d/")
        stamp = moment.strftime("%Y%m%dT%H%M%SZ")
        name = f"{self.account_id}_CloudTrail-Digest_{self.region}_{self.trail_name}_{self.region}"
        return f"{folder}{name}_{stamp}.json.gz"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def log_document(records: list[dict[str, Any]]) -> bytes:
    """A log file's content as CloudTrail writes it: ``{"Records": [...]}``."""
    return json.dumps({"Records": records}, separators=(",", ":"), default=str).encode()


def read_log_records(stored: bytes) -> list[dict[str, Any]]:
    """The records of a stored (gzipped) log file; raises ValueError if it is none."""
    document = json.loads(gzip.decompress(stored))
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise ValueError("not a CloudTrail log file (no Records array)")
    return [r for r in records if isinstance(r, dict)]


@dataclass
class RollSummary:
    """What one roll delivered."""

    records: int = 0
    log_files: list[str] = field(default_factory=list)
    digest: str | None = None


class AuditTrail:
    """The audit trail of one shoal data folder.

    Args:
        storage: Where log and digest files are delivered.
        catalog: Where the audit table and its partitions are registered.
        data_path: The data folder (journal, state and signing key live here).
        layout: Bucket, account and region of the trail.
        digest_every: Write a digest once this many log files await one.
        digest_seconds: … or once the oldest awaits this long.
        roll_seconds: Interval of the background roll (``start``).
        callers: Who signs with an access key id, for the records of requests
            reconciled after a crash (``audit.intents``); unknown without it.
    """

    def __init__(
        self,
        storage: Storage,
        catalog: CatalogStore,
        data_path: Path,
        layout: TrailLayout,
        digest_every: int = 12,
        digest_seconds: float = 3600,
        roll_seconds: float = 300,
        callers: Callable[[str], Caller | None] | None = None,
    ) -> None:
        self.storage = storage
        self.callers = callers or (lambda _key: None)
        self.catalog = catalog
        self.layout = layout
        self.folder = data_path / "audit"
        self.journal = Journal(self.folder / "journal")
        self.state_path = self.folder / "state.json"
        self.data_path = data_path
        self.digest_every = digest_every
        self.digest_seconds = digest_seconds
        self.roll_seconds = roll_seconds
        self._key: Ed25519PrivateKey | None = None
        self._catalogued: set[str] = set()  # days this trail has registered
        self._stop = threading.Event()
        self._roller: threading.Thread | None = None

    # -- appending

    def append(self, record: dict[str, Any], done: str | None = None) -> None:
        """Append ``record``: written (safe from a process kill) when this returns, on
        disk within the journal's ``sync_seconds``. ``done`` names the intent the
        record settles (in the same write). Raises AuditError.

        Cheap enough (one ``write``) to call from the event loop.
        """
        line = encode_record(record)
        self.journal.append(line + intents.done_line(done) if done else line)

    def begin(self, intent: intents.Intent) -> None:
        """Journal ``intent`` before the write it announces (see ``audit.intents``).
        Raises AuditError."""
        self.journal.append(intents.intent_line(intent))

    def sync(self) -> None:
        """Return once every record appended so far is on disk."""
        self.journal.sync()

    # -- rolling into the lake

    def roll(self, force_digest: bool = False) -> RollSummary:
        """Deliver every journaled record to the lake; digest if one is due."""
        summary = RollSummary()
        with flock(self.folder / "roll.lock"):
            state = digests.DigestState.load(self.state_path)
            self._recover_digest(state)
            segments = self.journal.rotate()
            if self._reconcile(segments, state):
                segments = self.journal.rotate()  # with the records owed
            for segment in segments:
                self._roll_segment(segment, state, summary)
            state.rolled = [t for t in state.rolled if self._segment_exists(t)]
            if state.due(self.digest_every, self.digest_seconds, force_digest):
                summary.digest = self._write_digest(state)
            state.save(self.state_path)
        return summary

    def _reconcile(self, segments: list[Path], state: digests.DigestState) -> int:
        """Journal the records owed for intents a dead process left unsettled (see
        ``audit.intents``); keep live processes' open intents. How many were owed."""
        opened = {i["id"]: intents.from_dict(i) for i in state.open_intents}
        settled: set[str] = set()
        for segment in segments:
            found, done = intents.read_intents(segment)
            if segment.stem[len(SEGMENT_PREFIX) :] not in state.rolled:
                opened.update(found)
            settled |= done
        waiting, owed = [], 0
        for intent in (i for key, i in opened.items() if key not in settled):
            if intents.owner_alive(intent.owner):
                waiting.append(asdict(intent))
            elif intents.took_effect(intent, self.storage):
                self.append(self._reconciled(intent), done=intent.id)
                owed += 1
            else:
                log.info("audit: %s %s never took effect; no record", intent.operation, intent.id)
        state.open_intents = waiting
        return owed

    def _reconciled(self, intent: intents.Intent) -> dict[str, Any]:
        """The record of a request that completed but was never answered."""
        caller = self.callers(intent.access_key_id) if intent.access_key_id else None
        call = ApiCall(
            protocol="s3",
            method=intent.method,
            path=intent.path,
            query=intent.query,
            operation=intent.operation,
            request_id=intent.id,
            event_time=intent.moment,
            region=self.layout.region,
            account_id=self.layout.account_id,
            caller=caller,
            claimed_key_id=None if caller else intent.access_key_id,
            extra={"reconciled": True},
        )
        return build_record(call)

    def _segment_exists(self, token: str) -> bool:
        return (self.journal.folder / f"{SEGMENT_PREFIX}{token}.jsonl").exists()

    def _roll_segment(
        self, segment: Path, state: digests.DigestState, summary: RollSummary
    ) -> None:
        token = segment.stem[len(SEGMENT_PREFIX) :]
        if token not in state.rolled:
            records = read_journal_lines(segment)
            entries = self._deliver(token, records)
            for entry in entries:
                state.add_log_file(entry)
                summary.log_files.append(entry["s3Object"])
            summary.records += len(records)
            state.rolled.append(token)
            state.save(self.state_path)
        segment.unlink()
        digests.fsync_dir(segment.parent)

    def _deliver(self, token: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store one log file per event day of a segment; catalog the days."""
        by_day: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            by_day.setdefault(record["eventTime"][:10], []).append(record)
        stamp = token[:13] + "Z"  # YYYYMMDDTHHMM from the segment's rotation time
        self.storage.create_bucket(self.layout.bucket)
        entries = []
        for day, day_records in sorted(by_day.items()):
            unique = hashlib.sha256(f"{token}/{day}".encode()).hexdigest()[:16]
            key = self.layout.log_key(day, stamp, unique)
            content = log_document(day_records)
            stored = digests.gzip_bytes(content)
            self.storage.put(self.layout.bucket, key, stored)
            times = [r["eventTime"] for r in day_records]
            entries.append(_log_entry(self.layout.bucket, key, content, times))
        self._catalog_days(sorted(by_day))
        return entries

    def _catalog_days(self, days: list[str]) -> None:
        days = [d for d in days if d not in self._catalogued]
        if not days:
            return
        ensure_audit_table(self.catalog, self.layout.uri(self.layout.account_prefix))
        region = self.layout.region
        add_day_partitions(
            self.catalog, [(region, d, self.layout.uri(self.layout.day_folder(d))) for d in days]
        )
        self._catalogued.update(days)

    def _recover_digest(self, state: digests.DigestState) -> None:
        """Adopt the digest a crash stored but did not record, so the chain goes on
        from it instead of forking (digests are deterministic: same state, same key)."""
        if not state.pending:
            return
        _, end = digests.digest_times(state)
        key = self.layout.digest_key(end)
        try:
            stored = self.storage.read(self.layout.bucket, key)
            _, meta = self.storage.head(self.layout.bucket, key)
        except (NoSuchKeyError, NoSuchBucketError):
            return
        signature = meta.user.get(digests.SIGNATURE_META)
        if signature is None:
            return  # stored without its signature: written again
        content = gzip.decompress(stored)
        digests.record_digest(state, json.loads(content), content, signature)
        state.save(self.state_path)

    def _write_digest(self, state: digests.DigestState) -> str:
        if self._key is None:
            self._key = digests.load_signing_key(self.data_path)
        _, end = digests.digest_times(state)
        key = self.layout.digest_key(end)
        fingerprint = digests.fingerprint(self._key.public_key())
        document = digests.build_digest(
            state, fingerprint, self.layout.bucket, key, self.layout.account_id
        )
        content, stored = digests.encode_digest(document)
        signature = digests.sign_digest(self._key, document, content)
        self.storage.put(self.layout.bucket, key, stored, digests.digest_meta(signature))
        digests.record_digest(state, document, content, signature)
        return key

    # -- background rolling

    def start(self) -> None:
        """Roll now (delivering what a crash left behind) and every ``roll_seconds``."""
        if self._roller is None:
            self._roller = threading.Thread(
                target=self._roll_forever, name="audit-roll", daemon=True
            )
            self._roller.start()

    def _roll_forever(self) -> None:
        while True:
            try:
                self.roll()
            except Exception:  # the journal keeps every record; the next roll retries
                log.exception("audit roll-over failed")
            if self._stop.wait(self.roll_seconds):
                return

    def close(self) -> None:
        """Stop rolling and finish writing what is queued (records stay journaled)."""
        self._stop.set()
        if self._roller is not None:
            self._roller.join()
            self._roller = None
        self.journal.close()

    def pending_records(self) -> list[dict[str, Any]]:
        """Records journaled but not yet delivered to the lake, oldest first."""
        files = sorted(self.journal.folder.glob(f"{SEGMENT_PREFIX}*.jsonl"))
        files += [self.journal.path] if self.journal.path.exists() else []
        return [r for path in files for r in read_journal_lines(path)]


def _log_entry(bucket: str, key: str, content: bytes, times: list[str]) -> dict[str, Any]:
    """A digest's ``logFiles`` entry (hash of the uncompressed content, as CloudTrail)."""
    return {
        "s3Bucket": bucket,
        "s3Object": key,
        "hashValue": digests.sha256_hex(content),
        "hashAlgorithm": digests.HASH_ALGORITHM,
        "oldestEventTime": min(times),
        "newestEventTime": max(times),
    }
