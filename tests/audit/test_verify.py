"""``verify_trail`` passes on an untouched trail and names each kind of tampering."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shoal.audit import digest as digests
from shoal.audit.verify import VerifyReport, verify_trail

from .conftest import ACCOUNT, BUCKET, REGION, TrailEnv, s3_record


@pytest.fixture
def trail_env(env: TrailEnv) -> TrailEnv:
    """A trail of 4 digests over 5 log files (one digest lists two), plus one log
    file delivered after the last digest."""
    trail = env.trail(digest_every=100)
    start = datetime(2024, 5, 6, 12, tzinfo=UTC)
    for index in range(6):
        trail.append(s3_record("alice", start + timedelta(minutes=index), key=f"k{index}"))
        trail.journal.rotate()  # segments get distinct delivery times
        if index in (0, 2, 3, 4):
            trail.roll(force_digest=True)
    trail.roll()
    trail.close()
    return env


def check(env: TrailEnv, with_state: bool = True) -> VerifyReport:
    key = digests.load_public_key(env.data / digests.KEY_FILE)
    state = digests.DigestState.load(env.data / "audit" / "state.json") if with_state else None
    return verify_trail(env.storage, env.layout, key, state)


def test_an_untouched_trail_verifies(trail_env: TrailEnv) -> None:
    report = check(trail_env)
    assert report.problems == []
    assert report.digests == 4 and report.log_files == 6
    assert len(report.not_yet_digested) == 1
    assert check(trail_env, with_state=False).problems == []


def listed_logs(env: TrailEnv) -> list[str]:
    return sorted(set(env.log_keys()) - set(check(env).not_yet_digested))


def edit_log(env: TrailEnv) -> str:
    key = listed_logs(env)[1]
    data = bytearray(env.storage.read(BUCKET, key))
    data[-12] ^= 0x01
    env.storage.put(BUCKET, key, bytes(data))
    return f"log file edited: {key}"


def delete_log(env: TrailEnv) -> str:
    key = listed_logs(env)[2]
    env.storage.delete(BUCKET, key)
    return f"log file deleted: {key}"


def insert_log(env: TrailEnv) -> str:
    first = listed_logs(env)[0]
    key = first[: -len("0123456789abcdef.json.gz")] + "0123456789abcdef.json.gz"
    forged = s3_record("mallory", datetime(2024, 5, 6, 12, tzinfo=UTC))
    env.storage.put(BUCKET, key, gzip.compress(json.dumps(forged).encode() + b"\n"))
    return f"log file inserted: {key}"


def reorder_logs(env: TrailEnv) -> str:
    a, b = listed_logs(env)[1:3]
    data_a, data_b = env.storage.read(BUCKET, a), env.storage.read(BUCKET, b)
    env.storage.put(BUCKET, a, data_b)
    env.storage.put(BUCKET, b, data_a)
    return f"log file reordered: {a} holds the content of {b}"


def delete_middle_digest(env: TrailEnv) -> str:
    key = env.digest_keys()[1]
    env.storage.delete(BUCKET, key)
    return f"digest missing: {key}"


def delete_last_digest(env: TrailEnv) -> str:
    key = env.digest_keys()[-1]
    env.storage.delete(BUCKET, key)
    return f"digest missing: {key} (the last digest written)"


def edit_digest(env: TrailEnv) -> str:
    key = env.digest_keys()[0]
    document = json.loads(gzip.decompress(env.storage.read(BUCKET, key)))
    document["logFiles"][0]["hashValue"] = "0" * 64  # hide an edit of its log file
    _, meta = env.storage.head(BUCKET, key)  # the signature kept, as a copy would
    env.storage.put(BUCKET, key, gzip.compress(json.dumps(document).encode()), meta)
    return f"digest signature invalid: {key}"


def strip_signature(env: TrailEnv) -> str:
    key = env.digest_keys()[1]
    env.storage.put(BUCKET, key, env.storage.read(BUCKET, key))  # metadata gone
    return f"digest signature missing: {key}"


TAMPERING: dict[str, Callable[[TrailEnv], str]] = {
    "edit a log file": edit_log,
    "delete a log file": delete_log,
    "insert a log file": insert_log,
    "reorder log files": reorder_logs,
    "delete a digest": delete_middle_digest,
    "delete the last digest": delete_last_digest,
    "edit a digest": edit_digest,
    "strip a digest's signature": strip_signature,
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_is_named(trail_env: TrailEnv, kind: str) -> None:
    expected = TAMPERING[kind](trail_env)
    problems = check(trail_env).problems
    assert any(p.startswith(expected) for p in problems), problems


def test_a_digest_signed_by_another_key_is_refused(trail_env: TrailEnv) -> None:
    (trail_env.data / digests.KEY_FILE).unlink()
    other = digests.load_signing_key(trail_env.data)  # a new key: old digests do not verify
    report = verify_trail(trail_env.storage, trail_env.layout, other.public_key())
    assert sum("unknown key" in p for p in report.problems) == 4


def test_the_chain_continues_across_trails(trail_env: TrailEnv) -> None:
    trail = trail_env.trail()
    trail.append(s3_record("bob"))
    assert trail.roll(force_digest=True).digest is not None
    trail.close()
    report = check(trail_env)
    assert report.problems == [] and report.digests == 5 and report.not_yet_digested == []


DIGEST_KEY = re.compile(
    rf"^AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/\d{{4}}/\d{{2}}/\d{{2}}/"
    rf"{ACCOUNT}_CloudTrail-Digest_{REGION}_shoal_{REGION}_\d{{8}}T\d{{6}}Z\.json\.gz$"
)
DIGEST_FIELDS = {
    "awsAccountId", "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
    "digestPublicKeyFingerprint", "digestSignatureAlgorithm", "newestEventTime",
    "oldestEventTime", "previousDigestS3Bucket", "previousDigestS3Object",
    "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature",
    "logFiles",
}  # fmt: skip
LOG_FILE_FIELDS = {
    "s3Bucket", "s3Object", "hashValue", "hashAlgorithm", "newestEventTime", "oldestEventTime"
}  # fmt: skip


def test_digests_are_cloudtrail_digests_signed_as_cloudtrail_signs(trail_env: TrailEnv) -> None:
    """Checked by the rules of AWS's "custom implementation of log file integrity
    validation", written out here rather than taken from shoal's verifier."""
    public = digests.load_public_key(trail_env.data / digests.PUBLIC_KEY_FILE)
    previous: tuple[str, str, str] | None = None  # key, SHA-256 of content, signature
    for key in trail_env.digest_keys():  # names sort by end time
        assert DIGEST_KEY.match(key), key
        content = gzip.decompress(trail_env.storage.read(BUCKET, key))
        document = json.loads(content)
        assert set(document) == DIGEST_FIELDS
        assert document["digestS3Object"] == key and document["awsAccountId"] == ACCOUNT
        stamp = key.rsplit("_", 1)[1][: -len(".json.gz")]
        assert stamp == document["digestEndTime"].replace("-", "").replace(":", "")
        for entry in document["logFiles"]:
            assert set(entry) == LOG_FILE_FIELDS
            stored = trail_env.storage.read(BUCKET, entry["s3Object"])
            assert entry["hashValue"] == hashlib.sha256(gzip.decompress(stored)).hexdigest()
        signature = trail_env.storage.head(BUCKET, key)[1].user["signature"]
        if previous is None:
            assert document["previousDigestSignature"] is None
        else:
            assert document["previousDigestS3Object"] == previous[0]
            assert document["previousDigestHashValue"] == previous[1]
            assert document["previousDigestSignature"] == previous[2]
        signed = "\n".join(
            [
                document["digestEndTime"],
                f"{BUCKET}/{key}",
                hashlib.sha256(content).hexdigest(),
                document["previousDigestSignature"] or "null",
            ]
        )
        public.verify(bytes.fromhex(signature), signed.encode())  # raises if not
        previous = (key, hashlib.sha256(content).hexdigest(), signature)
    assert previous is not None


def test_a_legacy_trail_still_verifies_and_its_chain_goes_on(env: TrailEnv) -> None:
    """A digest of shoal before CloudTrail's format (signature inside the document,
    hashes of the gzipped bytes) keeps verifying; the next digest chains to it."""
    key = digests.load_signing_key(env.data)
    log_key = f"{env.layout.day_folder('2024-05-06')}{ACCOUNT}_CloudTrail_{REGION}_20240506T1200Z_"
    log_key += "00000000000000aa.json.gz"
    stored = gzip.compress(json.dumps({"eventversion": "1.08"}).encode() + b"\n", mtime=0)
    env.storage.create_bucket(BUCKET)
    env.storage.put(BUCKET, log_key, stored)
    legacy_key = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2024/05/06/legacy_00000001.json.gz"
    document = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2024-05-06T12:00:00Z",
        "digestEndTime": "2024-05-06T12:00:00Z",
        "digestS3Bucket": BUCKET,
        "digestS3Object": legacy_key,
        "digestSequence": 1,
        "digestPublicKeyFingerprint": digests.fingerprint(key.public_key()),
        "previousDigestS3Object": None,
        "logFiles": [{"s3Object": log_key, "hashValue": hashlib.sha256(stored).hexdigest()}],
    }
    document["digestSignature"] = key.sign(digests.canonical(document)).hex()
    legacy_stored = gzip.compress(json.dumps(document).encode())
    env.storage.put(BUCKET, legacy_key, legacy_stored)
    state = digests.DigestState(
        previous={
            "s3Object": legacy_key,
            "hashValue": hashlib.sha256(legacy_stored).hexdigest(),
            "signature": document["digestSignature"],
            "digestEndTime": "2024-05-06T12:00:00Z",
        },
        sequence=1,
    )
    (env.data / "audit").mkdir(exist_ok=True)
    state.save(env.data / "audit" / "state.json")
    trail = env.trail()
    trail.append(s3_record("bob", datetime(2024, 5, 6, 12, tzinfo=UTC)))  # same second
    assert trail.roll(force_digest=True).digest is not None
    trail.close()
    report = check(env)
    assert report.problems == [] and report.digests == 2
    newest = json.loads(gzip.decompress(env.storage.read(BUCKET, env.digest_keys()[0])))
    assert newest["previousDigestS3Object"] == legacy_key
    assert newest["digestEndTime"] == "2024-05-06T12:00:01Z"  # a second past the legacy end
