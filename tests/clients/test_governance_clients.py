"""Governance through real clients: three users in two groups, each sees what its role allows.

Set up as root through the IAM API (boto3 ``iam``) and ``shoal role-mappings``:

* group ``analysts`` (ana, ben) maps to role ``analysts``: may query ``sample.trips``
  and ``sample.zones`` (not ``sample.cloudtrail``), write results and ``scratch/``;
* ``eve`` is only in group ``engineers``, which no mapping names: she acts as the
  weak base role and is refused everything;
* root (the bootstrap admin) may do everything.

A query reading a denied table is accepted by StartQueryExecution and ends FAILED
with the AccessDenied reason before anything runs, as Athena reports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shoal.audit.journal import read_journal_lines

from .athena_runs import run_query
from .sample_server import RESULTS_BUCKET
from .server import ShoalServer

pytest_plugins = [f"{__package__}.sample_server"]

Client = Callable[[str], Any]
SUFFIX = uuid.uuid4().hex[:8]
ANALYSTS, ENGINEERS, ROLE = f"analysts-{SUFFIX}", f"engineers-{SUFFIX}", f"analysts-{SUFFIX}"
ANA, BEN, EVE = f"ana-{SUFFIX}", f"ben-{SUFFIX}", f"eve-{SUFFIX}"
TABLE_ARN = "arn:aws:glue:*:*:table/sample/"
ANALYST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Athena", "Effect": "Allow", "Action": "athena:*", "Resource": "*"},
        {
            "Sid": "Catalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase*", "glue:GetTable", "glue:GetTables"],
            "Resource": [
                "arn:aws:glue:*:*:catalog",
                "arn:aws:glue:*:*:database/sample",
                TABLE_ARN + "trips",
                TABLE_ARN + "zones",
            ],
        },
        {
            "Sid": "Data",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": ["arn:aws:s3:::samples/trips/*", "arn:aws:s3:::samples/zones/*"],
        },
        {
            "Sid": "CreateOwn",
            "Effect": "Allow",
            "Action": "glue:CreateTable",
            "Resource": TABLE_ARN + "gov_*",
        },
        {
            "Sid": "Write",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{RESULTS_BUCKET}/*", "arn:aws:s3:::samples/scratch/*"],
        },
    ],
}


def _cli(server: ShoalServer, *args: str) -> None:
    cmd = [sys.executable, "-m", "shoal.cli", "--data", str(server.data_dir), *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def keys(sample_server: ShoalServer) -> dict[str, dict[str, str]]:
    """Create the users, groups, role and mappings as root; each user's access key."""
    iam = sample_server.client("iam")
    keys = {}
    for name in (ANA, BEN, EVE):
        iam.create_user(UserName=name)
        keys[name] = iam.create_access_key(UserName=name)["AccessKey"]
    for group, members in ((ANALYSTS, [ANA, BEN]), (ENGINEERS, [BEN, EVE])):
        iam.create_group(GroupName=group)
        for member in members:
            iam.add_user_to_group(GroupName=group, UserName=member)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    policy = iam.create_policy(PolicyName=ROLE, PolicyDocument=json.dumps(ANALYST_POLICY))
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=policy["Policy"]["Arn"])
    _cli(sample_server, "role-mappings", "add", "--role", ROLE, "--group", ANALYSTS)
    return keys


@pytest.fixture(scope="module")
def users(sample_server: ShoalServer, keys: dict[str, dict[str, str]]) -> dict[str, Client]:
    """A boto3 client factory per user (``users[name](service)``), and root's."""

    def factory(name: str) -> Client:
        key = keys[name]
        return lambda service: sample_server.client(
            service,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    return {name: factory(name) for name in (ANA, BEN, EVE)} | {"root": sample_server.client}


def _query(athena: Any, sql: str) -> dict[str, Any]:
    return run_query(athena, sql, f"s3://{RESULTS_BUCKET}/gov/")


def _denied(call: Callable[[], Any], code: str) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code
    return str(caught.value.response["Error"]["Message"])


def test_analysts_query_allowed_tables(users: dict[str, Client]) -> None:
    sql = "SELECT (SELECT count(*) FROM trips) + (SELECT count(*) FROM zones)"
    for name in (ANA, BEN):
        execution = _query(users[name]("athena"), sql)
        assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]


def test_a_join_with_a_denied_table_fails_before_it_runs(users: dict[str, Client]) -> None:
    sql = "SELECT count(*) FROM trips CROSS JOIN cloudtrail"
    execution = _query(users[ANA]("athena"), sql)
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert execution["Statistics"].get("DataScannedInBytes", 0) == 0  # nothing was read
    reason = status["StateChangeReason"]
    assert f"user/{ANA} is not authorized to perform: glue:GetTable" in reason
    assert "table/sample/cloudtrail" in reason and "trips" not in reason.split("because")[0]
    assert status["AthenaError"] == {
        "ErrorCategory": 2,  # USER
        "ErrorType": status["AthenaError"]["ErrorType"],
        "Retryable": False,
        "ErrorMessage": reason,
    }


def test_pyathena_sees_the_same_rules(
    users: dict[str, Client], keys: dict[str, dict[str, str]], sample_server: ShoalServer
) -> None:
    pyathena = pytest.importorskip("pyathena")
    conn = pyathena.connect(
        s3_staging_dir=f"s3://{RESULTS_BUCKET}/pyathena-gov/",
        region_name=sample_server.region,
        endpoint_url=sample_server.url,
        aws_access_key_id=keys[BEN]["AccessKeyId"],
        aws_secret_access_key=keys[BEN]["SecretAccessKey"],
        schema_name="sample",
        poll_interval=0.05,
    )
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM zones")
        assert cursor.fetchone()[0] > 0
        with pytest.raises(pyathena.error.OperationalError, match="table/sample/cloudtrail"):
            cursor.execute("SELECT count(*) FROM zones CROSS JOIN cloudtrail")
    finally:
        conn.close()


def test_ctas_into_a_denied_location_needs_s3_put_object(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    target = f"s3://samples/cloudtrail/gov_{SUFFIX}/"
    sql = f"CREATE TABLE gov_{SUFFIX} WITH (external_location = '{target}') AS SELECT * FROM zones"
    status = _query(users[ANA]("athena"), sql)["Status"]
    assert status["State"] == "FAILED"
    assert (
        "s3:PutObject on resource: arn:aws:s3:::samples/cloudtrail/gov_"
        in status["StateChangeReason"]
    )
    assert not (sample_server.lake / "samples" / "cloudtrail" / f"gov_{SUFFIX}").exists()
    tables = users["root"]("glue").get_tables(DatabaseName="sample")["TableList"]
    assert f"gov_{SUFFIX}" not in {t["Name"] for t in tables}


def test_glue_get_tables_lists_only_permitted_tables(users: dict[str, Client]) -> None:
    names = {t["Name"] for t in users[ANA]("glue").get_tables(DatabaseName="sample")["TableList"]}
    assert names == {"trips", "zones"}
    everything = users["root"]("glue").get_tables(DatabaseName="sample")["TableList"]
    assert {"trips", "zones", "cloudtrail"} <= {t["Name"] for t in everything}
    listed = users[ANA]("athena").list_table_metadata(
        CatalogName="AwsDataCatalog", DatabaseName="sample"
    )
    assert {t["Name"] for t in listed["TableMetadataList"]} == {"trips", "zones"}


def test_glue_get_table_of_a_denied_table_is_access_denied(users: dict[str, Client]) -> None:
    glue = users[ANA]("glue")
    message = _denied(
        lambda: glue.get_table(DatabaseName="sample", Name="cloudtrail"), "AccessDeniedException"
    )
    assert "glue:GetTable on resource: arn:aws:glue:" in message
    assert glue.get_table(DatabaseName="sample", Name="trips")["Table"]["Name"] == "trips"


def test_s3_put_into_a_denied_prefix_is_refused_and_writes_nothing(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    s3 = users[ANA]("s3")
    key = f"cloudtrail/planted-{SUFFIX}.json"
    message = _denied(lambda: s3.put_object(Bucket="samples", Key=key, Body=b"{}"), "AccessDenied")
    assert f"s3:PutObject on resource: arn:aws:s3:::samples/{key}" in message
    assert not (sample_server.lake / "samples" / key).exists()
    s3.put_object(Bucket="samples", Key=f"scratch/ok-{SUFFIX}.txt", Body=b"fine")
    assert (sample_server.lake / "samples" / "scratch" / f"ok-{SUFFIX}.txt").read_bytes() == b"fine"


def test_a_user_without_mapping_acts_as_the_base_role(users: dict[str, Client]) -> None:
    message = _denied(
        lambda: users[EVE]("glue").get_tables(DatabaseName="sample"), "AccessDeniedException"
    )
    assert "role shoal-base, base role (no mapping matched)" in message
    _denied(
        lambda: users[EVE]("s3").get_object(Bucket="samples", Key="zones/zones.csv"), "AccessDenied"
    )
    _denied(
        lambda: users[EVE]("athena").start_query_execution(QueryString="SELECT 1"),
        "AccessDeniedException",
    )
    _denied(lambda: users[EVE]("iam").list_users(), "AccessDenied")


def test_root_can_do_everything(users: dict[str, Client]) -> None:
    status = _query(users["root"]("athena"), "SELECT count(*) FROM trips CROSS JOIN cloudtrail")
    assert status["Status"]["State"] == "SUCCEEDED"
    users["root"]("s3").put_object(Bucket=RESULTS_BUCKET, Key=f"root-{SUFFIX}", Body=b"x")


def test_mapping_changes_take_effect_on_the_next_request(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    glue = users[EVE]("glue")
    _denied(lambda: glue.get_table(DatabaseName="sample", Name="zones"), "AccessDeniedException")
    _cli(sample_server, "role-mappings", "add", "--role", ROLE, "--user", EVE)
    assert glue.get_table(DatabaseName="sample", Name="zones")["Table"]["Name"] == "zones"


def _journal_records(server: ShoalServer) -> list[dict[str, Any]]:
    """Every audit record the server has written so far (journal segments, not rolled;
    not the intents of S3 writes: the journal's own reader tells them apart)."""
    journal = sorted((server.data_dir / "audit" / "journal").glob("*.jsonl"))
    return [record for path in journal for record in read_journal_lines(path)]


def test_audit_records_name_the_role_and_the_mapping(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    glue = users[ANA]("glue")
    glue.get_tables(DatabaseName="sample")
    _denied(
        lambda: glue.get_table(DatabaseName="sample", Name="cloudtrail"), "AccessDeniedException"
    )
    users["root"]("glue").get_databases()
    records = _journal_records(sample_server)
    mine = [r for r in records if r["userIdentity"].get("userName") == ANA]
    allowed = [r for r in mine if r["eventName"] == "GetTables" and not r["errorCode"]]
    denied = [r for r in mine if r["eventName"] == "GetTable" and r["errorCode"]]
    assert allowed and denied
    assert allowed[-1]["additionalEventData"]["role"] == ROLE
    assert f"(group {ANALYSTS})" in allowed[-1]["additionalEventData"]["roleMapping"]
    assert denied[-1]["additionalEventData"]["role"] == ROLE
    assert f"(group {ANALYSTS})" in denied[-1]["additionalEventData"]["roleMapping"]
    root = [r for r in records if r["eventName"] == "GetDatabases"]
    assert root[-1]["additionalEventData"]["role"] == "admin"


def _listed(athena: Any, sql: str) -> list[str]:
    """The one-column answer of a SHOW statement (DDL results have no header row)."""
    execution = _query(athena, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    query_id = execution["QueryExecutionId"]
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    return [row["Data"][0]["VarCharValue"] for row in rows]


def test_show_statements_list_only_what_the_caller_may_get(users: dict[str, Client]) -> None:
    other = f"other_{SUFFIX}"  # a database the analysts may not get
    users["root"]("glue").create_database(DatabaseInput={"Name": other})
    athena = users[ANA]("athena")
    assert _listed(athena, "SHOW TABLES") == ["trips", "zones"]
    assert _listed(athena, "SHOW TABLES IN sample LIKE '*t*'") == ["trips"]
    assert _listed(athena, "SHOW VIEWS") == []
    assert _listed(athena, "SHOW DATABASES") == ["sample"]
    root = users["root"]("athena")
    assert {"trips", "zones", "cloudtrail"} <= set(_listed(root, "SHOW TABLES"))
    assert {"sample", other} <= set(_listed(root, "SHOW DATABASES"))


def test_iam_follows_policies_for_non_admins(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    _denied(lambda: users[ANA]("iam").list_users(), "AccessDenied")
    iam, reader, role = users["root"]("iam"), f"ivy-{SUFFIX}", f"iam-readers-{SUFFIX}"
    iam.create_user(UserName=reader)
    key = iam.create_access_key(UserName=reader)["AccessKey"]
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    allow = {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    iam.put_role_policy(RoleName=role, PolicyName="list-users", PolicyDocument=document)
    _cli(sample_server, "role-mappings", "add", "--role", role, "--user", reader)
    theirs = sample_server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    assert reader in {u["UserName"] for u in theirs.list_users()["Users"]}
    message = _denied(lambda: theirs.create_user(UserName=f"x-{SUFFIX}"), "AccessDenied")
    assert "iam:CreateUser" in message


def test_only_admins_act_on_admin_users(
    users: dict[str, Client], sample_server: ShoalServer
) -> None:
    iam, keeper, role = users["root"]("iam"), f"kim-{SUFFIX}", f"key-keepers-{SUFFIX}"
    iam.create_user(UserName=keeper)
    key = iam.create_access_key(UserName=keeper)["AccessKey"]
    iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
    allow = {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    iam.put_role_policy(RoleName=role, PolicyName="keys", PolicyDocument=document)
    _cli(sample_server, "role-mappings", "add", "--role", role, "--user", keeper)
    theirs = sample_server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    # The policy allows CreateAccessKey on every user, but root is an admin: refused.
    message = _denied(lambda: theirs.create_access_key(UserName="root"), "AccessDenied")
    assert "only an admin may change an admin user" in message
    minted = theirs.create_access_key(UserName=ANA)["AccessKey"]  # a plain user: allowed
    assert minted["UserName"] == ANA


def test_awswrangler_sees_the_same_rules(
    keys: dict[str, dict[str, str]], sample_server: ShoalServer
) -> None:
    """``wr.athena.read_sql_query`` (CSV results) as an analyst: allowed on ``trips``,
    QueryFailed with the denial as the reason on ``cloudtrail``."""
    wr = pytest.importorskip("awswrangler")
    import boto3

    session = boto3.Session(
        aws_access_key_id=keys[ANA]["AccessKeyId"],
        aws_secret_access_key=keys[ANA]["SecretAccessKey"],
        region_name=sample_server.region,
    )
    services = ("athena", "glue", "s3", "sts")
    for service in services:
        setattr(wr.config, f"{service}_endpoint_url", sample_server.url)
    wr.config.athena_query_wait_polling_delay = 0.05
    output = f"s3://{RESULTS_BUCKET}/wrangler-gov/"
    try:
        frame = wr.athena.read_sql_query(
            "SELECT count(*) AS n FROM trips WHERE month = '02'",
            database="sample",
            ctas_approach=False,
            s3_output=output,
            boto3_session=session,
        )
        assert frame["n"].tolist()[0] > 0
        denied = f"user/{ANA} is not authorized to perform: glue:GetTable"
        with pytest.raises(wr.exceptions.QueryFailed, match=denied) as caught:
            wr.athena.read_sql_query(
                "SELECT count(*) AS n FROM cloudtrail",
                database="sample",
                ctas_approach=False,
                s3_output=output,
                boto3_session=session,
            )
        assert "table/sample/cloudtrail" in str(caught.value)
    finally:
        for service in services:
            wr.config.reset(f"{service}_endpoint_url")
        wr.config.reset("athena_query_wait_polling_delay")
