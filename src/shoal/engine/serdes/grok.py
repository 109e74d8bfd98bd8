"""Grok patterns (``com.amazonaws.glue.serde.GrokSerDe``) compiled to Python regexes.

A grok expression is a regular expression with references to named patterns:
``%{SYNTAX}`` or ``%{SYNTAX:name}`` (a third part, a type hint, is accepted and
ignored: the table's column types decide). Each reference becomes a capture group
named ``name``, or ``SYNTAX`` when unnamed — so ``%{SYSLOGBASE}`` fills a column
``syslogbase``, as in Athena's own example. References nest: patterns are defined
in terms of others; inner named references capture too.

``BASE_PATTERNS`` is shoal's table of the standard Logstash base patterns (the names
and meaning of Logstash's ``grok-patterns`` file, which Athena's documentation
points to, written here as Python regexes). ``input.grokCustomPatterns`` adds
``NAME regex`` lines that may use and override them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shoal.errors import InvalidInputError

_MONTHS = (
    r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|"
    r"[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|"
    r"[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b"
)
_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_H16 = r"[0-9A-Fa-f]{1,4}"

BASE_PATTERNS: Mapping[str, str] = {
    # words, numbers, text
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "EMAILLOCALPART": r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    "EMAILADDRESS": r"%{EMAILLOCALPART}@%{HOSTNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "BASE16NUM": r"(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))",
    "BASE16FLOAT": (
        r"\b(?<![0-9A-Fa-f.])(?:[+-]?(?:0x)?(?:(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?)|"
        r"(?:\.[0-9A-Fa-f]+)))\b"
    ),
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": r"(?>(?<!\\)(?>\"(?>\\.|[^\\\"]+)+\"|\"\"|(?>'(?>\\.|[^\\']+)+')|''|"
    r"(?>`(?>\\.|[^\\`]+)+`)|``))",
    "QS": r"%{QUOTEDSTRING}",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    # networking
    "MAC": r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})",
    "CISCOMAC": r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})",
    "WINDOWSMAC": r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})",
    "COMMONMAC": r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})",
    "IPV4": rf"(?<![0-9])(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}(?![0-9])",
    "IPV6": (
        rf"(?:(?:{_H16}:){{7}}{_H16}|(?:{_H16}:){{1,7}}:|(?:{_H16}:){{1,6}}:{_H16}|"
        rf"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}|(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}|"
        rf"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}|(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}|"
        rf"{_H16}:(?::{_H16}){{1,6}}|:(?:(?::{_H16}){{1,7}}|:)|"
        rf"(?:{_H16}:){{6}}%{{IPV4}}|::(?:ffff(?::0{{1,4}})?:)?%{{IPV4}})"
        # not a prefix of a longer address (the first branch that matches would win)
        r"(?![0-9A-Fa-f:.])(?:%\w+)?"
    ),
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
    r"(?:\.?|\b)",
    "HOST": r"%{HOSTNAME}",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "HOSTPORT": r"%{IPORHOST}:%{POSINT}",
    # paths and URIs
    "PATH": r"(?:%{UNIXPATH}|%{WINPATH})",
    "UNIXPATH": r"(?>/(?>[\w_%!$@:.,~-]+|\\.)*)+",
    "TTY": r"(?:/dev/(?:pts|tty(?:[pq])?)(?:\w+)?/?(?:[0-9]+))",
    "WINPATH": r"(?>[A-Za-z]+:|\\)(?:\\[^\\?*]*)+",
    "URIPROTO": r"[A-Za-z][A-Za-z0-9+\-.]*",
    "URIHOST": r"%{IPORHOST}(?::%{POSINT:port})?",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%_\-]*)+",
    "URIPARAM": r"\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*",
    "URIPATHPARAM": r"%{URIPATH}(?:%{URIPARAM})?",
    "URI": r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?",
    # dates and times
    "MONTH": _MONTHS,
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHNUM2": r"(?:0[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|"
    r"Sat(?:urday)?|Sun(?:day)?)",
    "YEAR": r"(?>\d\d){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "TIME": r"(?!<[0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])",
    "DATE_US": r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
    "DATE_EU": r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "ISO8601_SECOND": r"(?:%{SECOND}|60)",
    "TIMESTAMP_ISO8601": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}"
    r"(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    "DATE": r"%{DATE_US}|%{DATE_EU}",
    "DATESTAMP": r"%{DATE}[- ]%{TIME}",
    "TZ": r"(?:[PMCE][SD]T|UTC)",
    "DATESTAMP_RFC822": r"%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}",
    "DATESTAMP_RFC2822": r"%{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}",
    "DATESTAMP_OTHER": r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}",
    "DATESTAMP_EVENTLOG": r"%{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    # syslog
    "SYSLOGTIMESTAMP": r"%{MONTH} +%{MONTHDAY} %{TIME}",
    "PROG": r"(?:[\w._/%-]+)",
    "SYSLOGPROG": r"%{PROG:program}(?:\[%{POSINT:pid}\])?",
    "SYSLOGHOST": r"%{IPORHOST}",
    "SYSLOGFACILITY": r"<%{NONNEGINT:facility}.%{NONNEGINT:priority}>",
    "SYSLOGBASE": r"%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} "
    r"%{SYSLOGPROG}:",
    # web logs
    "QUOTEDURI": r"\"%{URIPATHPARAM}\"",
    "COMMONAPACHELOG": r"%{IPORHOST:clientip} %{USER:ident} %{USER:auth} "
    r"\[%{HTTPDATE:timestamp}\] \"(?:%{WORD:verb} %{NOTSPACE:request}"
    r"(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})\" %{NUMBER:response} "
    r"(?:%{NUMBER:bytes}|-)",
    "COMBINEDAPACHELOG": r"%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}",
    "LOGLEVEL": r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|"
    r"[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|"
    r"CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
}

_REFERENCE = re.compile(r"%\{(\w+)(?::([\w.@\[\]-]+))?(?::\w+)?\}")
_MAX_DEPTH = 64  # patterns referring to each other in a loop stop here


@dataclass(frozen=True)
class GrokPattern:
    """A compiled grok expression: its regex, and the name each group stands for."""

    regex: re.Pattern[str]
    names: Mapping[str, str]  # regex group -> the capture's name, lower-cased

    def captures(self, line: str) -> dict[str, str] | None:
        """The named captures of the first match in ``line`` (the first group of a
        name that took part wins), or None if the line does not match."""
        found = self.regex.search(line)
        if found is None:
            return None
        values: dict[str, str] = {}
        for group, value in found.groupdict().items():
            if value is not None:
                values.setdefault(self.names.get(group, group.lower()), value)
        return values


def custom_patterns(text: str) -> dict[str, str]:
    """``input.grokCustomPatterns``: one ``NAME regex`` a line."""
    patterns = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, regex = line.partition(" ")
        if not re.fullmatch(r"\w+", name) or not regex.strip():
            raise InvalidInputError(f"input.grokCustomPatterns: cannot read {raw!r}")
        patterns[name] = regex.strip()
    return patterns


def compile_grok(expression: str, custom: Mapping[str, str] | None = None) -> GrokPattern:
    """``input.format`` as a regex; InvalidInputError for unknown patterns or bad regexes."""
    table = {**BASE_PATTERNS, **(custom or {})}
    names: dict[str, str] = {}

    def expand(text: str, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise InvalidInputError("grok patterns refer to each other in a loop")

        def replace(ref: re.Match[str]) -> str:
            syntax, semantic = ref.group(1), ref.group(2)
            if syntax not in table:
                raise InvalidInputError(f"grok pattern %{{{syntax}}} is not defined")
            group = f"g{len(names)}"
            names[group] = (semantic or syntax).lower()
            return f"(?P<{group}>{expand(java_regex(table[syntax]), depth + 1)})"

        return _REFERENCE.sub(replace, text)

    regex = expand(java_regex(expression), 0)
    try:
        return GrokPattern(re.compile(regex), names)
    except re.error as err:
        raise InvalidInputError(f"input.format is not a valid grok expression: {err}") from None


def java_regex(regex: str) -> str:
    """A Java regex in Python's spelling: named groups ``(?<name>…)`` become ``(?P<name>…)``
    (look-arounds, atomic groups and possessive quantifiers are the same in both)."""
    return re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", regex)
