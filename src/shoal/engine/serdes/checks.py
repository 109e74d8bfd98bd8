"""What CREATE TABLE checks of a line-read SerDe's parameters, so that a table that
could never be read is refused when it is declared, with the reason."""

from __future__ import annotations

from collections.abc import Mapping

from shoal.engine.serdes import GROK, REGEX, REGEX_CONTRIB
from shoal.engine.serdes.grok import compile_grok, custom_patterns
from shoal.engine.serdes.text_rows import RegexFields
from shoal.errors import InvalidInputError


def check_serde_parameters(serde: str, params: Mapping[str, str]) -> None:
    """Raise InvalidInputError for a missing or unreadable regex or grok expression."""
    if serde in (REGEX, REGEX_CONTRIB):
        if not params.get("input.regex"):
            raise InvalidInputError("RegexSerDe needs the SerDe property 'input.regex'")
        RegexFields(params["input.regex"], 0)
    elif serde == GROK:
        if not params.get("input.format"):
            raise InvalidInputError("GrokSerDe needs the SerDe property 'input.format'")
        compile_grok(
            params["input.format"], custom_patterns(params.get("input.grokCustomPatterns", ""))
        )
