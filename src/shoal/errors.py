"""The one exception hierarchy of shoal.

Every error knows the AWS error code and HTTP status it maps to, so the API layer
can render it in the shape the calling protocol expects, and the CLI can print it
as one line.
"""

from __future__ import annotations

import errno

# What a full disk or an exhausted quota says, from the kernel or from SQLite.
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_TEXT = "database or disk is full"


class ShoalError(Exception):
    """Root of every error shoal raises on purpose."""

    code: str = "InternalFailure"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(ShoalError):
    """The caller sent something malformed: a bad name, key, type or expression."""

    code = "InvalidInputException"
    status = 400


class InvalidNameError(InvalidInputError):
    """A database, table, column, bucket or object name breaks the naming rules."""


class InvalidKeyError(InvalidInputError):
    """An object key that is unsafe (escapes its bucket) or malformed."""

    code = "InvalidKey"


class InvalidBucketNameError(InvalidInputError):
    code = "InvalidBucketName"


class InvalidRangeError(InvalidInputError):
    code = "InvalidRange"
    status = 416


class EntityNotFoundError(ShoalError):
    """A catalog entity (database, table, partition, crawler, run) does not exist."""

    code = "EntityNotFoundException"
    status = 400


class NoSuchBucketError(ShoalError):
    code = "NoSuchBucket"
    status = 404


class NoSuchKeyError(ShoalError):
    code = "NoSuchKey"
    status = 404


class AlreadyExistsError(ShoalError):
    code = "AlreadyExistsException"
    status = 400


class BucketNotEmptyError(ShoalError):
    code = "BucketNotEmpty"
    status = 409


class ConcurrentModificationError(ShoalError):
    code = "ConcurrentModificationException"
    status = 400


class CrawlerRunningError(ShoalError):
    code = "CrawlerRunningException"
    status = 400


class StorageError(ShoalError):
    """The storage backend failed in a way the caller cannot fix (I/O, network)."""

    code = "InternalError"
    status = 500


class InsufficientStorageError(ShoalError):
    """The disk (or quota) holding the data folder is full: nothing was written.

    A deliberate answer, not a crash: S3 and the JSON services both get
    ``InsufficientStorage`` with status 507, and the server goes on serving reads.
    """

    code = "InsufficientStorage"
    status = 507


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full."""
    seen = 0
    while exc is not None and seen < 10:  # a chain, bounded in case it loops
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(exc, InsufficientStorageError) or _DISK_FULL_TEXT in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


DISK_FULL_MESSAGE = (
    "The server's disk is full: nothing was written. Free space in the data folder "
    "and try again; reads are still served."
)


class ConfigError(ShoalError):
    """Configuration is invalid: a bad value, file or environment variable."""

    code = "InvalidConfiguration"
    status = 400


# --- SQL and query execution (engine/) ---


class SqlSyntaxError(InvalidInputError):
    """The SQL text does not parse; the message names the line and column."""

    code = "InvalidRequestException"

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class UnsupportedSqlError(SqlSyntaxError):
    """The SQL parses but uses a construct shoal cannot run with Athena's meaning."""


class AccessDeniedError(ShoalError):
    """The statement tried to reach something it may not: a file, a setting, an extension."""

    code = "AccessDeniedException"
    status = 403


class QueryFailedError(InvalidInputError):
    """The engine rejected or failed the query (unknown column, bad cast, …)."""

    code = "InvalidRequestException"


class EngineUnavailableError(ShoalError):
    """A query engine outside shoal (a Spark Connect server) does not answer: the query
    failed, and the same query may succeed once the engine is back (Athena's
    retryable system error)."""

    code = "ServiceUnavailable"
    status = 503


class QueryCancelledError(ShoalError):
    """The query was cancelled (by a caller or a time limit) before it finished."""

    code = "QueryCancelledException"
    status = 400


# --- statements (queries/runner.py and its handlers) ---


class TableNotFoundError(EntityNotFoundError):
    """A statement names a table (or view) that is not in the catalog.

    The message follows Athena's: ``TABLE_NOT_FOUND: line 1:15: Table
    'awsdatacatalog.db.t' does not exist`` (``SCHEMA_NOT_FOUND`` for a database).
    """


class BytesScannedCutoffError(QueryCancelledError):
    """The query read past its per-query bytes-scanned cutoff and was cancelled.

    ``bytes_scanned`` is what it had read when stopped (Athena charges for it).
    """

    def __init__(self, limit: int, bytes_scanned: int) -> None:
        super().__init__(
            "Query cancelled: bytes scanned limit was exceeded "
            f"(read {bytes_scanned} bytes; the per-query data usage control limit is "
            f"{limit} bytes)"
        )
        self.limit = limit
        self.bytes_scanned = bytes_scanned


class TargetNotEmptyError(InvalidInputError):
    """CTAS or UNLOAD would write into a location that already holds objects.

    Athena fails with ``HIVE_PATH_ALREADY_EXISTS`` rather than mixing files.
    """


# --- Athena query service (queries/) ---


class InvalidRequestError(ShoalError):
    """Athena's catch-all for a request it refuses (unknown id, disabled workgroup, …)."""

    code = "InvalidRequestException"
    status = 400


class QueryExecutionNotFoundError(InvalidRequestError):
    """No query execution has that id (Athena answers InvalidRequestException)."""


class WorkGroupNotFoundError(InvalidRequestError):
    """No workgroup has that name."""


class WorkGroupDisabledError(InvalidRequestError):
    """The workgroup is DISABLED: it accepts no new queries."""


class ResourceNotFoundError(ShoalError):
    """A named query or prepared statement does not exist (Athena's ResourceNotFound)."""

    code = "ResourceNotFoundException"
    status = 400


class IdempotentParameterMismatchError(InvalidRequestError):
    """A ClientRequestToken was reused with a different request."""

    code = "IdempotentParameterMismatchException"


# --- identities and request authentication (auth/, api/sigv4.py) ---


class NoSuchEntityError(ShoalError):
    """A user or access key does not exist (IAM's NoSuchEntity)."""

    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExistsError(ShoalError):
    """A user of that name already exists (IAM's EntityAlreadyExists)."""

    code = "EntityAlreadyExists"
    status = 409


class AuthenticationError(ShoalError):
    """A request could not be authenticated; nothing was done on its behalf.

    Each protocol names the same failure differently (S3 ``SignatureDoesNotMatch``,
    JSON services ``InvalidSignatureException``, STS ``SignatureDoesNotMatch``):
    ``codes`` maps a protocol (``"s3"``, ``"json"``, ``"query"``) to its code, and
    ``code`` is the S3 one.
    """

    code = "AccessDenied"
    status = 403
    codes: dict[str, str] = {}

    def code_for(self, protocol: str) -> str:
        """The error code this failure has in ``protocol``."""
        return self.codes.get(protocol, self.code)


class MissingAuthenticationError(AuthenticationError):
    code = "AccessDenied"
    codes = {"json": "MissingAuthenticationTokenException", "query": "MissingAuthenticationToken"}


class IncompleteSignatureError(AuthenticationError):
    """The Authorization header or presigned query is malformed."""

    code = "AuthorizationHeaderMalformed"
    status = 400
    codes = {"json": "IncompleteSignatureException", "query": "IncompleteSignature"}


class InvalidAccessKeyIdError(AuthenticationError):
    """The access key is unknown, or it or its user is disabled."""

    code = "InvalidAccessKeyId"
    codes = {"json": "UnrecognizedClientException", "query": "InvalidClientTokenId"}


class SignatureMismatchError(AuthenticationError):
    code = "SignatureDoesNotMatch"
    codes = {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch"}


class RequestTimeTooSkewedError(AuthenticationError):
    code = "RequestTimeTooSkewed"
    codes = {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch"}


class RequestExpiredError(AuthenticationError):
    """A presigned URL past its expiry (or not yet valid)."""

    code = "AccessDenied"
    codes = {"json": "InvalidSignatureException", "query": "ExpiredToken"}


class ContentHashMismatchError(AuthenticationError):
    """The body does not hash to the x-amz-content-sha256 the request signed."""

    code = "XAmzContentSHA256Mismatch"
    status = 400
    codes = {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch"}


# --- crawlers (Glue API) ---


class CrawlerNotRunningError(ShoalError):
    """StopCrawler on a crawler that is not running."""

    code = "CrawlerNotRunningException"
    status = 400


class CrawlerStoppingError(ShoalError):
    """StopCrawler on a crawler that is already stopping."""

    code = "CrawlerStoppingException"
    status = 400


class NoScheduleError(ShoalError):
    """StartCrawlerSchedule on a crawler without a schedule."""

    code = "NoScheduleException"
    status = 400


class SchedulerRunningError(ShoalError):
    """StartCrawlerSchedule on a schedule that is running already."""

    code = "SchedulerRunningException"
    status = 400


class SchedulerNotRunningError(ShoalError):
    """StopCrawlerSchedule on a schedule that is paused, or on no schedule."""

    code = "SchedulerNotRunningException"
    status = 400


# --- governance: policies and role mappings (auth/) ---


class MalformedPolicyDocumentError(InvalidInputError):
    """A policy document is not valid IAM policy JSON (IAM's MalformedPolicyDocument)."""

    code = "MalformedPolicyDocument"


# --- Athena metadata calls (api/athena.py) ---


class MetadataError(ShoalError):
    """Athena's MetadataException: the data catalog, database or table that a metadata
    call (GetDatabase, GetTableMetadata, ListTableMetadata …) names does not exist."""

    code = "MetadataException"
    status = 400


# --- audit trail (audit/) ---


class AuditError(ShoalError):
    """The audit trail cannot be written or read (journal, signing key, state)."""

    code = "AuditFailure"
    status = 500


class AuditStorageFullError(AuditError, InsufficientStorageError):
    """The audit journal cannot be written because its disk is full."""

    code = "InsufficientStorage"
    status = 507


# --- governance store and IAM API (auth/store.py, api/iam.py) ---


class DeleteConflictError(ShoalError):
    """A group, role, policy or user still has members or attachments (IAM's DeleteConflict)."""

    code = "DeleteConflict"
    status = 409


class LimitExceededError(ShoalError):
    """Too many policy versions or attachments, or a document too large (IAM's LimitExceeded)."""

    code = "LimitExceeded"
    status = 409


# --- enforcement (auth/enforce.py, api/authorize.py) ---


class NotAuthorizedError(AccessDeniedError):
    """A role's policies do not allow an action on a resource (IAM's AccessDenied).

    Athena and Glue answer it as ``AccessDeniedException`` with HTTP 400, as AWS does;
    S3 and IAM say ``AccessDenied`` with 403 (``api/authorize.py`` translates).
    ``action``, ``resource``, ``role`` and ``role_mapping`` (the mapping that chose
    the role, ``mapping #2 (group analysts)``) are kept for the audit record, and
    ``table`` (``db.table``) when SQL was refused for a table it reads or writes.
    """

    status = 400

    def __init__(
        self,
        message: str,
        action: str,
        resource: str,
        role: str | None,
        role_mapping: str | None = None,
        table: str | None = None,
    ) -> None:
        super().__init__(message)
        self.action = action
        self.resource = resource
        self.role = role
        self.role_mapping = role_mapping
        self.table = table


# --- usage quotas (audit/quotas.py) ---


class QuotaExceededError(InvalidRequestError):
    """A blocking quota on bytes scanned is used up: the query is refused before it runs.

    Athena's InvalidRequestException, not a throttling code: SDKs retry throttling
    errors on their own, and this one lasts until the quota's period ends.
    """

    def __init__(self, message: str, quota: str, usage_bytes: int, limit_bytes: int) -> None:
        super().__init__(message)
        self.quota = quota
        self.usage_bytes = usage_bytes
        self.limit_bytes = limit_bytes
