"""A CeleryExecutor deployment without Docker: Postgres and Redis from Debian packages on
loopback, and Airflow's api-server, scheduler, dag-processor and two Celery workers as processes."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from emulators.runner import free_port
from scripts.standalone import ROOT, Standalone
from tests.system import require_system_packages

PG_BIN = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), Path("/nonexistent"))


def need(binary: str | Path, package: str) -> None:
    if not (Path(binary).exists() or shutil.which(str(binary))):
        require_system_packages()  # fails with the exact install command
        raise RuntimeError(f"{binary} is missing: apt-get install {package} (make system-deps does)")


@dataclass
class Postgres:
    """A throw-away cluster owned by the ``postgres`` user (Postgres refuses to run as root)."""

    port: int = field(default_factory=free_port)
    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp")))

    def as_postgres(self, *cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> Postgres:
        need(PG_BIN / "initdb", "postgresql")
        owner = pwd.getpwnam("postgres")
        os.chown(self.data, owner.pw_uid, owner.pw_gid)
        self.as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data / "db"), "--auth=trust", "-U", "postgres")
        self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data / "db"), "-l", str(self.data / "pg.log"), "-w",
                         "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")
        for sql in ("CREATE USER airflow WITH PASSWORD 'airflow'", "CREATE DATABASE airflow OWNER airflow"):
            self.as_postgres(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                             "-c", sql)
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow:airflow@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data / "db"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> Redis:
        need("redis-server", "redis-server")
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


@dataclass
class CeleryCluster(Standalone):
    """The same REST client as :class:`Standalone`, with each Airflow component its own process."""

    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    components: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        # Losing a worker strands two kinds of work: the task it was running (found by the
        # heartbeat timeout, then retried) and the messages it had prefetched but not acked
        # (found by the queued timeout, then re-queued). Both default to minutes; short here.
        return {**super().env(), "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "120"}

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        return subprocess.Popen([sys.executable, "-m", "airflow", *args], env={**self.env(), **(env or {})},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)

    def start(self, timeout: float = 240) -> CeleryCluster:  # type: ignore[override]
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self.components = [self.spawn("api-server", "api-server", "--port", str(self.port)),
                           self.spawn("scheduler", "scheduler"), self.spawn("dag-processor", "dag-processor")]
        for name in ("worker1", "worker2"):
            self.start_worker(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.login():
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(2)
        raise RuntimeError(f"api-server not ready in {timeout}s; see {self.home}")

    def start_worker(self, name: str) -> None:
        self.workers[name] = self.spawn(name, "celery", "worker", "--celery-hostname", f"{name}@%h",
                                        "--concurrency", "4", env={
                                            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})

    def celery_tasks(self, name: str) -> tuple[set[str], set[str]]:
        """Celery task IDs a worker received and finished, from its log (the TI's ``hostname`` is
        the machine's, the same for both workers here)."""
        text = (self.home / f"{name}.log").read_text(errors="replace")
        received = set(re.findall(r"execute_workload\[([0-9a-f-]+)\] received", text))
        finished = set(re.findall(r"execute_workload\[([0-9a-f-]+)\] (?:succeeded|raised|failed)", text))
        return received, finished

    def task_instances_run(self, name: str) -> int:
        """How many task instances a worker ran to the end."""
        return (self.home / f"{name}.log").read_text(errors="replace").count("Workload finished")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its task processes, as a lost machine would be."""
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(10)

    def stop(self) -> None:
        for proc in [*self.workers.values(), *self.components]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers.values(), *self.components]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
