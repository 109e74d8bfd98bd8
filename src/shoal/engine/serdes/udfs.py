"""The Python functions DuckDB calls to read SerDe lines, registered per connection.

``__shoal_json_rows(line, spec)`` -> ``VARCHAR[]``: the JSON text of each record
the line holds; ``__shoal_text_fields(line, spec)`` -> ``VARCHAR[]``: the line's
fields in column order, NULL for a line that does not match. ``spec`` is a
``ReaderSpec`` as JSON; a reader is built once per spec (and engine process).

They take and return Arrow arrays (one call per vector of lines). User SQL may not call
them (``dialect.DENIED_FUNCTIONS``): only the scans shoal writes do.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import duckdb
import duckdb.func as func
import duckdb.sqltypes as sqltypes
import pyarrow as pa

from shoal.catalog.types import parse_type
from shoal.engine.serdes import ReaderSpec
from shoal.engine.serdes.grok import compile_grok, custom_patterns
from shoal.engine.serdes.json_rows import JsonOptions, JsonRows
from shoal.engine.serdes.text_rows import EscapedFields, Fields, GrokFields, RegexFields

JSON_ROWS = "__shoal_json_rows"
TEXT_FIELDS = "__shoal_text_fields"
_LIST = pa.list_(pa.string())


class _FieldReader(Protocol):
    def fields(self, line: str | None) -> Fields: ...


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make the functions available to every cursor of ``con``."""
    for name, function in ((JSON_ROWS, _json_rows), (TEXT_FIELDS, _text_fields)):
        con.create_function(
            name,
            function,
            [sqltypes.VARCHAR, sqltypes.VARCHAR],
            duckdb.list_type(sqltypes.VARCHAR),
            type=func.ARROW,
            null_handling=func.SPECIAL,  # a NULL (blank) line is the readers' to judge
            side_effects=False,
        )


def _json_rows(lines: pa.Array, specs: pa.Array) -> pa.Array:
    reader = json_reader(_spec(specs))
    return pa.array([reader.rows(line) for line in lines.to_pylist()], type=_LIST)


def _text_fields(lines: pa.Array, specs: pa.Array) -> pa.Array:
    reader = text_reader(_spec(specs))
    return pa.array([reader.fields(line) for line in lines.to_pylist()], type=_LIST)


def _spec(specs: pa.Array) -> str:
    # The spec is a literal: every row of the vector holds the same text.
    return str(specs[0].as_py()) if len(specs) else '["json",[],[]]'


@functools.lru_cache(maxsize=256)
def json_reader(spec_text: str) -> JsonRows:
    """The JSON/CloudTrail reader a spec describes."""
    spec = ReaderSpec.from_json(spec_text)
    params = spec.params
    options = JsonOptions(
        case_insensitive=_flag(params.get("case.insensitive"), default=True),
        dots_in_keys=_flag(params.get("dots.in.keys"), default=False),
        ignore_malformed=_flag(params.get("ignore.malformed.json"), default=False),
        mapping={
            k.removeprefix("mapping."): v
            for k, v in params.items()
            if "." in k and k.startswith("mapping.")
        },  # fmt: skip
        records_key="Records" if spec.kind == "cloudtrail" else None,
    )
    return JsonRows([(name, parse_type(t)) for name, t in spec.columns], options)


@functools.lru_cache(maxsize=256)
def text_reader(spec_text: str) -> _FieldReader:
    """The regex/grok/escaped-delimiter reader a spec describes."""
    spec = ReaderSpec.from_json(spec_text)
    params = spec.params
    names = [name for name, _ in spec.columns]
    if spec.kind == "regex":
        return RegexFields(
            params.get("input.regex", ""),
            len(names),
            _flag(params.get("input.regex.case.insensitive"), default=False),
        )
    if spec.kind == "grok":
        custom = custom_patterns(params.get("input.grokCustomPatterns", ""))
        return GrokFields(compile_grok(params.get("input.format", ""), custom), names)
    return EscapedFields(params["field.delim"], params["escape.delim"])


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() == "true"
