"""Print the botocore a client uses and the protocol it speaks to Athena.

    python scripts/athena_protocol.py sdk   # boto3, PyAthena, awswrangler
    python scripts/athena_protocol.py cli   # the aws CLI

Run once per client, each in a process of its own: awscli 1.46 and later bring their
own copy of botocore and put it in place of the installed one when imported.
scripts/client-matrix prints both for every environment.
"""

from __future__ import annotations

import sys
from typing import Any


def _session(client: str) -> Any:
    if client == "cli":
        from awscli.clidriver import create_clidriver  # type: ignore[import-untyped]

        return create_clidriver().session
    import botocore.session

    return botocore.session.get_session()


def main() -> None:
    client = sys.argv[1]
    session = _session(client)
    import botocore  # after the CLI's import: the copy it actually runs on

    meta = session.get_service_model("athena").metadata
    protocols = meta.get("protocols", [meta["protocol"]])
    print(f"  {client}: botocore {botocore.__version__}, speaks to Athena in {protocols}")


if __name__ == "__main__":
    main()
