"""Athena's SerDes, read as Athena reads them: each test declares a table with the DDL
of Athena's documentation page for the SerDe, over that page's example data, and
expects the rows the page shows (or, where the page shows none, the rows its data and
the SerDe's documented rule give, written out by hand).

Real catalog (SQLite), real local storage, real DuckDB, through ``StatementRunner``.
"""

# ruff: noqa: E501  (DDL, regexes and log lines copied whole from the documentation)
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from cloudtrail_ddl import COLUMNS
from shoal.catalog.store import CatalogStore
from shoal.engine.duckdb import DuckDBEngine
from shoal.errors import InvalidInputError, ShoalError
from shoal.queries.context import StatementContext
from shoal.queries.runner import StatementRunner
from shoal.storage import LocalStorage


@dataclass
class Lake:
    storage: LocalStorage
    runner: StatementRunner

    def put(self, key: str, data: bytes | str) -> None:
        self.storage.put("lake", key, data.encode() if isinstance(data, str) else data)

    def run(self, sql: str) -> Any:
        return self.runner.run(sql, StatementContext("q-1", database="default"))

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return self.run(sql).rows.to_pylist()

    def scanned(self, sql: str) -> int:
        return self.run(sql).bytes_scanned


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    root = tmp_path / "lake"
    storage = LocalStorage(root)
    storage.create_bucket("lake")
    catalog = CatalogStore(f"sqlite:///{tmp_path / 'catalog.db'}")
    engine = DuckDBEngine([str(root)], str(tmp_path / "spill"), threads=1)
    yield Lake(storage, StatementRunner(catalog, storage, engine))
    engine.close()
    catalog.close()


# --- OpenX / Hive JSON SerDe -------------------------------------------------------------

# The nested example of Athena's "OpenX JSON SerDe" page, one document a line.
NESTED_DOC = {
    "DocId": "AWS",
    "User": {
        "Id": 1234,
        "Username": "bob1234",
        "Name": "Bob",
        "ShippingAddress": {
            "Address1": "123 Main St.", "Address2": None, "City": "Seattle", "State": "WA",
        },
        "Orders": [
            {"ItemId": 6789, "OrderDate": "11/11/2017"},
            {"ItemId": 4352, "OrderDate": "12/12/2017"},
        ],
    },
}  # fmt: skip
NESTED_DDL = """CREATE external TABLE complex_json (
   docid string,
   `user` struct<
               id:INT,
               username:string,
               name:string,
               shippingaddress:struct<
                                      address1:string,
                                      address2:string,
                                      city:string,
                                      state:string
                                      >,
               orders:array<
                            struct<
                                 itemid:INT,
                                  orderdate:string
                                  >
                              >
               >
   )
ROW FORMAT SERDE '{serde}'
LOCATION 's3://lake/myjsondata/'"""
NESTED_ROW = {
    "docid": "AWS",
    "user": {
        "id": 1234, "username": "bob1234", "name": "Bob",
        "shippingaddress": {
            "address1": "123 Main St.", "address2": None, "city": "Seattle", "state": "WA",
        },
        "orders": [
            {"itemid": 6789, "orderdate": "11/11/2017"},
            {"itemid": 4352, "orderdate": "12/12/2017"},
        ],
    },
}  # fmt: skip


@pytest.mark.parametrize(
    "serde", ["org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe"]
)
def test_json_serdes_match_camel_case_keys_at_every_level(lake: Lake, serde: str) -> None:
    lake.put("myjsondata/doc.json", json.dumps(NESTED_DOC) + "\n")
    lake.run(NESTED_DDL.format(serde=serde))
    assert lake.rows("SELECT * FROM complex_json") == [NESTED_ROW]


def test_case_insensitive_false_needs_mappings(lake: Lake) -> None:
    # The page's own example: "case.insensitive" = "FALSE", "mapping.userid" = "userId".
    lake.put("users/u.json", '{"userId": "u1", "name": "Ann", "Name": "ANN"}\n')
    lake.run(
        "CREATE EXTERNAL TABLE users (userid string, name string) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
        'WITH SERDEPROPERTIES ("case.insensitive" = "FALSE", "mapping.userid" = "userId") '
        "LOCATION 's3://lake/users/'"
    )
    assert lake.rows("SELECT * FROM users") == [{"userid": "u1", "name": "Ann"}]


def test_duplicate_keys_once_lower_cased_fail_unless_mapped_apart(lake: Lake) -> None:
    # The page: keys URL and Url collide when lower-cased ("Duplicate key"); with
    # case.insensitive FALSE and mapping.url1/url2 they read into two columns.
    lake.put("urls/u.json", '{"URL": "a", "Url": "b"}\n')
    lake.run(
        "CREATE EXTERNAL TABLE urls (url string) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://lake/urls/'"
    )
    with pytest.raises(ShoalError, match='Duplicate key "url"'):
        lake.rows("SELECT * FROM urls")
    lake.run(
        "CREATE EXTERNAL TABLE urls2 (url1 string, url2 string) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
        'WITH SERDEPROPERTIES ("case.insensitive" = "FALSE", "mapping.url1" = "URL", '
        '"mapping.url2" = "Url") LOCATION \'s3://lake/urls/\''
    )
    assert lake.rows("SELECT * FROM urls2") == [{"url1": "a", "url2": "b"}]


def test_mapping_reads_a_keyword_key_into_another_column(lake: Lake) -> None:
    # The page: a JSON key named timestamp, read into column ts with "mapping.ts".
    lake.put("events/e.json", '{"timestamp": "2017-01-01 10:00:00", "id": 1}\n')
    lake.run(
        "CREATE EXTERNAL TABLE events (ts string, id int) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' "
        'WITH SERDEPROPERTIES ("mapping.ts" = "timestamp") LOCATION \'s3://lake/events/\''
    )
    assert lake.rows("SELECT * FROM events") == [{"ts": "2017-01-01 10:00:00", "id": 1}]


def test_dots_in_keys_read_into_underscored_columns(lake: Lake) -> None:
    # The page: key "a.b" read into column a_b with dots.in.keys TRUE.
    lake.put("dots/d.json", '{"a.b": "x", "c": 1}\n')
    ddl = (
        "CREATE EXTERNAL TABLE {name} (a_b string, c int) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' {props}"
        "LOCATION 's3://lake/dots/'"
    )
    lake.run(ddl.format(name="dots", props="WITH SERDEPROPERTIES ('dots.in.keys' = 'TRUE') "))
    lake.run(ddl.format(name="nodots", props=""))
    assert lake.rows("SELECT * FROM dots") == [{"a_b": "x", "c": 1}]
    assert lake.rows("SELECT * FROM nodots") == [{"a_b": None, "c": 1}]


def test_ignore_malformed_json(lake: Lake) -> None:
    # ignore.malformed.json TRUE: a malformed line is a row of NULLs; FALSE (the
    # default): the query fails with Athena's HIVE_CURSOR_ERROR.
    lake.put("bad/b.json", '{"id": 1}\n{"id": 2\nnot json\n{"id": 3}\n')
    ddl = (
        "CREATE EXTERNAL TABLE {name} (id int) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' {props}LOCATION 's3://lake/bad/'"
    )
    lake.run(ddl.format(name="lenient", props=(
        "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true') "
    )))  # fmt: skip
    lake.run(ddl.format(name="strict", props=""))
    assert lake.rows("SELECT * FROM lenient") == [{"id": 1}, {"id": None}, {"id": None}, {"id": 3}]
    with pytest.raises(ShoalError, match="Row is not a valid JSON Object"):
        lake.rows("SELECT * FROM strict")


def test_lower_and_camel_case_lines_read_alike(lake: Lake) -> None:
    # Lines with lower-case keys take DuckDB's reader, others the SerDe's rewrite:
    # both give the same row; a blank line is no row; a nested object read into a
    # string column is its JSON text.
    lines = [
        '{"id": 1, "detail": {"Bucket": "a", "n": [1, 2]}, "tags": ["x"]}',
        "",
        '{"ID": 2, "Detail": {"Bucket": "b", "n": []}, "Tags": ["y", "z"]}',
        '{"id": 3, "detail": "plain text", "tags": null}',
    ]
    lake.put("mixed/m.json", "\n".join(lines) + "\n")
    lake.run(
        "CREATE EXTERNAL TABLE mixed (id int, detail string, tags array<string>) "
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' LOCATION 's3://lake/mixed/'"
    )
    assert lake.rows("SELECT * FROM mixed ORDER BY id") == [
        {"id": 1, "detail": '{"Bucket":"a","n":[1,2]}', "tags": ["x"]},
        {"id": 2, "detail": '{"Bucket":"b","n":[]}', "tags": ["y", "z"]},
        {"id": 3, "detail": "plain text", "tags": None},
    ]


# --- CloudTrail ---------------------------------------------------------------------------

# Two records as CloudTrail writes them (keys and nesting from CloudTrail's record
# reference), in one gzipped {"Records": [...]} object.
CLOUDTRAIL_RECORDS = [
    {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:bob",
            "arn": "arn:aws:sts::123456789012:assumed-role/Admin/bob",
            "accountId": "123456789012",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": "arn:aws:iam::123456789012:role/Admin",
                    "accountId": "123456789012",
                    "userName": "Admin",
                },
                "attributes": {"creationDate": "2017-02-17T10:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2017-02-17T10:02:03Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2.0",
        "requestParameters": {"bucketName": "lake", "key": "hr/x.csv"},
        "responseElements": None,
        "additionalEventData": {"bytesTransferredOut": 42},
        "requestID": "R1",
        "eventID": "E1",
        "readOnly": True,
        "resources": [{"ARN": "arn:aws:s3:::lake/hr/x.csv", "type": "AWS::S3::Object"}],
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    },
    {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "123456789012"},
        "eventTime": "2017-02-17T11:00:00Z",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "errorCode": None,
        "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"},
        "eventID": "E2",
        "eventType": "AwsConsoleSignIn",
    },
]
# The CloudTrail SerDe page's DDL, columns as written there (camelCase included).
CLOUDTRAIL_DDL = """CREATE EXTERNAL TABLE cloudtrail_logs (
eventversion STRING,
userIdentity STRUCT<
               type:STRING,
               principalid:STRING,
               arn:STRING,
               accountid:STRING,
               invokedby:STRING,
               accesskeyid:STRING,
               userName:STRING,
sessioncontext:STRUCT<
attributes:STRUCT<
               mfaauthenticated:STRING,
               creationdate:STRING>,
sessionIssuer:STRUCT<
               type:STRING,
               principalId:STRING,
               arn:STRING,
               accountId:STRING,
               userName:STRING>>>,
eventTime STRING,
eventSource STRING,
eventName STRING,
awsRegion STRING,
sourceIpAddress STRING,
userAgent STRING,
errorCode STRING,
errorMessage STRING,
requestParameters STRING,
responseElements STRING,
additionalEventData STRING,
requestId STRING,
eventId STRING,
resources ARRAY<STRUCT<
               ARN:STRING,
               accountId:STRING,
               type:STRING>>,
eventType STRING,
apiVersion STRING,
readOnly STRING,
recipientAccountId STRING,
serviceEventDetails STRING,
sharedEventID STRING,
vpcEndpointId STRING
)
ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://lake/AWSLogs/123456789012/'"""
CLOUDTRAIL_KEY = (
    "AWSLogs/123456789012/CloudTrail/us-east-1/2017/02/17/"
    "123456789012_CloudTrail_us-east-1_20170217T1100Z_abc.json.gz"
)


def _put_trail(lake: Lake) -> int:
    data = gzip.compress(json.dumps({"Records": CLOUDTRAIL_RECORDS}).encode())
    lake.put(CLOUDTRAIL_KEY, data)
    return len(data)


def test_cloudtrail_serde_reads_one_row_per_record(lake: Lake) -> None:
    size = _put_trail(lake)
    lake.run(CLOUDTRAIL_DDL)
    # The page's query (its date range moved to the records' day).
    rows = lake.rows(
        "SELECT useridentity.username, sourceipaddress, eventtime, additionaleventdata "
        "FROM default.cloudtrail_logs WHERE eventname = 'ConsoleLogin' "
        "AND eventtime >= '2017-02-17T00:00:00Z' AND eventtime < '2017-02-18T00:00:00Z'"
    )
    assert rows == [{
        "username": "alice", "sourceipaddress": "198.51.100.7",
        "eventtime": "2017-02-17T11:00:00Z",
        "additionaleventdata": '{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com/"}',
    }]  # fmt: skip
    first = lake.rows(
        "SELECT useridentity.sessioncontext.sessionissuer.username AS issuer, "
        "useridentity.sessioncontext.attributes.creationdate AS created, "
        "requestparameters, responseelements, readonly, resources, "
        "json_extract_scalar(requestparameters, '$.bucketName') AS bucket "
        "FROM cloudtrail_logs WHERE eventid = 'E1'"
    )
    assert first == [{
        "issuer": "Admin", "created": "2017-02-17T10:00:00Z",
        "requestparameters": '{"bucketName":"lake","key":"hr/x.csv"}',
        "responseelements": None, "readonly": "true",
        # Struct fields keep the case the DDL wrote them in (shoal's catalog keeps it).
        "resources": [
            {"ARN": "arn:aws:s3:::lake/hr/x.csv", "accountId": None, "type": "AWS::S3::Object"}
        ],
        "bucket": "lake",
    }]  # fmt: skip
    # Bytes scanned are the gzipped file's bytes, read once.
    assert lake.scanned("SELECT count(*) FROM cloudtrail_logs") == size


# AWS's current manual-partitioning DDL for CloudTrail ("Create a table for CloudTrail
# logs in Athena using manual partitioning"): the Hive JSON SerDe over CloudTrail's
# input format, classification cloudtrail.
CURRENT_CLOUDTRAIL_DDL = f"""CREATE EXTERNAL TABLE cloudtrail_logs {COLUMNS}
COMMENT 'CloudTrail table for amzn-s3-demo-bucket bucket'
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://lake/AWSLogs/123456789012/'
TBLPROPERTIES ('classification'='cloudtrail')"""


def test_current_cloudtrail_ddl_hive_json_serde_over_cloudtrail_input(lake: Lake) -> None:
    _put_trail(lake)
    lake.run(CURRENT_CLOUDTRAIL_DDL)
    rows = lake.rows(
        "SELECT useridentity.arn, eventname, sourceipaddress, eventtime, "
        "useridentity.sessioncontext.sessionissuer.username AS issuer, readonly, "
        "resources[1].arn AS resource FROM cloudtrail_logs ORDER BY eventtime LIMIT 100"
    )
    assert rows == [
        {"arn": "arn:aws:sts::123456789012:assumed-role/Admin/bob", "eventname": "GetObject",
         "sourceipaddress": "192.0.2.1", "eventtime": "2017-02-17T10:02:03Z",
         "issuer": "Admin", "readonly": "true", "resource": "arn:aws:s3:::lake/hr/x.csv"},
        {"arn": None, "eventname": "ConsoleLogin", "sourceipaddress": "198.51.100.7",
         "eventtime": "2017-02-17T11:00:00Z", "issuer": None, "readonly": None,
         "resource": None},
    ]  # fmt: skip


def test_json_serde_variant_reads_the_records_array(lake: Lake) -> None:
    # The JSON SerDe form of a CloudTrail table: one column, Records, over the same files.
    _put_trail(lake)
    lake.run(
        "CREATE EXTERNAL TABLE cloudtrail_json (Records ARRAY<STRUCT<eventName: STRING, "
        "eventTime: STRING, userIdentity: STRUCT<type: STRING, userName: STRING>, "
        "requestParameters: STRING>>) "
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe' "
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat' "
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat' "
        "LOCATION 's3://lake/AWSLogs/123456789012/'"
    )
    rows = lake.rows(
        "SELECT r.eventname, r.useridentity.type AS who, r.requestparameters "
        "FROM cloudtrail_json CROSS JOIN UNNEST(records) AS t(r) ORDER BY r.eventtime"
    )
    assert rows == [
        {"eventname": "GetObject", "who": "AssumedRole",
         "requestparameters": '{"bucketName":"lake","key":"hr/x.csv"}'},
        {"eventname": "ConsoleLogin", "who": "IAMUser", "requestparameters": None},
    ]  # fmt: skip


def test_partitioned_cloudtrail_table(lake: Lake) -> None:
    # The manual-partition form of AWS's CloudTrail table: PARTITIONED BY and
    # ALTER TABLE ADD PARTITION per region and day; each row has its partition's values.
    for region, name in (("us-east-1", "GetObject"), ("eu-west-1", "PutObject")):
        record = {**CLOUDTRAIL_RECORDS[0], "awsRegion": region, "eventName": name}
        key = f"AWSLogs/123456789012/CloudTrail/{region}/2017/02/17/{region}.json.gz"
        lake.put(key, gzip.compress(json.dumps({"Records": [record]}).encode()))
    lake.run(
        "CREATE EXTERNAL TABLE trail (eventname STRING, awsregion STRING) "
        "PARTITIONED BY (region string, year string, month string, day string) "
        "ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde' "
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat' "
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat' "
        "LOCATION 's3://lake/AWSLogs/123456789012/CloudTrail/'"
    )
    for region in ("us-east-1", "eu-west-1"):
        lake.run(
            f"ALTER TABLE trail ADD PARTITION (region='{region}', year='2017', month='02', "
            f"day='17') LOCATION 's3://lake/AWSLogs/123456789012/CloudTrail/{region}/2017/02/17/'"
        )
    assert lake.rows("SELECT eventname, awsregion, region, day FROM trail ORDER BY region") == [
        {"eventname": "PutObject", "awsregion": "eu-west-1", "region": "eu-west-1", "day": "17"},
        {"eventname": "GetObject", "awsregion": "us-east-1", "region": "us-east-1", "day": "17"},
    ]
    assert lake.rows("SELECT count(*) AS n FROM trail WHERE region = 'eu-west-1'") == [{"n": 1}]


# --- RegexSerDe ---------------------------------------------------------------------------

# The Regex SerDe page's CloudFront example (its regex, its columns).
CLOUDFRONT_DDL = r"""CREATE EXTERNAL TABLE IF NOT EXISTS cloudfront_logs (
  `Date` DATE,
  Time STRING,
  Location STRING,
  Bytes INT,
  RequestIP STRING,
  Method STRING,
  Host STRING,
  Uri STRING,
  Status INT,
  Referrer STRING,
  os STRING,
  Browser STRING,
  BrowserVersion STRING
  ) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
  WITH SERDEPROPERTIES (
  "input.regex" = "^(?!#)([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+([^ ]+)\\s+[^\(]+[\(]([^\;]+).*\%20([^\/]+)[\/](.*)$"
  ) LOCATION 's3://lake/cloudfront/plaintext/'"""
# CloudFront's sample log lines (a comment header, then tab-separated fields).
CLOUDFRONT_LOG = (
    "#Version: 1.0\n"
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem "
    "sc-status cs(Referer) cs(User-Agent) cs-uri-query\n"
    "2014-07-05\t20:00:09\tDFW3\t4260\t10.0.0.15\tGET\teabcd12345678.cloudfront.net\t"
    "/test-image-1.jpeg\t200\t-\tMozilla/5.0%20(MacOS;%20U;%20Windows%20NT%205.1;%20en-US;"
    "%20rv:1.9.0.9)%20Gecko/2009040821%20IE/3.0.9\n"
)


def test_regex_serde_cloudfront_example(lake: Lake) -> None:
    lake.put("cloudfront/plaintext/log.txt", CLOUDFRONT_LOG)
    lake.run(CLOUDFRONT_DDL)
    rows = lake.rows("SELECT * FROM cloudfront_logs")
    # The two comment lines do not match (?!#): rows of NULLs, as the page says.
    assert rows[:2] == [dict.fromkeys(rows[2], None)] * 2
    assert rows[2] == {
        "date": date(2014, 7, 5), "time": "20:00:09", "location": "DFW3", "bytes": 4260,
        "requestip": "10.0.0.15", "method": "GET", "host": "eabcd12345678.cloudfront.net",
        "uri": "/test-image-1.jpeg", "status": 200, "referrer": "-", "os": "MacOS",
        "browser": "IE", "browserversion": "3.0.9",
    }  # fmt: skip


def test_regex_serde_needs_a_valid_regex(lake: Lake) -> None:
    base = "CREATE EXTERNAL TABLE r (a string) ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe' "
    with pytest.raises(InvalidInputError, match="input.regex"):
        lake.run(base + "LOCATION 's3://lake/r/'")
    with pytest.raises(InvalidInputError, match="not a valid regular expression"):
        lake.run(base + "WITH SERDEPROPERTIES ('input.regex' = '(a') LOCATION 's3://lake/r/'")


# --- GrokSerDe ----------------------------------------------------------------------------

POSTFIX_LOG = (
    "Feb  9 07:15:00 m4eastmail postfix/smtpd[19305]: B88C4120838: connect from unknown[192.168.55.4]\n"
    "Feb  9 07:15:00 m4eastmail postfix/smtpd[20444]: B58C4330038: client=unknown[192.168.55.4]\n"
    "Feb  9 07:15:03 m4eastmail postfix/cleanup[22835]: BDC22A77854: message-id=<31221401257553.5004389LCBF@m4eastmail.example.com>\n"
)


def test_grok_serde_postfix_example(lake: Lake) -> None:
    # Example 1 of the Grok SerDe page: %{SYSLOGBASE} fills column syslogbase.
    lake.put("groksample/maillog", POSTFIX_LOG)
    lake.run(
        "CREATE EXTERNAL TABLE `mygroktable`( syslogbase string, queue_id string, "
        "syslog_message string ) ROW FORMAT SERDE 'com.amazonaws.glue.serde.GrokSerDe' "
        "WITH SERDEPROPERTIES ( 'input.grokCustomPatterns' = 'POSTFIX_QUEUEID [0-9A-F]{7,12}', "
        "'input.format'='%{SYSLOGBASE} %{POSTFIX_QUEUEID:queue_id}: %{GREEDYDATA:syslog_message}' ) "
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat' "
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat' "
        "LOCATION 's3://lake/groksample/'"
    )
    assert lake.rows("SELECT * FROM mygroktable") == [
        {"syslogbase": "Feb  9 07:15:00 m4eastmail postfix/smtpd[19305]:",
         "queue_id": "B88C4120838", "syslog_message": "connect from unknown[192.168.55.4]"},
        {"syslogbase": "Feb  9 07:15:00 m4eastmail postfix/smtpd[20444]:",
         "queue_id": "B58C4330038", "syslog_message": "client=unknown[192.168.55.4]"},
        {"syslogbase": "Feb  9 07:15:03 m4eastmail postfix/cleanup[22835]:",
         "queue_id": "BDC22A77854",
         "syslog_message": "message-id=<31221401257553.5004389LCBF@m4eastmail.example.com>"},
    ]  # fmt: skip


def test_grok_serde_log4j_example_types_its_columns(lake: Lake) -> None:
    # Example 2 of the page: the log entry (wrapped on the page) is one line, its
    # separators single spaces as the page's input.format maps them.
    line = (
        "2017-09-12 12:10:34,972 INFO - processType=AZ, processId=ABCDEFG614B6F5E49, "
        "status=RUN, threadId=123:amqListenerContainerPool23P:AJ|ABCDE9614B6F5E49||"
        "2017-09-12T12:10:11.172-0700], executionTime=7290, tenantId=12456, "
        "userId=123123f8535f8d76015374e7a1d87c3c, shard=testapp1, "
        "jobId=12312345e5e7df0015e777fb2e03f3c, messageType=REAL_TIME_SYNC, "
        "action=receive, hostname=1.abc.def.com\n"
    )
    lake.put("samples/log4j.log", line + "not a log4j line\n")
    lake.run(
        "CREATE EXTERNAL TABLE bltest ( timestamp STRING, loglevel STRING, processtype STRING, "
        "processid STRING, status STRING, threadid STRING, executiontime INT, tenantid INT, "
        "userid STRING, shard STRING, jobid STRING, messagetype STRING, action STRING, "
        "hostname STRING ) ROW FORMAT SERDE 'com.amazonaws.glue.serde.GrokSerDe' "
        "WITH SERDEPROPERTIES ( \"input.grokCustomPatterns\" = 'C_ACTION receive|send', "
        '"input.format" = "%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:loglevel} - '
        "processType=%{NOTSPACE:processtype}, processId=%{NOTSPACE:processid}, "
        "status=%{NOTSPACE:status}, threadId=%{NOTSPACE:threadid}, "
        "executionTime=%{POSINT:executiontime}, tenantId=%{POSINT:tenantid}, "
        "userId=%{NOTSPACE:userid}, shard=%{NOTSPACE:shard}, jobId=%{NOTSPACE:jobid}, "
        "messageType=%{NOTSPACE:messagetype}, action=%{C_ACTION:action}, "
        'hostname=%{HOST:hostname}" ) '
        "STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat' "
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat' "
        "LOCATION 's3://lake/samples/'"
    )
    rows = lake.rows("SELECT * FROM bltest")
    assert rows[0] == {
        "timestamp": "2017-09-12 12:10:34,972", "loglevel": "INFO", "processtype": "AZ",
        "processid": "ABCDEFG614B6F5E49", "status": "RUN",
        "threadid": "123:amqListenerContainerPool23P:AJ|ABCDE9614B6F5E49||2017-09-12T12:10:11.172-0700]",
        "executiontime": 7290, "tenantid": 12456,
        "userid": "123123f8535f8d76015374e7a1d87c3c", "shard": "testapp1",
        "jobid": "12312345e5e7df0015e777fb2e03f3c", "messagetype": "REAL_TIME_SYNC",
        "action": "receive", "hostname": "1.abc.def.com",
    }  # fmt: skip
    assert rows[1] == dict.fromkeys(rows[0], None)  # no match: a row of NULLs


def test_grok_serde_s3_access_log_example(lake: Lake) -> None:
    # Example 3 of the page: two custom patterns separated by \n.
    log = (
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 "
        "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE "
        'REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - '
        '"-" "S3Console/0.4" -\n'
    )
    lake.put("s3_access/log", log)
    lake.run(
        r"""CREATE EXTERNAL TABLE `s3_access_auto_raw_02`(
  `bucket_owner` string, `bucket` string, `time` string, `remote_ip` string,
  `requester` string, `request_id` string, `operation` string, `key` string,
  `request_uri` string, `http_status` string, `error_code` string, `bytes_sent` string,
  `object_size` string, `total_time` string, `turnaround_time` string, `referrer` string,
  `user_agent` string, `version_id` string)
ROW FORMAT SERDE 'com.amazonaws.glue.serde.GrokSerDe'
WITH SERDEPROPERTIES (
  'input.format'='%{NOTSPACE:bucket_owner} %{NOTSPACE:bucket} \\[%{INSIDE_BRACKETS:time}\\] %{NOTSPACE:remote_ip} %{NOTSPACE:requester} %{NOTSPACE:request_id} %{NOTSPACE:operation} %{NOTSPACE:key} \"?%{INSIDE_QS:request_uri}\"? %{NOTSPACE:http_status} %{NOTSPACE:error_code} %{NOTSPACE:bytes_sent} %{NOTSPACE:object_size} %{NOTSPACE:total_time} %{NOTSPACE:turnaround_time} \"?%{INSIDE_QS:referrer}\"? \"?%{INSIDE_QS:user_agent}\"? %{NOTSPACE:version_id}',
  'input.grokCustomPatterns'='INSIDE_QS ([^\"]*)\nINSIDE_BRACKETS ([^\\]]*)')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://lake/s3_access/'"""
    )
    (row,) = lake.rows("SELECT * FROM s3_access_auto_raw_02")
    assert row == {
        "bucket_owner": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        "bucket": "awsexamplebucket1", "time": "06/Feb/2019:00:00:38 +0000",
        "remote_ip": "192.0.2.3",
        "requester": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        "request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.VERSIONING", "key": "-",
        "request_uri": "GET /awsexamplebucket1?versioning HTTP/1.1", "http_status": "200",
        "error_code": "-", "bytes_sent": "113", "object_size": "-", "total_time": "7",
        "turnaround_time": "-", "referrer": "-", "user_agent": "S3Console/0.4",
        "version_id": "-",
    }  # fmt: skip


def test_grok_serde_refuses_unknown_patterns(lake: Lake) -> None:
    with pytest.raises(InvalidInputError, match="NO_SUCH_PATTERN"):
        lake.run(
            "CREATE EXTERNAL TABLE g (a string) ROW FORMAT SERDE "
            "'com.amazonaws.glue.serde.GrokSerDe' WITH SERDEPROPERTIES "
            "('input.format' = '%{NO_SUCH_PATTERN:a}') LOCATION 's3://lake/g/'"
        )


@pytest.mark.parametrize("function", ["__shoal_text_fields", "__shoal_json_rows"])
def test_serde_reader_functions_are_for_scans_only(lake: Lake, function: str) -> None:
    # User SQL cannot call the readers (a pathological regex would run uninterruptibly).
    with pytest.raises(ShoalError, match=function):
        lake.rows(f'SELECT {function}(\'aaaa\', \'["regex",[["a","string"]],[]]\')')


# --- OpenCSVSerde -------------------------------------------------------------------------


def test_open_csv_serde_example(lake: Lake) -> None:
    # The page's example, header line skipped as its "Ignore headers" section shows.
    lake.put("mycsv/data.csv", '"a1","a2","a3","a4"\n"1","2","abc","def"\n"a","a1","abc3","ab4"\n')
    ddl = (
        "CREATE EXTERNAL TABLE {name} ( col1 string, col2 string, col3 string, col4 string ) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' "
        "WITH SERDEPROPERTIES ( 'separatorChar' = ',', 'quoteChar' = '\"', "
        "'escapeChar' = '\\\\' ) STORED AS TEXTFILE LOCATION 's3://lake/mycsv/' {props}"
    )
    lake.run(ddl.format(name="myopencsvtable", props=""))
    lake.run(ddl.format(name="headless", props="TBLPROPERTIES ('skip.header.line.count'='1')"))
    assert lake.rows("SELECT * FROM myopencsvtable") == [
        {"col1": "a1", "col2": "a2", "col3": "a3", "col4": "a4"},
        {"col1": "1", "col2": "2", "col3": "abc", "col4": "def"},
        {"col1": "a", "col2": "a1", "col3": "abc3", "col4": "ab4"},
    ]
    assert len(lake.rows("SELECT * FROM headless")) == 2


def test_open_csv_serde_escapes(lake: Lake) -> None:
    # "Example: Escaping \t or \n": with escapeChar \\, \\t reads as \t (two characters).
    lake.put("dataset/test1/data.csv", '" \\\\t\\\\t\\\\n 123 \\\\t\\\\t\\\\n ",abc\n" 456 ",xyz\n')
    lake.run(
        "CREATE EXTERNAL TABLE test1 ( f1 string, s2 string) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' "
        'WITH SERDEPROPERTIES ("separatorChar" = ",", "escapeChar" = "\\\\") '
        "LOCATION 's3://lake/dataset/test1/'"
    )
    assert lake.rows("SELECT * FROM test1") == [
        {"f1": " \\t\\t\\n 123 \\t\\t\\n ", "s2": "abc"},
        {"f1": " 456 ", "s2": "xyz"},
    ]


def test_open_csv_serde_empty_fields_are_empty_strings(lake: Lake) -> None:
    # OpenCSVSerde has no NULL marker: an empty field, quoted or not, is ''.
    lake.put("empty/data.csv", '"a","",\n')
    lake.run(
        "CREATE EXTERNAL TABLE empty (x string, y string, z string) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' LOCATION 's3://lake/empty/'"
    )
    assert lake.rows("SELECT * FROM empty") == [{"x": "a", "y": "", "z": ""}]


def test_open_csv_serde_unix_dates_and_timestamps(lake: Lake) -> None:
    # The page's example: DATE as days since 1970-01-01, TIMESTAMP as epoch milliseconds.
    lake.put(
        "testtimestamp1/data.csv",
        '"unixvalue creationdate 18276 creationdatetime 1579059880000","18276","1579059880000"\n',
    )
    lake.run(
        "CREATE EXTERNAL TABLE IF NOT EXISTS testtimestamp1( `profile_id` string, "
        "`creationdate` date, `creationdatetime` timestamp ) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' "
        "LOCATION 's3://lake/testtimestamp1/'"
    )
    assert lake.rows("SELECT * FROM testtimestamp1") == [{
        "profile_id": "unixvalue creationdate 18276 creationdatetime 1579059880000",
        "creationdate": date(2020, 1, 15),
        "creationdatetime": datetime(2020, 1, 15, 3, 44, 40),
    }]  # fmt: skip


# --- LazySimpleSerDe ----------------------------------------------------------------------


def test_lazy_simple_serde_escape_null_format_and_header(lake: Lake) -> None:
    # ROW FORMAT DELIMITED as "Use a SerDe to create a table" writes it: fields at ',',
    # escaped by '\\', collections at '|', map keys at ':'; NULL DEFINED AS 'NA'.
    lake.put(
        "flights/data.csv",
        "id,name,tags,attrs\n1,Smith\\, John,a|b,k1:v1|k2:v2\n2,NA,NA,k:v\n",
    )
    lake.run(
        "CREATE EXTERNAL TABLE flights (id int, name string, tags array<string>, "
        "attrs map<string,string>) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        "ESCAPED BY '\\\\' COLLECTION ITEMS TERMINATED BY '|' MAP KEYS TERMINATED BY ':' "
        "NULL DEFINED AS 'NA' LOCATION 's3://lake/flights/' "
        "TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    assert lake.rows("SELECT * FROM flights") == [
        {"id": 1, "name": "Smith, John", "tags": ["a", "b"],
         "attrs": [("k1", "v1"), ("k2", "v2")]},
        {"id": 2, "name": None, "tags": None, "attrs": [("k", "v")]},
    ]  # fmt: skip
