"""The one exception hierarchy of shoal.

Every error knows the AWS error code and HTTP status it maps to, so the API layer
can render it in the shape the calling protocol expects, and the CLI can print it
as one line.
"""

from __future__ import annotations


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


class QueryCancelledError(ShoalError):
    """The query was cancelled (by a caller or a time limit) before it finished."""

    code = "QueryCancelledException"
    status = 400
