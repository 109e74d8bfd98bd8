"""Intents: the record an S3 object write owes, written before the write.

A request's record is journaled once it has been answered; an S3 PutObject,
CopyObject or DeleteObject changes the lake before that, so a ``kill -9`` between the
two would leave a change no record tells of. So such a request first journals an
intent (who, what, when, which process), and its record carries a done marker for
it, in the same write. A roll (at the next start, or ``shoal audit flush``) reconciles
every intent left without its marker by a process that is gone: it looks at the
object itself, and if the write took effect (the object is there, written at or
after the intent; or gone, for a delete) the request completed, and its record is
journaled now, marked ``"reconciled": true`` in ``additionalEventData``. An intent
whose effect is absent is dropped: that request never completed. Intents of live
processes wait (in the trail state) for their marker.

Intent lines have no ``eventTime``, so readers of records never see them.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from shoal.errors import NoSuchBucketError, NoSuchKeyError
from shoal.storage.base import Storage

INTENT = "shoalIntent"
DONE = "shoalIntentDone"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# A stored object's time may be truncated to the second by the storage.
CLOCK_SLACK = timedelta(seconds=1)
WRITES = ("PutObject", "CopyObject")


@dataclass(frozen=True)
class Intent:
    """An S3 object write about to happen (the facts its record is built from)."""

    id: str
    time: str  # TIME_FORMAT, UTC
    owner: str  # host:pid of the process that will answer it
    operation: str  # PutObject | CopyObject | DeleteObject
    method: str
    path: str  # raw, path-style: /bucket/key
    query: tuple[tuple[str, str], ...]
    access_key_id: str | None

    @property
    def moment(self) -> datetime:
        return datetime.strptime(self.time, TIME_FORMAT).replace(tzinfo=UTC)

    @property
    def bucket_and_key(self) -> tuple[str, str]:
        bucket, _, key = self.path.lstrip("/").partition("/")
        return unquote(bucket), unquote(key)


def new_intent(
    request_id: str,
    operation: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    access_key_id: str | None,
) -> Intent:
    """An intent of this process, now."""
    return Intent(
        id=request_id,
        time=datetime.now(UTC).strftime(TIME_FORMAT),
        owner=owner_token(),
        operation=operation,
        method=method,
        path=path,
        query=tuple((str(k), str(v)) for k, v in query),
        access_key_id=access_key_id,
    )


def owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the process that wrote an intent may still answer it."""
    host, _, pid = owner.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: it cannot share this journal
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def intent_line(intent: Intent) -> bytes:
    return json.dumps({INTENT: asdict(intent)}, separators=(",", ":")).encode() + b"\n"


def done_line(intent_id: str) -> bytes:
    return json.dumps({DONE: intent_id}, separators=(",", ":")).encode() + b"\n"


def from_dict(data: dict[str, Any]) -> Intent:
    fields = dict(data)
    fields["query"] = tuple(tuple(pair) for pair in fields.get("query") or ())
    return Intent(**fields)


def read_intents(path: Path) -> tuple[dict[str, Intent], set[str]]:
    """The intents a journal file opens and the ids it marks done."""
    opened: dict[str, Intent] = {}
    done: set[str] = set()
    for line in path.read_bytes().splitlines():
        if b"shoalIntent" not in line:
            continue
        try:
            value = json.loads(line)
            if INTENT in value:
                intent = from_dict(value[INTENT])
                opened[intent.id] = intent
            elif isinstance(value.get(DONE), str):
                done.add(value[DONE])
        except (ValueError, TypeError, AttributeError):
            continue  # a torn line: its request was never answered
    return opened, done


def took_effect(intent: Intent, storage: Storage) -> bool:
    """Whether the write ``intent`` announced is in the lake."""
    bucket, key = intent.bucket_and_key
    try:
        info = storage.stat(bucket, key)
    except (NoSuchKeyError, NoSuchBucketError):
        return intent.operation == "DeleteObject"
    if intent.operation not in WRITES:
        return False
    return info.mtime + CLOCK_SLACK >= intent.moment
