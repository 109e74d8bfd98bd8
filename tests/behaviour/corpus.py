"""The behaviour suite's queries, each with its answer computed in plain Python.

A case is Athena SQL plus a function of the dataset's rows (``dataset.Data``) that
gives the expected rows as tuples, written the way Trino (Athena engine 3) defines
each operation: NULLs sort last, integer division truncates toward zero, a
``CAST(double AS bigint)`` rounds half away from zero, ``substr`` counts from 1.
Function examples whose answers are literals come from Athena's and Trino's
documentation. ``ordered`` cases compare row order too; others compare as multisets.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .dataset import Data

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    expected: Callable[[Data], Rows]
    ordered: bool = False


CASES: list[Case] = []


def case(name: str, sql: str, *, ordered: bool = False) -> Callable[[Callable[[Data], Rows]], Any]:
    def register(expected: Callable[[Data], Rows]) -> Callable[[Data], Rows]:
        CASES.append(Case(name, " ".join(sql.split()), expected, ordered))
        return expected

    return register


def nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


def trunc_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def countries(d: Data) -> dict[str, str]:
    return {c["name"]: c["country"] for c in d.customers}


# -- filters, projections, ordering


@case(
    "filter_and_project",
    "SELECT order_id, amount FROM orders WHERE amount > 50 AND status = 'open'",
)
def _(d: Data) -> Rows:
    return [
        (o["order_id"], o["amount"]) for o in d.orders if o["amount"] > 50 and o["status"] == "open"
    ]


@case("is_null", "SELECT order_id FROM orders WHERE customer IS NULL")
def _(d: Data) -> Rows:
    return [(o["order_id"],) for o in d.orders if o["customer"] is None]


@case(
    "in_list_and_between",
    "SELECT count(*) FROM orders WHERE qty IN (1, 2) AND amount BETWEEN 10 AND 60",
)
def _(d: Data) -> Rows:
    return [(sum(1 for o in d.orders if o["qty"] in (1, 2) and 10 <= o["amount"] <= 60),)]


@case(
    "order_by_limit",
    "SELECT order_id, amount FROM orders ORDER BY amount DESC, order_id LIMIT 5",
    ordered=True,
)
def _(d: Data) -> Rows:
    ranked = sorted(d.orders, key=lambda o: (-o["amount"], o["order_id"]))
    return [(o["order_id"], o["amount"]) for o in ranked[:5]]


@case(
    "nulls_sort_last",
    "SELECT order_id, note FROM orders ORDER BY note, order_id LIMIT 12",
    ordered=True,
)
def _(d: Data) -> Rows:
    ranked = sorted(d.orders, key=lambda o: (nulls_last(o["note"]), o["order_id"]))
    return [(o["order_id"], o["note"]) for o in ranked[:12]]


@case("offset", "SELECT order_id FROM orders ORDER BY order_id OFFSET 35", ordered=True)
def _(d: Data) -> Rows:
    return [(o["order_id"],) for o in sorted(d.orders, key=lambda o: o["order_id"])[35:]]


@case("like", "SELECT name FROM customers WHERE name LIKE '%a%'")
def _(d: Data) -> Rows:
    return [(c["name"],) for c in d.customers if "a" in c["name"]]


@case("values", "SELECT x, y FROM (VALUES (1, 'a'), (2, 'b')) AS t (x, y)")
def _(d: Data) -> Rows:
    return [(1, "a"), (2, "b")]


# -- aggregation


@case("group_by", "SELECT status, count(*), sum(qty) FROM orders GROUP BY status")
def _(d: Data) -> Rows:
    counts: Counter[str] = Counter()
    qty: Counter[str] = Counter()
    for o in d.orders:
        counts[o["status"]] += 1
        qty[o["status"]] += o["qty"]
    return [(s, counts[s], qty[s]) for s in counts]


@case(
    "having",
    "SELECT customer, count(*) FROM orders WHERE customer IS NOT NULL "
    "GROUP BY customer HAVING count(*) >= 8",
)
def _(d: Data) -> Rows:
    counts = Counter(o["customer"] for o in d.orders if o["customer"] is not None)
    return [(c, n) for c, n in counts.items() if n >= 8]


@case("count_distinct", "SELECT count(DISTINCT customer), count(customer), count(*) FROM orders")
def _(d: Data) -> Rows:
    named = [o["customer"] for o in d.orders if o["customer"] is not None]
    return [(len(set(named)), len(named), len(d.orders))]


@case(
    "aggregate_functions",
    "SELECT min(amount), max(amount), avg(qty), sum(amount), count_if(qty = 0), "
    "bool_or(qty > 4), bool_and(qty < 6), max_by(order_id, amount) FROM orders",
)
def _(d: Data) -> Rows:
    amounts = [o["amount"] for o in d.orders]
    top = max(d.orders, key=lambda o: o["amount"])
    return [
        (
            min(amounts),
            max(amounts),
            sum(o["qty"] for o in d.orders) / len(d.orders),
            sum(amounts),
            sum(1 for o in d.orders if o["qty"] == 0),
            any(o["qty"] > 4 for o in d.orders),
            all(o["qty"] < 6 for o in d.orders),
            top["order_id"],
        )
    ]


@case(
    "array_agg_ordered",
    "SELECT customer, array_agg(order_id ORDER BY order_id DESC) FROM orders "
    "WHERE customer IS NOT NULL GROUP BY customer",
)
def _(d: Data) -> Rows:
    ids: dict[str, list[int]] = defaultdict(list)
    for o in d.orders:
        if o["customer"] is not None:
            ids[o["customer"]].append(o["order_id"])
    return [(c, sorted(v, reverse=True)) for c, v in ids.items()]


@case(
    "array_join_of_agg",
    "SELECT status, array_join(array_agg(DISTINCT customer), ',') FROM orders "
    "WHERE order_id <= 3 GROUP BY status",
)
def _(d: Data) -> Rows:
    by: dict[str, set[str]] = defaultdict(set)
    for o in d.orders:
        if o["order_id"] <= 3:
            by[o["status"]].add(o["customer"])
    return [(s, ",".join(sorted(v))) for s, v in by.items()]  # one name per group here


@case("date_trunc_group", "SELECT date_trunc('month', ordered_at), count(*) FROM orders GROUP BY 1")
def _(d: Data) -> Rows:
    months = Counter(o["ordered_at"].replace(day=1, hour=0, minute=0, second=0) for o in d.orders)
    return list(months.items())


# -- joins and subqueries


@case(
    "inner_join",
    "SELECT o.order_id, c.country FROM orders o JOIN customers c ON o.customer = c.name "
    "WHERE o.qty > 3",
)
def _(d: Data) -> Rows:
    where = countries(d)
    return [
        (o["order_id"], where[o["customer"]])
        for o in d.orders
        if o["qty"] > 3 and o["customer"] in where
    ]


@case(
    "left_join",
    "SELECT o.order_id, c.country FROM orders o LEFT JOIN customers c ON o.customer = c.name "
    "WHERE o.order_id > 35",
)
def _(d: Data) -> Rows:
    where = countries(d)
    return [(o["order_id"], where.get(o["customer"] or "")) for o in d.orders if o["order_id"] > 35]


@case(
    "left_join_counts_zero",
    "SELECT c.name, count(o.order_id) FROM customers c "
    "LEFT JOIN orders o ON o.customer = c.name AND o.qty = 5 GROUP BY c.name",
)
def _(d: Data) -> Rows:
    return [
        (c["name"], sum(1 for o in d.orders if o["customer"] == c["name"] and o["qty"] == 5))
        for c in d.customers
    ]


@case(
    "join_group_sum",
    "SELECT c.country, sum(o.amount) FROM orders o JOIN customers c ON o.customer = c.name "
    "GROUP BY c.country",
)
def _(d: Data) -> Rows:
    where = countries(d)
    sums: dict[str, float] = defaultdict(float)
    for o in d.orders:
        if o["customer"] in where:
            sums[where[o["customer"]]] += o["amount"]
    return list(sums.items())


@case(
    "in_subquery",
    "SELECT order_id FROM orders WHERE customer IN "
    "(SELECT name FROM customers WHERE country = 'FR')",
)
def _(d: Data) -> Rows:
    french = {c["name"] for c in d.customers if c["country"] == "FR"}
    return [(o["order_id"],) for o in d.orders if o["customer"] in french]


@case(
    "exists",
    "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
    "WHERE o.customer = c.name AND o.status = 'returned' AND o.qty = 5)",
)
def _(d: Data) -> Rows:
    return [
        (c["name"],)
        for c in d.customers
        if any(
            o["customer"] == c["name"] and o["status"] == "returned" and o["qty"] == 5
            for o in d.orders
        )
    ]


@case(
    "scalar_subquery", "SELECT order_id FROM orders WHERE amount > (SELECT avg(amount) FROM orders)"
)
def _(d: Data) -> Rows:
    mean = sum(o["amount"] for o in d.orders) / len(d.orders)
    return [(o["order_id"],) for o in d.orders if o["amount"] > mean]


@case(
    "cte",
    "WITH big AS (SELECT * FROM orders WHERE amount > 80) "
    "SELECT customer, count(*) FROM big GROUP BY customer",
)
def _(d: Data) -> Rows:
    return list(Counter(o["customer"] for o in d.orders if o["amount"] > 80).items())


@case(
    "union_distinct",
    "SELECT customer FROM orders WHERE order_id < 4 "
    "UNION SELECT name FROM customers WHERE tier = 3",
)
def _(d: Data) -> Rows:
    found = {o["customer"] for o in d.orders if o["order_id"] < 4}
    found |= {c["name"] for c in d.customers if c["tier"] == 3}
    return [(n,) for n in found]


@case(
    "union_all",
    "SELECT status FROM orders WHERE order_id <= 2 "
    "UNION ALL SELECT status FROM orders WHERE order_id <= 2",
)
def _(d: Data) -> Rows:
    return [(o["status"],) for o in d.orders if o["order_id"] <= 2] * 2


# -- window functions


@case(
    "row_number",
    "SELECT order_id, row_number() OVER (PARTITION BY customer ORDER BY amount DESC, order_id) "
    "FROM orders WHERE customer IS NOT NULL",
)
def _(d: Data) -> Rows:
    found = []
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in d.orders:
        if o["customer"] is not None:
            by[o["customer"]].append(o)
    for rows in by.values():
        ranked = sorted(rows, key=lambda o: (-o["amount"], o["order_id"]))
        found.extend((o["order_id"], n) for n, o in enumerate(ranked, start=1))
    return found


@case(
    "running_sum",
    "SELECT order_id, sum(qty) OVER (ORDER BY order_id ROWS BETWEEN UNBOUNDED PRECEDING "
    "AND CURRENT ROW) FROM orders",
)
def _(d: Data) -> Rows:
    total, found = 0, []
    for o in sorted(d.orders, key=lambda o: o["order_id"]):
        total += o["qty"]
        found.append((o["order_id"], total))
    return found


@case("rank_with_ties", "SELECT order_id, rank() OVER (ORDER BY qty DESC) FROM orders")
def _(d: Data) -> Rows:
    return [(o["order_id"], 1 + sum(1 for p in d.orders if p["qty"] > o["qty"])) for o in d.orders]


@case(
    "lag",
    "SELECT order_id, lag(qty) OVER (ORDER BY order_id) FROM orders WHERE order_id <= 5",
)
def _(d: Data) -> Rows:
    first = sorted((o for o in d.orders if o["order_id"] <= 5), key=lambda o: o["order_id"])
    return [(o["order_id"], first[n - 1]["qty"] if n else None) for n, o in enumerate(first)]


# -- scalar functions


@case(
    "case_when",
    "SELECT order_id, CASE WHEN qty = 0 THEN 'none' WHEN qty < 3 THEN 'few' ELSE 'many' END "
    "FROM orders",
)
def _(d: Data) -> Rows:
    def label(q: int) -> str:
        return "none" if q == 0 else "few" if q < 3 else "many"

    return [(o["order_id"], label(o["qty"])) for o in d.orders]


@case(
    "coalesce_if_nullif",
    "SELECT order_id, coalesce(customer, 'unknown'), if(qty > 2, 'hi', 'lo'), nullif(qty, 0) "
    "FROM orders WHERE order_id IN (6, 7, 8)",
)
def _(d: Data) -> Rows:
    return [
        (
            o["order_id"],
            o["customer"] or "unknown",
            "hi" if o["qty"] > 2 else "lo",
            None if o["qty"] == 0 else o["qty"],
        )
        for o in d.orders
        if o["order_id"] in (6, 7, 8)
    ]


@case(
    "string_functions",
    "SELECT upper(name), length(name), substr(name, 2, 3), concat(name, '-', country), "
    "replace(name, 'a', 'A'), reverse(name), strpos(name, 'a'), lpad(name, 7, '*'), "
    "name || '!' FROM customers",
)
def _(d: Data) -> Rows:
    return [
        (
            c["name"].upper(),
            len(c["name"]),
            c["name"][1:4],
            f"{c['name']}-{c['country']}",
            c["name"].replace("a", "A"),
            c["name"][::-1],
            c["name"].find("a") + 1,
            c["name"].rjust(7, "*"),
            c["name"] + "!",
        )
        for c in d.customers
    ]


@case(
    "regexp",
    r"SELECT order_id, regexp_extract(note, 'Note (\d+)', 1), regexp_like(note, 'rush') "
    "FROM orders WHERE note IS NOT NULL",
)
def _(d: Data) -> Rows:
    return [
        (o["order_id"], str(o["order_id"]), "rush" in o["note"])
        for o in d.orders
        if o["note"] is not None
    ]


@case("split", "SELECT split(note, ': ') FROM orders WHERE order_id = 1")
def _(d: Data) -> Rows:
    return [(d.orders[0]["note"].split(": "),)]


@case(
    "date_functions",
    "SELECT name, year(since), month(since), day_of_week(since), date_add('day', 30, since), "
    "date_diff('day', since, DATE '2024-01-01') FROM customers",
)
def _(d: Data) -> Rows:
    return [
        (
            c["name"],
            c["since"].year,
            c["since"].month,
            c["since"].isoweekday(),
            c["since"] + timedelta(days=30),
            (date(2024, 1, 1) - c["since"]).days,
        )
        for c in d.customers
    ]


@case(
    "timestamp_comparison",
    "SELECT count(*) FROM orders WHERE ordered_at >= TIMESTAMP '2024-01-10 00:00:00'",
)
def _(d: Data) -> Rows:
    return [(sum(1 for o in d.orders if o["ordered_at"] >= datetime(2024, 1, 10)),)]


@case(
    "math",
    "SELECT order_id, abs(qty - 3), qty % 4, mod(qty, 4), power(qty, 2), floor(amount), "
    "ceil(amount), sqrt(qty) FROM orders WHERE order_id <= 10",
)
def _(d: Data) -> Rows:
    return [
        (
            o["order_id"],
            abs(o["qty"] - 3),
            o["qty"] % 4,
            o["qty"] % 4,
            float(o["qty"] ** 2),
            float(math.floor(o["amount"])),
            float(math.ceil(o["amount"])),
            math.sqrt(o["qty"]),
        )
        for o in d.orders
        if o["order_id"] <= 10
    ]


@case(
    "integer_division_truncates",
    "SELECT order_id, qty / 4, -qty / 4, (qty - 7) / 2 FROM orders WHERE order_id <= 8",
)
def _(d: Data) -> Rows:
    return [
        (o["order_id"], trunc_div(o["qty"], 4), trunc_div(-o["qty"], 4), trunc_div(o["qty"] - 7, 2))
        for o in d.orders
        if o["order_id"] <= 8
    ]


@case(
    "casts",
    "SELECT order_id, CAST(qty AS varchar), CAST('12' AS integer) + qty, "
    "CAST(amount AS bigint), try_cast('x' AS integer), try_cast('7' AS integer) "
    "FROM orders WHERE order_id <= 6",
)
def _(d: Data) -> Rows:
    return [
        (o["order_id"], str(o["qty"]), 12 + o["qty"], round_half_away(o["amount"]), None, 7)
        for o in d.orders
        if o["order_id"] <= 6
    ]


@case("greatest_least", "SELECT order_id, greatest(qty, 3), least(amount, 20.0) FROM orders")
def _(d: Data) -> Rows:
    return [(o["order_id"], max(o["qty"], 3), min(o["amount"], 20.0)) for o in d.orders]


# -- nested data, partitions, text tables


@case(
    "array_functions",
    "SELECT id, cardinality(tags), contains(tags, 't1'), element_at(tags, 1) FROM events",
)
def _(d: Data) -> Rows:
    return [
        (e["id"], len(e["tags"]), "t1" in e["tags"], e["tags"][0] if e["tags"] else None)
        for e in d.events
    ]


@case("unnest", "SELECT id, tag FROM events CROSS JOIN UNNEST(tags) AS t (tag)")
def _(d: Data) -> Rows:
    return [(e["id"], tag) for e in d.events for tag in e["tags"]]


@case("struct_fields", "SELECT id, attrs.source, attrs.score FROM events WHERE attrs.score > 5")
def _(d: Data) -> Rows:
    return [
        (e["id"], e["attrs"]["source"], e["attrs"]["score"])
        for e in d.events
        if e["attrs"]["score"] > 5
    ]


@case(
    "partition_filter",
    "SELECT dt, count(*) FROM events WHERE dt BETWEEN '2024-03-02' AND '2024-03-03' GROUP BY dt",
)
def _(d: Data) -> Rows:
    return list(
        Counter(e["dt"] for e in d.events if "2024-03-02" <= e["dt"] <= "2024-03-03").items()
    )


@case("partition_values", "SELECT DISTINCT dt FROM events")
def _(d: Data) -> Rows:
    return [(dt,) for dt in {e["dt"] for e in d.events}]


@case("text_table_empty_int_is_null", "SELECT name FROM customers WHERE tier IS NULL")
def _(d: Data) -> Rows:
    return [(c["name"],) for c in d.customers if c["tier"] is None]


# -- Athena/Trino documentation examples (answers as the documentation gives them)


def literal(rows: Iterable[tuple[Any, ...]]) -> Callable[[Data], Rows]:
    fixed = list(rows)
    return lambda d: fixed


for _name, _sql, _answer in (
    (
        "doc_date_format",
        "SELECT date_format(TIMESTAMP '2024-03-05 14:07:09', '%Y-%m-%d %H:%i')",
        "2024-03-05 14:07",
    ),
    (
        "doc_url_extract_host",
        "SELECT url_extract_host('https://example.com:8080/a?b=1')",
        "example.com",
    ),
    ("doc_url_extract_path", "SELECT url_extract_path('https://example.com/a/b?x=1')", "/a/b"),
    (
        "doc_url_extract_parameter",
        "SELECT url_extract_parameter('https://example.com/a?x=1&y=2#f', 'y')",
        "2",
    ),
    ("doc_url_extract_port", "SELECT url_extract_port('https://example.com:8080/a')", 8080),
    ("doc_slice", "SELECT slice(ARRAY[1, 2, 3, 4], 2, 2)", [2, 3]),
    ("doc_slice_from_end", "SELECT slice(ARRAY[1, 2, 3, 4], -2, 2)", [3, 4]),
    ("doc_array_except", "SELECT array_except(ARRAY[1, 2, 3, 1], ARRAY[2])", [1, 3]),
    ("doc_array_union", "SELECT array_union(ARRAY[1, 2], ARRAY[2, 3])", [1, 2, 3]),
    ("doc_arrays_overlap", "SELECT arrays_overlap(ARRAY[1, 2], ARRAY[2, 3])", True),
    ("doc_any_match", "SELECT any_match(ARRAY[1, 2], x -> x > 1)", True),
    ("doc_all_match", "SELECT all_match(ARRAY[1, 2], x -> x > 1)", False),
    ("doc_none_match_empty", "SELECT none_match(ARRAY[], x -> x > 1)", True),
    ("doc_reduce_finish", "SELECT reduce(ARRAY[5, 20, 50], 0, (s, x) -> s + x, s -> s * 2)", 150),
    ("doc_try_division", "SELECT try(10 / (2 - 2))", None),
    ("doc_width_bucket", "SELECT width_bucket(5.3, 0, 10, 5)", 3),
    ("doc_hamming_distance", "SELECT hamming_distance('abc', 'abd')", 1),
    (
        "doc_zip",
        "SELECT zip(ARRAY[1, 2], ARRAY['a', 'b'])",
        [{"field0": 1, "field1": "a"}, {"field0": 2, "field1": "b"}],
    ),
    (
        "doc_format_datetime",
        "SELECT format_datetime(TIMESTAMP '2024-03-05 14:07:09.250', "
        "'EEEE, MMMM d, yyyy h:mm:ss.SSS a ''Z''')",
        "Tuesday, March 5, 2024 2:07:09.250 PM Z",  # SQL's '' is a quote: Joda's 'Z' is text
    ),
    ("doc_md5", "SELECT to_hex(md5(to_utf8('a')))", "0CC175B9C0F1B6A831C399E269772661"),
    ("doc_sequence", "SELECT sequence(1, 5)", [1, 2, 3, 4, 5]),
    ("doc_array_distinct", "SELECT array_distinct(ARRAY[1, 2, 2, 3])", [1, 2, 3]),
    ("doc_json_extract_scalar", """SELECT json_extract_scalar('{"a": {"b": 7}}', '$.a.b')""", "7"),
    ("doc_split_part", "SELECT split_part('a,b,c', ',', 2)", "b"),
    ("doc_from_unixtime", "SELECT to_unixtime(from_unixtime(86400))", 86400.0),
    ("doc_day_of_year", "SELECT day_of_year(DATE '2024-03-01')", 61),
    ("doc_chr_codepoint", "SELECT codepoint('A')", 65),
    ("doc_length_of_map", "SELECT cardinality(MAP(ARRAY['a', 'b'], ARRAY[1, 2]))", 2),
    ("doc_array_position", "SELECT array_position(ARRAY[10, 20, 30], 20)", 2),
    (
        "doc_json_extract_scalar_of_object",
        """SELECT json_extract_scalar('{"a": {"b": 7}}', '$.a')""",
        None,
    ),
    ("doc_day_of_week_sunday", "SELECT day_of_week(DATE '2024-03-03')", 7),
    ("doc_integer_division_in_try", "SELECT try(-7 / 2)", -3),
):
    CASES.append(Case(_name, _sql, literal([(_answer,)])))

CASES.append(
    Case(
        "doc_cast_double_rounds_half_away",
        "SELECT CAST(2.5 AS bigint), CAST(-2.5 AS bigint), CAST(DOUBLE '3.5' AS integer)",
        literal([(3, -3, 4)]),
    )
)


@case(
    "date_plus_interval_is_a_date",
    "SELECT name, since + INTERVAL '1' DAY, since - INTERVAL '1' MONTH FROM customers",
)
def _(d: Data) -> Rows:
    def month_before(day: date) -> date:
        year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
        last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
        return date(year, month, min(day.day, last))

    return [
        (c["name"], c["since"] + timedelta(days=1), month_before(c["since"])) for c in d.customers
    ]
