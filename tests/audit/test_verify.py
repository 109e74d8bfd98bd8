"""``verify_trail`` passes on an untouched trail and names each kind of tampering."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shoal.audit import digest as digests
from shoal.audit.verify import VerifyReport, verify_trail

from .conftest import BUCKET, TrailEnv, s3_record


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
    env.storage.put(BUCKET, key, gzip.compress(json.dumps(document).encode()))
    return f"digest signature invalid: {key}"


TAMPERING: dict[str, Callable[[TrailEnv], str]] = {
    "edit a log file": edit_log,
    "delete a log file": delete_log,
    "insert a log file": insert_log,
    "reorder log files": reorder_logs,
    "delete a digest": delete_middle_digest,
    "delete the last digest": delete_last_digest,
    "edit a digest": edit_digest,
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
