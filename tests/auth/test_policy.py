"""Policy documents and their evaluation (a decision table), resource names, SQL checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.auth.conditions import request_context
from shoal.auth.policy import Policy, evaluate, parse_policy
from shoal.auth.resources import (
    AccessRequest,
    Arns,
    is_read_only,
    location_arn,
    shoal_arn,
    statement_requests,
)
from shoal.errors import InvalidInputError, MalformedPolicyDocumentError
from shoal.queries.context import LocationAccess, TableAccess

ACCOUNT = "123456789012"
ARNS = Arns("us-east-1", ACCOUNT)
T = "arn:aws:glue:us-east-1:123456789012:table"
CTX = request_context(
    user_name="alice",
    principal_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    source_ip="10.1.2.3",
    secure_transport=True,
    current_time=datetime(2024, 6, 1, 12, tzinfo=UTC),
    extra={"shoal:Groups": ["analysts", "eng"]},
)


def stmt(effect: str, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    """A statement; ``not_action=True`` / ``not_resource=True`` switch to Not*."""
    out: dict[str, Any] = {"Effect": effect}
    out["NotAction" if extra.pop("not_action", False) else "Action"] = action
    out["NotResource" if extra.pop("not_resource", False) else "Resource"] = resource
    out.update(extra)
    return out


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return stmt("Allow", action, resource, **extra)


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return stmt("Deny", action, resource, **extra)


def policies(*docs: list[dict[str, Any]], version: str = "2012-10-17") -> list[Policy]:
    return [
        Policy(f"p{i + 1}", parse_policy({"Version": version, "Statement": statements}))
        for i, statements in enumerate(docs)
    ]


OBJ, TBL = "arn:aws:s3:::b/k", f"{T}/db/t"
ALLOWED, IMPLICIT, EXPLICIT = "allow", "implicit-deny", "explicit-deny"


def cond(**blocks: Any) -> dict[str, Any]:
    return {"Condition": blocks}


# (id, policy documents, action, resource, context changes, expected kind)
ROWS: list[tuple[str, list[list[dict[str, Any]]], str, str, dict[str, Any], str]] = [
    ("default deny", [], "glue:GetTable", TBL, {}, IMPLICIT),
    ("exact allow", [[allow("glue:GetTable", TBL)]], "glue:GetTable", TBL, {}, ALLOWED),
    ("other resource", [[allow("glue:GetTable", TBL)]], "glue:GetTable", f"{T}/db/u", {}, IMPLICIT),
    (
        "deny beats allow across policies",
        [[allow("*")], [deny("glue:GetTable", f"{T}/db/*")]],
        "glue:GetTable",
        TBL,
        {},
        EXPLICIT,
    ),
    (
        "deny beats allow, deny first",
        [[deny("glue:*", TBL)], [allow("glue:GetTable")]],
        "glue:GetTable",
        TBL,
        {},
        EXPLICIT,
    ),
    (
        "deny elsewhere does not apply",
        [[allow("*")], [deny("glue:GetTable", f"{T}/x/*")]],
        "glue:GetTable",
        TBL,
        {},
        ALLOWED,
    ),
    ("action case-insensitive", [[allow("GLUE:gettable")]], "glue:GetTable", TBL, {}, ALLOWED),
    (
        "resource case-sensitive",
        [[allow("glue:GetTable", f"{T}/DB/*")]],
        "glue:GetTable",
        TBL,
        {},
        IMPLICIT,
    ),
    ("action * wildcard", [[allow("glue:Get*")]], "glue:GetTables", TBL, {}, ALLOWED),
    ("action * not other verbs", [[allow("glue:Get*")]], "glue:CreateTable", TBL, {}, IMPLICIT),
    ("action ? one char", [[allow("s3:?etObject")]], "s3:GetObject", OBJ, {}, ALLOWED),
    ("action ? exactly one", [[allow("glue:GetTable?")]], "glue:GetTable", TBL, {}, IMPLICIT),
    ("service prefix whole", [[allow("s3:*")]], "s3x:GetObject", OBJ, {}, IMPLICIT),
    (
        "dot is a dot",
        [[allow("s3:*", "arn:aws:s3:::my.bucket/*")]],
        "s3:GetObject",
        "arn:aws:s3:::myxbucket/k",
        {},
        IMPLICIT,
    ),
    (
        "dot matches a dot",
        [[allow("s3:*", "arn:aws:s3:::my.bucket/*")]],
        "s3:GetObject",
        "arn:aws:s3:::my.bucket/k",
        {},
        ALLOWED,
    ),
    (
        "[ is literal, no class",
        [[allow("s3:*", "arn:aws:s3:::b/[ab]*")]],
        "s3:GetObject",
        "arn:aws:s3:::b/a1",
        {},
        IMPLICIT,
    ),
    (
        "[ matches itself",
        [[allow("s3:*", "arn:aws:s3:::b/[ab]*")]],
        "s3:GetObject",
        "arn:aws:s3:::b/[ab]1",
        {},
        ALLOWED,
    ),
    (
        "resource ? one char",
        [[allow("s3:*", "arn:aws:s3:::b/k?")]],
        "s3:GetObject",
        "arn:aws:s3:::b/k12",
        {},
        IMPLICIT,
    ),
    ("* spans / and :", [[allow("glue:*", "arn:aws:glue:*")]], "glue:GetTable", TBL, {}, ALLOWED),
    (
        "full match, not search",
        [[allow("s3:*", "arn:aws:s3:::b")]],
        "s3:GetObject",
        OBJ,
        {},
        IMPLICIT,
    ),
    (
        "literal ${*} in a name",
        [[allow("glue:*", f"{T}/db/a${{*}}b")]],
        "glue:GetTable",
        f"{T}/db/axb",
        {},
        IMPLICIT,
    ),
    (
        "literal ${*} matches *",
        [[allow("glue:*", f"{T}/db/a${{*}}b")]],
        "glue:GetTable",
        f"{T}/db/a*b",
        {},
        ALLOWED,
    ),
    (
        "NotAction allows the rest",
        [[allow("iam:*", not_action=True)]],
        "s3:GetObject",
        OBJ,
        {},
        ALLOWED,
    ),
    (
        "NotAction excludes",
        [[allow("iam:*", not_action=True)]],
        "iam:CreateUser",
        "arn:aws:iam::1:user/x",
        {},
        IMPLICIT,
    ),
    (
        "NotResource deny outside",
        [[allow("s3:*"), deny("s3:*", "arn:aws:s3:::pub/*", not_resource=True)]],
        "s3:GetObject",
        "arn:aws:s3:::priv/k",
        {},
        EXPLICIT,
    ),
    (
        "NotResource deny inside",
        [[allow("s3:*"), deny("s3:*", "arn:aws:s3:::pub/*", not_resource=True)]],
        "s3:GetObject",
        "arn:aws:s3:::pub/k",
        {},
        ALLOWED,
    ),
    (
        "variable in resource",
        [[allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")]],
        "s3:GetObject",
        "arn:aws:s3:::home/alice/k",
        {},
        ALLOWED,
    ),
    (
        "variable: someone else's",
        [[allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")]],
        "s3:GetObject",
        "arn:aws:s3:::home/bob/k",
        {},
        IMPLICIT,
    ),
    (
        "variable value is literal",
        [[allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")]],
        "s3:GetObject",
        "arn:aws:s3:::home/bob/k",
        {"aws:username": "*"},
        IMPLICIT,
    ),
    (
        "variable missing, default",
        [[allow("s3:*", "arn:aws:s3:::home/${shoal:Team, 'shared'}/*")]],
        "s3:GetObject",
        "arn:aws:s3:::home/shared/k",
        {},
        ALLOWED,
    ),
    (
        "variable missing: no match",
        [[allow("s3:*", "arn:aws:s3:::home/${shoal:Team}*")]],
        "s3:GetObject",
        "arn:aws:s3:::home/k",
        {},
        IMPLICIT,
    ),
]


# Conditions: (id, effect of the conditional statement, Condition block, context changes,
# expected). An Allow row is that statement alone; a Deny row adds an unconditional
# Allow first, so the Deny's condition decides.
SRC, NOW = "aws:SourceIp", "aws:CurrentTime"
CONDITION_ROWS: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("IP in CIDR", "Allow", {"IpAddress": {SRC: "10.0.0.0/8"}}, {}, ALLOWED),
    ("IP outside CIDR", "Allow", {"IpAddress": {SRC: "10.0.0.0/8"}}, {SRC: "192.168.0.1"},
     IMPLICIT),
    ("IPv6 in CIDR", "Allow", {"IpAddress": {SRC: ["10.0.0.0/8", "2001:db8::/32"]}},
     {SRC: "2001:db8::5"}, ALLOWED),
    ("not an IP", "Allow", {"IpAddress": {SRC: "10.0.0.0/8"}}, {SRC: "localhost"}, IMPLICIT),
    ("NotIpAddress outside", "Deny", {"NotIpAddress": {SRC: "10.0.0.0/8"}}, {SRC: "8.8.8.8"},
     EXPLICIT),
    ("NotIpAddress inside", "Deny", {"NotIpAddress": {SRC: "10.0.0.0/8"}}, {}, ALLOWED),
    # IAM: a negated operator is true when the key is missing, so this Deny applies.
    ("negated op, key missing", "Deny", {"NotIpAddress": {SRC: "10.0.0.0/8"}}, {SRC: None},
     EXPLICIT),
    ("before a date", "Allow", {"DateLessThan": {NOW: "2025-01-01T00:00:00Z"}}, {}, ALLOWED),
    ("after a date", "Allow", {"DateLessThan": {NOW: "2024-01-01"}}, {}, IMPLICIT),
    ("date window", "Allow", {"DateGreaterThanEquals": {NOW: "2024-06-01T12:00:00Z"},
                              "DateLessThan": {NOW: "2024-06-02"}}, {}, ALLOWED),
    ("epoch dates", "Allow", {"DateGreaterThan": {NOW: "1700000000"}}, {}, ALLOWED),
    ("StringLike PrincipalArn", "Allow",
     {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/al*"}}, {}, ALLOWED),
    ("StringNotLike", "Allow", {"StringNotLike": {"aws:username": "al*"}}, {}, IMPLICIT),
    ("StringEquals mismatch", "Allow", {"StringEquals": {"aws:username": "bob"}}, {}, IMPLICIT),
    ("values OR'd", "Allow", {"StringEquals": {"aws:username": ["bob", "alice"]}}, {}, ALLOWED),
    ("StringEquals no wildcard", "Allow", {"StringEquals": {"aws:username": "al*"}}, {}, IMPLICIT),
    ("StringNotEquals any value", "Allow", {"StringNotEquals": {"aws:username": ["bob", "alice"]}},
     {}, IMPLICIT),
    ("IgnoreCase", "Allow", {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, ALLOWED),
    ("keys AND'ed", "Allow", {"StringEquals": {"aws:username": "alice", "aws:userid": "x"}}, {},
     IMPLICIT),
    ("operators AND'ed", "Allow", {"StringEquals": {"aws:username": "alice"},
                                   "IpAddress": {SRC: "192.168.0.0/16"}}, {}, IMPLICIT),
    ("key names ignore case", "Allow", {"StringEquals": {"AWS:USERNAME": "alice"}}, {}, ALLOWED),
    ("missing key: false", "Allow", {"StringEquals": {"shoal:Team": "x"}}, {}, IMPLICIT),
    ("missing key: IfExists", "Allow", {"StringEqualsIfExists": {"shoal:Team": "x"}}, {}, ALLOWED),
    ("present key: IfExists tests", "Allow", {"StringEqualsIfExists": {"aws:username": "x"}}, {},
     IMPLICIT),
    ("Null true, missing", "Allow", {"Null": {"shoal:Team": "true"}}, {}, ALLOWED),
    ("Null false, missing", "Allow", {"Null": {"shoal:Team": False}}, {}, IMPLICIT),
    ("insecure transport", "Deny", {"Bool": {"aws:SecureTransport": "false"}},
     {"aws:SecureTransport": False}, EXPLICIT),
    ("secure transport", "Deny", {"Bool": {"aws:SecureTransport": "false"}}, {}, ALLOWED),
    ("NumericLessThan", "Allow", {"NumericLessThan": {"shoal:Bytes": 100}}, {"shoal:Bytes": "99.5"},
     ALLOWED),
    ("number of wrong shape", "Allow", {"NumericLessThan": {"shoal:Bytes": 100}},
     {"shoal:Bytes": "many"}, IMPLICIT),
    ("ForAnyValue", "Allow", {"ForAnyValue:StringEquals": {"shoal:Groups": "eng"}}, {}, ALLOWED),
    ("ForAllValues", "Allow", {"ForAllValues:StringEquals": {"shoal:Groups": "eng"}}, {},
     IMPLICIT),
    ("ForAllValues, all in", "Allow",
     {"ForAllValues:StringEquals": {"shoal:Groups": ["eng", "analysts", "x"]}}, {}, ALLOWED),
    ("variable in condition", "Allow", {"StringEquals": {"shoal:Owner": "${aws:username}"}},
     {"shoal:Owner": "alice"}, ALLOWED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("docs", "action", "resource", "changes", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
def test_decision_table(
    docs: list[list[dict[str, Any]]],
    action: str,
    resource: str,
    changes: dict[str, Any],
    expected: str,
) -> None:
    context = {**CTX, **changes}  # a None value drops the key
    decision = evaluate(policies(*docs), action, resource, context)
    assert decision.kind == expected
    assert decision.allowed == (expected == "allow")


@pytest.mark.parametrize(
    ("effect", "condition", "changes", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in CONDITION_ROWS],
)
def test_conditions(
    effect: str, condition: dict[str, Any], changes: dict[str, Any], expected: str
) -> None:
    statements = [stmt(effect, "*", "*", Condition=condition)]
    if effect == "Deny":
        statements.insert(0, allow("*"))
    test_decision_table([statements], "s3:GetObject", OBJ, changes, expected)


def test_variables_are_literal_text_in_2008_documents() -> None:
    docs = [allow("s3:*", "arn:aws:s3:::home/${aws:username}/*")]
    old = policies(docs, version="2008-10-17")
    assert not evaluate(old, "s3:GetObject", "arn:aws:s3:::home/alice/k", CTX).allowed
    assert evaluate(old, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/k", CTX).allowed


def test_decisions_name_the_policy_and_statement() -> None:
    ps = policies([allow("glue:*")], [{**deny("glue:DeleteTable"), "Sid": "NoDrops"}])
    dropped = evaluate(ps, "glue:DeleteTable", f"{T}/db/t")
    assert dropped.reason == "explicit deny by policy p2 statement NoDrops"
    assert evaluate(ps, "glue:GetTable", f"{T}/db/t").reason == "allowed by policy p1 statement #1"
    assert evaluate(ps, "s3:GetObject", "arn:aws:s3:::b/k").reason == (
        "implicit deny: no statement allows s3:GetObject on arn:aws:s3:::b/k"
    )


def test_statement_as_object_and_strings() -> None:
    doc = parse_policy(
        '{"Version": "2012-10-17", "Statement": '
        '{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}'
    )
    assert len(doc.statements) == 1
    assert parse_policy(json.dumps(doc.to_json())) == doc


def test_round_trip_keeps_conditions_and_not_elements() -> None:
    raw = {
        "Version": "2012-10-17",
        "Id": "x",
        "Statement": [
            {"Sid": "A1", **deny("iam:*", "arn:aws:s3:::p/*", not_action=True, not_resource=True)},
            allow("*", **cond(**{"ForAnyValue:StringLikeIfExists": {"k": ["a*", "b"]}})),
        ],
    }
    doc = parse_policy(raw)
    assert parse_policy(doc.to_json()) == doc
    assert doc.to_json()["Statement"][0]["NotAction"] == ["iam:*"]


MALFORMED = [
    ("not json", "{", "not valid JSON"),
    ("not an object", "[]", "JSON object"),
    ("no statement", {"Version": "2012-10-17"}, "no Statement"),
    ("empty statement", {"Version": "2012-10-17", "Statement": []}, "must not be empty"),
    ("bad version", {"Version": "2020-01-01", "Statement": [allow("*")]}, "Version"),
    ("unknown effect", [stmt("Permit", "*", "*")], "Effect"),
    ("lowercase effect", [stmt("allow", "*", "*")], "Effect"),
    ("missing action", [{"Effect": "Allow", "Resource": "*"}], "Action and NotAction"),
    ("missing resource", [{"Effect": "Allow", "Action": "*"}], "Resource and NotResource"),
    ("action and notaction", [{**allow("*"), "NotAction": "s3:*"}], "exactly one"),
    ("action without service", [allow("GetObject")], "service:Action"),
    ("empty action list", [allow([])], "non-empty"),
    ("malformed arn", [allow("*", "s3:::bucket/*")], "not '*' or an ARN"),
    ("arn too short", [allow("*", "arn:aws:s3::bucket")], "not '*' or an ARN"),
    (
        "unknown operator",
        [allow("*", **cond(StringSortOf={"k": "v"}))],
        "unknown condition operator",
    ),
    (
        "Null IfExists",
        [allow("*", **cond(NullIfExists={"k": "true"}))],
        "unknown condition operator",
    ),
    ("bad cidr", [allow("*", **cond(IpAddress={"aws:SourceIp": "10.0.0.0/33"}))], "CIDR"),
    ("bad date", [allow("*", **cond(DateLessThan={"aws:CurrentTime": "tomorrow"}))], "ISO 8601"),
    ("bad bool", [allow("*", **cond(Bool={"aws:SecureTransport": "yes"}))], "true or false"),
    ("bad number", [allow("*", **cond(NumericEquals={"k": "NaN"}))], "not a number"),
    ("nested value", [allow("*", **cond(StringEquals={"k": {"a": 1}}))], "values must be"),
    ("bad variable", [allow("*", "arn:aws:s3:::b/${a b}")], "policy variable"),
    ("principal", [{**allow("*"), "Principal": "*"}], "Principal"),
    ("unknown element", [{**allow("*"), "Actions": "x"}], "unknown element 'Actions'"),
    ("sid with spaces", [{**allow("*"), "Sid": "my sid"}], "Sid"),
    ("duplicate sids", [{**allow("*"), "Sid": "A"}, {**deny("*"), "Sid": "A"}], "unique"),
    (
        "duplicate keys",
        '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Effect":"Allow",'
        '"Action":"*","Resource":"*"}}',
        "duplicate key",
    ),
]


@pytest.mark.parametrize(
    ("document", "message"), [pytest.param(*m[1:], id=m[0]) for m in MALFORMED]
)
def test_malformed_documents(document: Any, message: str) -> None:
    if isinstance(document, list):
        document = {"Version": "2012-10-17", "Statement": document}
    with pytest.raises(
        MalformedPolicyDocumentError, match="(?i)" + message.replace("*", r"\*")
    ) as e:
        parse_policy(document)
    assert isinstance(e.value, InvalidInputError)
    assert e.value.code == "MalformedPolicyDocument" and e.value.status == 400


# --- property: Deny never grants, Allow never takes away ---------------------------------

_CHARS = "ab.[/"
_names = st.text(_CHARS, min_size=0, max_size=4)
_patterns = st.text(_CHARS + "*?", min_size=0, max_size=5)
_actions = st.builds(lambda s, n: f"{s}:{n or 'x'}", st.sampled_from(["s3", "glue"]), _names)
_action_patterns = st.one_of(
    st.just("*"),
    st.builds(lambda s, n: f"{s}:{n or '*'}", st.sampled_from(["s3", "glue", "*"]), _patterns),
)
_resources = _names.map(lambda n: f"arn:aws:s3:::b/{n}")
_resource_patterns = st.one_of(st.just("*"), _patterns.map(lambda n: f"arn:aws:s3:::b/{n}"))
_conditions = st.one_of(
    st.just({}),
    st.builds(lambda p: {"Condition": {"StringLike": {"aws:username": p}}}, _patterns),
    st.builds(lambda p: {"Condition": {"StringNotEqualsIfExists": {"shoal:X": p}}}, _patterns),
)


@st.composite
def _statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    out[draw(st.sampled_from(["Action", "NotAction"]))] = draw(
        st.lists(_action_patterns, min_size=1, max_size=2)
    )
    out[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(
        st.lists(_resource_patterns, min_size=1, max_size=2)
    )
    return {**out, **draw(_conditions)}


_policy_sets = st.lists(st.lists(_statements(), min_size=1, max_size=3), max_size=3)
_contexts = st.builds(lambda u: {"aws:username": u}, _names)


def _with(docs: list[list[dict[str, Any]]], extra: dict[str, Any], where: int) -> list[Policy]:
    """``docs`` with ``extra`` added to one policy (or as a new one when ``where`` is past)."""
    changed = [list(d) for d in docs]
    if where < len(changed):
        changed[where].append(extra)
    else:
        changed.append([extra])
    return policies(*changed)


@settings(max_examples=200, deadline=None)
@given(
    _policy_sets,
    _statements("Deny"),
    _statements("Allow"),
    st.integers(0, 3),
    _actions,
    _resources,
    _contexts,
)
def test_adding_deny_never_allows_and_adding_allow_never_denies(
    docs: list[list[dict[str, Any]]],
    extra_deny: dict[str, Any],
    extra_allow: dict[str, Any],
    where: int,
    action: str,
    resource: str,
    context: dict[str, Any],
) -> None:
    before = evaluate(policies(*docs), action, resource, context).allowed
    after_deny = evaluate(_with(docs, extra_deny, where), action, resource, context).allowed
    after_allow = evaluate(_with(docs, extra_allow, where), action, resource, context).allowed
    assert after_deny <= before  # a deny never turns a deny into an allow
    assert after_allow >= before  # an allow never turns an allow into a deny


# --- resource names and what SQL statements must be allowed -------------------------------


def test_arns() -> None:
    assert ARNS.catalog() == "arn:aws:glue:us-east-1:123456789012:catalog"
    assert ARNS.database("sales") == "arn:aws:glue:us-east-1:123456789012:database/sales"
    assert ARNS.table("sales", "orders") == f"{T}/sales/orders"
    assert ARNS.workgroup("primary") == "arn:aws:athena:us-east-1:123456789012:workgroup/primary"
    assert ARNS.crawler("c1") == "arn:aws:glue:us-east-1:123456789012:crawler/c1"
    assert ARNS.iam("role", "analyst") == "arn:aws:iam::123456789012:role/analyst"
    assert (
        location_arn("s3://bkt/sales")
        == location_arn("s3://bkt/sales/")
        == "arn:aws:s3:::bkt/sales/"
    )
    assert location_arn("s3://bkt") == location_arn("s3://bkt/") == "arn:aws:s3:::bkt/"
    assert shoal_arn("audit") == "arn:shoal:shoal:::audit"
    with pytest.raises(InvalidInputError):
        location_arn("/etc/passwd")


def test_names_are_literal_and_cannot_cross_segments() -> None:
    # A table called "a*b" is no wildcard, and "/" in a name cannot forge another table.
    assert ARNS.table("a/b", "c") != ARNS.table("a", "b/c")
    assert ARNS.table("a/b", "c") == f"{T}/a%2Fb/c"
    only_db_a = policies([allow("glue:*", f"{T}/a/b*")])
    assert not evaluate(only_db_a, "glue:GetTable", ARNS.table("a/b", "c")).allowed
    exact = policies([allow("glue:*", f"{T}/db/a*b")])
    assert evaluate(exact, "glue:GetTable", ARNS.table("db", "a*b")).allowed
    literal = policies([allow("glue:*", ARNS.table("db", "a*b"))])
    assert evaluate(literal, "glue:GetTable", ARNS.table("db", "a*b")).allowed


def test_read_only_actions() -> None:
    assert is_read_only("glue:GetTable") and is_read_only("S3:GETOBJECT")
    assert not is_read_only("glue:DeleteTable") and not is_read_only("athena:StartQueryExecution")
    assert not is_read_only("made:Up")


def test_select_needs_table_and_data_reads() -> None:
    locations = {("sales", "orders"): "s3://lake/sales/orders", ("sales", "v"): None}
    accesses = [
        TableAccess("sales", "v", "read"),
        TableAccess("sales", "orders", "read"),
        TableAccess("sales", "orders", "read"),
    ]
    requests = statement_requests(accesses, ARNS, "SELECT", lambda d, t: locations[(d, t)])
    assert requests == [
        AccessRequest("glue:GetTable", f"{T}/sales/v"),
        AccessRequest("glue:GetTable", f"{T}/sales/orders"),
        AccessRequest("s3:GetObject", "arn:aws:s3:::lake/sales/orders/"),
    ]


@pytest.mark.parametrize(
    ("kind", "access", "expected"),
    [
        (
            "CREATE_TABLE_AS_SELECT",
            TableAccess("d", "t", "write"),
            ("glue:CreateTable", f"{T}/d/t"),
        ),
        ("DROP_TABLE", TableAccess("d", "t", "write"), ("glue:DeleteTable", f"{T}/d/t")),
        ("INSERT", TableAccess("d", "t", "write"), ("glue:UpdateTable", f"{T}/d/t")),
        (
            "MSCK_REPAIR_TABLE",
            TableAccess("d", "t", "write"),
            ("glue:BatchCreatePartition", f"{T}/d/t"),
        ),
        (None, TableAccess("d", "t", "write"), ("glue:UpdateTable", f"{T}/d/t")),
        (
            "CREATE_DATABASE",
            TableAccess("d", "*", "write"),
            ("glue:CreateDatabase", ARNS.database("d")),
        ),
        (
            "DROP_DATABASE",
            TableAccess("d", "*", "write"),
            ("glue:DeleteDatabase", ARNS.database("d")),
        ),
        ("SHOW_TABLES", TableAccess("d", "*", "read"), ("glue:GetTables", ARNS.database("d"))),
        ("UNLOAD", LocationAccess("s3://out/x/"), ("s3:PutObject", "arn:aws:s3:::out/x/")),
    ],
)
def test_statement_write_actions(
    kind: str | None, access: TableAccess | LocationAccess, expected: tuple[str, str]
) -> None:
    assert statement_requests([access], ARNS, kind) == [AccessRequest(*expected)]


def test_every_sql_request_names_a_known_action() -> None:
    from shoal.auth.resources import ACTIONS, TABLE_WRITE_ACTIONS

    assert set(TABLE_WRITE_ACTIONS.values()) <= set(ACTIONS)
