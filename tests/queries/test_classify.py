from __future__ import annotations

import pytest

from shoal.errors import InvalidInputError
from shoal.queries.classify import STATEMENT_TYPES, classify


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "SELECT"),
        ("  -- note\n with t as (select 1) select * from t", "SELECT"),
        ("/* x */ (SELECT 1)", "SELECT"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
        ("DESCRIBE sample.trips", "DESCRIBE"),
        ("SHOW SCHEMAS", "SHOW_DATABASES"),
        ("show tables in sample", "SHOW_TABLES"),
        ("SHOW PARTITIONS trips", "SHOW_PARTITIONS"),
        ("SHOW CREATE TABLE trips", "SHOW_CREATE_TABLE"),
        ("CREATE DATABASE IF NOT EXISTS x", "CREATE_DATABASE"),
        ("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/t/'", "CREATE_TABLE"),
        ("CREATE TABLE t WITH (format='PARQUET') AS SELECT 1 AS a", "CREATE_TABLE_AS_SELECT"),
        ("create table t as\n(select 1)", "CREATE_TABLE_AS_SELECT"),
        ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE_VIEW"),
        ("ALTER TABLE t ADD IF NOT EXISTS PARTITION (dt='1')", "ALTER_TABLE_ADD_PARTITION"),
        ("ALTER TABLE t DROP PARTITION (dt='1')", "ALTER_TABLE_DROP_PARTITION"),
        ("MSCK REPAIR TABLE t", "MSCK_REPAIR_TABLE"),
        ("INSERT INTO t SELECT 1", "INSERT"),
        ("UNLOAD (SELECT 1) TO 's3://b/x/' WITH (format = 'PARQUET')", "UNLOAD"),
        ("DROP VIEW v", "DROP_VIEW"),
        ("DROP TABLE IF EXISTS t;", "DROP_TABLE"),
    ],
)
def test_kinds(sql: str, kind: str) -> None:
    assert classify(sql) == kind
    assert kind in STATEMENT_TYPES


@pytest.mark.parametrize("sql", ["", "  ;  ", "-- only a comment", "COPY t TO '/tmp/x'", "SET a=1"])
def test_unsupported_or_empty(sql: str) -> None:
    with pytest.raises(InvalidInputError):
        classify(sql)
