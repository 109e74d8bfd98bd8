"""Which operation a REST-style request names, from a botocore model's HTTP bindings.

The REST protocols (rest-json: Athena since botocore 1.44.18; rest-xml: S3) give each
operation a method and a URI template (``GET /query-executions/{QueryExecutionId}``,
``PUT /{Bucket}/{Key+}``). Several operations may share one: S3's PutObject and
CopyObject, UploadPart and UploadPartCopy, GetObject and ListParts. The model tells
them apart too: a template's own query part (``?uploads``) and the members an
operation *requires* in the query string (``uploadId``) or in headers
(``x-amz-copy-source``) must all be present. Of the templates a request satisfies, the
one requiring the most such keys wins, then the one with the most literal characters.

``x-id`` (``?x-id=GetObject`` in newer S3 models) is ignored: botocore drops it from
what it sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import ServiceModel

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")
_IGNORED_QUERY_KEYS = frozenset({"x-id"})


@dataclass(frozen=True)
class Match:
    """The operation a request's method and path name, with its URI labels."""

    operation: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class _Template:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query_keys: frozenset[str]  # required in the query string
    header_names: frozenset[str]  # required headers (lowercase)
    literal_length: int

    @property
    def rank(self) -> tuple[int, int]:
        return (len(self.query_keys) + len(self.header_names), self.literal_length)


class Routes:
    """Every operation's URI template of one REST service model."""

    def __init__(self, model: ServiceModel) -> None:
        templates = [_template(model, name) for name in model.operation_names]
        # Most demanding first, so the first template a request satisfies is the best.
        self._templates = sorted(templates, key=lambda t: t.rank, reverse=True)

    def match(
        self,
        method: str,
        raw_path: str,
        query_keys: Iterable[str],
        header_names: Iterable[str] = (),
    ) -> Match | None:
        """The operation a request names, or None when no template matches.

        ``header_names`` are the request's header names, lowercase.
        """
        keys, headers = set(query_keys), set(header_names)
        for template in self._templates:
            if template.method != method or not template.query_keys <= keys:
                continue
            if not template.header_names <= headers:
                continue
            found = template.pattern.fullmatch(raw_path)
            if found is not None:
                values = (unquote(value) for value in found.groups())
                return Match(template.operation, dict(zip(template.labels, values, strict=True)))
        return None


def _template(model: ServiceModel, operation: str) -> _Template:
    operation_model = model.operation_model(operation)
    path, _, query = operation_model.http["requestUri"].partition("?")
    labels: list[str] = []
    pattern, literal, position = [], 0, 0
    for label in _LABEL.finditer(path):
        text = path[position : label.start()]
        pattern.append(re.escape(text))
        literal += len(text)
        labels.append(label.group(1))
        pattern.append("(.+)" if label.group(2) else "([^/]+)")
        position = label.end()
    pattern.append(re.escape(path[position:]))
    literal += len(path) - position
    keys = {part.partition("=")[0] for part in query.split("&") if part}
    headers: set[str] = set()
    shape = operation_model.input_shape
    if shape is not None:
        for name in shape.required_members:
            serialization = shape.members[name].serialization
            wire_name = serialization.get("name", name)
            if serialization.get("location") == "querystring":
                keys.add(wire_name)
            elif serialization.get("location") == "header":
                headers.add(wire_name.lower())
    return _Template(
        operation,
        operation_model.http["method"],
        re.compile("".join(pattern)),
        tuple(labels),
        frozenset(keys - _IGNORED_QUERY_KEYS),
        frozenset(headers),
        literal,
    )
