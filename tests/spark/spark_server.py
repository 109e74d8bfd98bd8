"""Start and stop Spark Connect servers from the pip-installed pyspark, for tests and benchmarks.

Two shapes, both on loopback:

- ``local``: one JVM, ``--master local[N]``, the driver running the tasks itself;
- ``cluster``: a standalone master and two workers (one core each), and a Spark
  Connect server whose driver sends tasks to executors on those workers — the
  many-node shape, with every node sharing this machine's folders.

Every process is started from ``pyspark``'s own jars (``spark-class``, which execs the
JVM, so the process we hold is the JVM) and logs into the given folder. The s3a jars
(``scripts/spark-jars``) are put on every JVM's class path when their folder is given.

    server = start_local(workdir, jars=Path(".spark-jars"))
    ... SparkSession.builder.remote(server.url) ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
START_TIMEOUT = 300.0  # JVMs start slowly on a busy 2-core machine
LOOPBACK = "127.0.0.1"


def spark_home() -> Path:
    """The Spark distribution inside the pip-installed pyspark."""
    import pyspark

    return Path(pyspark.__file__).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class SparkProcesses:
    """Running JVMs; ``url`` is the Spark Connect address (``sc://host:port``)."""

    url: str
    workdir: Path
    master: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Stop every JVM, the Connect server first (SIGTERM, SIGKILL after 20 s)."""
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def start_local(
    workdir: Path, *, cores: int = 2, jars: Path | None = None, conf: dict[str, str] | None = None
) -> SparkProcesses:
    """A Spark Connect server on ``local[cores]`` on a free port."""
    master = f"local[{cores}]"
    procs = SparkProcesses("", workdir, master)
    try:
        procs.url = _start_connect(procs, master, jars, conf or {})
    except BaseException:
        procs.stop()
        raise
    return procs


def start_cluster(
    workdir: Path,
    *,
    workers: int = 2,
    jars: Path | None = None,
    conf: dict[str, str] | None = None,
    worker_memory: str = "2g",
) -> SparkProcesses:
    """A standalone master, ``workers`` workers of one core, and a Connect server on them."""
    port, ui_port = free_port(), free_port()
    master = f"spark://{LOOPBACK}:{port}"
    procs = SparkProcesses("", workdir, master)
    try:
        args = ["--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui_port)]
        procs.procs.append(_spark_class(workdir, "master", MASTER_CLASS, args))
        for number in range(workers):
            folder = workdir / f"worker-{number}"
            folder.mkdir(parents=True, exist_ok=True)
            args = ["--host", LOOPBACK, "--webui-port", str(free_port()), "--cores", "1"]
            args += ["--memory", worker_memory, "--work-dir", str(folder), master]
            procs.procs.append(_spark_class(workdir, f"worker-{number}", WORKER_CLASS, args))
        _wait_workers(f"http://{LOOPBACK}:{ui_port}/json/", workers, procs.procs)
        settings = {
            "spark.executor.cores": "1",
            "spark.executor.memory": "1g",
            "spark.cores.max": str(workers),
            **(conf or {}),
        }
        procs.url = _start_connect(procs, master, jars, settings)
    except BaseException:
        procs.stop()
        raise
    return procs


def _environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env.update(
        SPARK_HOME=str(spark_home()),
        SPARK_LOCAL_IP=LOOPBACK,
        SPARK_LOG_DIR=str(workdir),
        SPARK_CONF_DIR=str(workdir / "conf"),  # none of the machine's own spark-defaults
    )
    return env


def _spark_class(
    workdir: Path, name: str, main_class: str, args: Sequence[str]
) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it
    command = [str(spark_home() / "bin" / "spark-class"), main_class, *args]
    try:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=_environment(workdir)
        )
    finally:
        log.close()


def _start_connect(
    procs: SparkProcesses, master: str, jars: Path | None, conf: dict[str, str]
) -> str:
    port = free_port()
    settings = {
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.driver.host": LOOPBACK,
        "spark.driver.memory": "2g",
        "spark.sql.shuffle.partitions": "4",
        "spark.local.dir": str(procs.workdir / "local"),
        **conf,
    }
    if jars is not None:
        # On the class path of every JVM from the folder they all share, not --jars: that
        # would copy the 690 MB AWS SDK bundle to each executor.
        classpath = str(jars.resolve() / "*")
        settings["spark.driver.extraClassPath"] = classpath
        settings["spark.executor.extraClassPath"] = classpath
    args = ["--master", master, "--class", CONNECT_CLASS]
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    # spark-submit with no application jar: the Connect server's class is in pyspark's jars.
    args += ["spark-internal"]
    proc = _spark_class(procs.workdir, "connect", "org.apache.spark.deploy.SparkSubmit", args)
    procs.procs.append(proc)
    _wait_port(port, proc, procs.workdir / "connect.log")
    return f"sc://{LOOPBACK}:{port}"


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Spark Connect server exited with {proc.returncode}:\n{tail}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Spark Connect server did not listen on {port} in {START_TIMEOUT}s")


def _wait_workers(url: str, count: int, procs: Sequence[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError("a Spark master or worker exited while starting")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                state = json.load(answer)
            alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
            if len(alive) >= count:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{count} Spark workers did not register in {START_TIMEOUT}s")
