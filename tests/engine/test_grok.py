"""Grok expressions compiled to regexes: the standard patterns on the log lines their
documentation (Logstash's, Elastic's grok processor) uses as examples."""

# ruff: noqa: E501  (log lines and patterns kept whole)
from __future__ import annotations

import pytest

from shoal.engine.serdes.grok import compile_grok, custom_patterns
from shoal.errors import InvalidInputError

APACHE = (
    '127.0.0.1 - - [11/Dec/2013:00:01:45 -0800] "GET /xampp/status.php HTTP/1.1" 200 3891 '
    '"http://cadenza/xampp/navi.php" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:25.0) '
    'Gecko/20100101 Firefox/25.0"'
)


def test_combined_apache_log() -> None:
    captures = compile_grok("%{COMBINEDAPACHELOG}").captures(APACHE)
    assert captures is not None
    assert {k: captures[k] for k in (
        "clientip", "ident", "auth", "timestamp", "verb", "request", "httpversion",
        "response", "bytes", "referrer", "agent",
    )} == {
        "clientip": "127.0.0.1", "ident": "-", "auth": "-",
        "timestamp": "11/Dec/2013:00:01:45 -0800", "verb": "GET",
        "request": "/xampp/status.php", "httpversion": "1.1", "response": "200",
        "bytes": "3891", "referrer": '"http://cadenza/xampp/navi.php"',
        "agent": '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:25.0) '
                 'Gecko/20100101 Firefox/25.0"',
    }  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("%{IP:ip}", "client 55.3.244.1 said", "55.3.244.1"),
        ("%{IP:ip}", "2001:db8::ff00:42:8329", "2001:db8::ff00:42:8329"),
        ("%{IP:ip}", "from ::ffff:192.0.2.128 on", "::ffff:192.0.2.128"),
        ("%{NUMBER:n}", "took 0.043 s", "0.043"),
        ("%{INT:n}", "code -42", "-42"),
        ("%{WORD:w}", "  hello, world", "hello"),
        ("%{UUID:u}", "id=123e4567-e89b-12d3-a456-426614174000;", "123e4567-e89b-12d3-a456-426614174000"),
        ("%{TIMESTAMP_ISO8601:t}", "at 2017-09-12T12:10:11.172-0700]", "2017-09-12T12:10:11.172-0700"),
        ("%{HTTPDATE:t}", "[10/Oct/2000:13:55:36 -0700]", "10/Oct/2000:13:55:36 -0700"),
        ("%{EMAILADDRESS:e}", "to <jane.doe@example.com>", "jane.doe@example.com"),
        ("%{URIPATHPARAM:p}", "GET /index.html?a=1&b=2 HTTP", "/index.html?a=1&b=2"),
        ("%{QS:q}", 'say "hi \\" there" now', '"hi \\" there"'),
        ("%{LOGLEVEL:l}", "[WARNING] disk", "WARNING"),
    ],
)  # fmt: skip
def test_base_patterns(pattern: str, text: str, expected: str) -> None:
    captures = compile_grok(pattern).captures(text)
    assert captures is not None
    assert (
        next(
            iter(
                v
                for k, v in captures.items()
                if k in ("ip", "n", "w", "u", "t", "e", "p", "q", "l")
            )
        )
        == expected
    )


def test_custom_patterns_use_and_override_base_ones() -> None:
    custom = custom_patterns("MYID %{INT}-%{WORD}\nWORD [a-z]+")
    assert compile_grok("%{MYID:id}", custom).captures("id 12-abc") == {
        "id": "12-abc",
        "int": "12",
        "word": "abc",
    }
    assert compile_grok("%{WORD:w}", custom).captures("ABC def") == {"w": "def"}


def test_no_match_and_errors() -> None:
    assert compile_grok("%{INT:n} apples").captures("pears") is None
    with pytest.raises(InvalidInputError, match="NOPE"):
        compile_grok("%{NOPE:x}")
    with pytest.raises(InvalidInputError, match="loop"):
        compile_grok("%{A}", custom_patterns("A %{B}\nB %{A}"))
    with pytest.raises(InvalidInputError, match="grokCustomPatterns"):
        custom_patterns("not-a-name regex")
