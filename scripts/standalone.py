"""Run ``airflow standalone`` for this project in a private AIRFLOW_HOME and drive it over REST.

Used by ``make demo`` / ``make up``; everything goes through Airflow's public REST API v2 with a
token from ``/auth/token``, as the UI and any external tool would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from campaign_media.pools import import_file

ROOT = Path(__file__).resolve().parents[1]
IDEMPOTENT = ("GET", "PATCH", "PUT", "DELETE")  # calls that may be repeated after an unclear failure
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"  # the admin password standalone makes


@dataclass
class Standalone:
    home: Path
    port: int
    env_extra: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    token: str = ""
    restarted: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        return {**os.environ, **self.env_extra,
                "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the Connections form's Test button
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False"}

    def airflow(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env(), capture_output=True,
                                text=True, timeout=300)
        if result.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def prepare(self) -> None:
        """Migrate the database and create the pools (``campaign_media.pools``, the one definition)."""
        self.airflow("db", "migrate")
        pools = self.home / "pools.json"
        pools.write_text(import_file())
        self.airflow("pools", "import", str(pools))

    def start(self, timeout: float = 240) -> Standalone:
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        log = open(self.home / "standalone.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=self.env(),
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited; see {self.home / 'standalone.log'}")
            try:
                if httpx.get(f"{self.url}/api/v2/version", timeout=2).status_code == 200 and self.login():
                    self.watch_scheduler()
                    return self
            except (httpx.TransportError, KeyError, json.JSONDecodeError):
                pass
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"airflow standalone not ready after {timeout}s; see {self.home / 'standalone.log'}")

    def watch_scheduler(self) -> None:
        """Restart the scheduler if it dies, as a process supervisor would.

        On SQLite the scheduler loop can die on ``StaleDataError`` when the API server writes
        the same rows at the same moment (seen when a backfill is created while runs start);
        ``airflow standalone`` does not restart its children.
        """
        import psutil

        def is_scheduler(proc: psutil.Process) -> bool:
            try:  # a dead (zombie) child has no command line: psutil raises for it
                return proc.status() != psutil.STATUS_ZOMBIE and "scheduler" in " ".join(proc.cmdline())
            except psutil.Error:
                return False

        def alive() -> bool:
            try:
                kids = psutil.Process(self.process.pid).children(recursive=True)  # type: ignore[union-attr]
            except psutil.Error:
                return True  # standalone itself is gone; nothing to supervise
            return any(is_scheduler(k) for k in kids)

        def loop() -> None:
            while self.process and self.process.poll() is None:
                time.sleep(3)
                if self.process.poll() is None and not alive() and not (self.restarted and self.restarted[-1].poll()
                                                                         is None):
                    log = open(self.home / "scheduler-restarts.log", "ab")  # noqa: SIM115
                    self.restarted.append(subprocess.Popen([sys.executable, "-m", "airflow", "scheduler"],
                                                           env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                                           start_new_session=True))

        threading.Thread(target=loop, daemon=True).start()

    def password(self) -> str:
        path = self.home / PASSWORD_FILE
        return json.loads(path.read_text())["admin"] if path.exists() else ""

    def login(self) -> bool:
        password = self.password()
        if not password:
            return False
        response = httpx.post(f"{self.url}/auth/token", json={"username": "admin", "password": password}, timeout=10)
        if response.status_code not in (200, 201):
            return False
        self.token = response.json()["access_token"]
        return True

    def create_backfill(self, body: dict[str, Any], attempts: int = 5) -> dict[str, Any]:
        """``POST /backfills`` as the UI's *Trigger → Backfill* does. On SQLite an attempt can time
        out on the database lock (a 503, or a 500 after the lock wait) either after creating the
        backfill — then the one that exists for the DAG is the one asked for and is returned — or
        before, rolled back — then it is asked for again."""
        for _ in range(attempts - 1):
            try:
                return self.api("POST", "backfills", json=body)
            except RuntimeError as exc:
                existing = [b for b in self.api("GET", "backfills", params={"dag_id": body["dag_id"]})["backfills"]
                            if not b.get("completed_at")]
                if existing:
                    return existing[-1]
                # A 409 for a backfill no longer listed as running: the scheduler marked the DAG's
                # previous one complete meanwhile, so asking again works. Any other 4xx is final.
                if "-> 4" in str(exc) and "already a running backfill" not in str(exc):
                    raise
                time.sleep(2)
        return self.api("POST", "backfills", json=body)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, attempts: int = 3) -> dict[str, Any]:
        """``POST /dags/{dag_id}/dagRuns`` (as the Trigger button does), confirmed by reading the run
        back: on SQLite the API server can answer with the new run and then fail to commit it on
        the database lock, leaving a run ID that is never found (404). Then it is asked for again."""
        for _ in range(attempts):
            run = self.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    self.api("GET", f"dags/{dag_id}/dagRuns/{run['dag_run_id']}")
                    return run
                except RuntimeError as exc:
                    if "-> 404" not in str(exc):
                        raise
                    time.sleep(2)
        raise RuntimeError(f"{dag_id}: {attempts} triggered runs were never stored (SQLite lock?)")

    def run_once(self, dag_id: str, conf: dict[str, Any] | None = None, timeout: float = 300,
                 every: float = 1.0) -> str:
        """Unpause ``dag_id``, trigger one run and wait for it to finish; its final state."""
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
        run = self.trigger(dag_id, conf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"dags/{dag_id}/dagRuns/{run['dag_run_id']}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(every)
        raise RuntimeError(f"{dag_id}: run {run['dag_run_id']} not finished after {timeout}s")

    def api(self, method: str, path: str, *, attempts: int = 20, **kwargs: Any) -> Any:
        """One REST call; retried while SQLite is busy (503 "Database is locked"), as on the
        embedded default the scheduler holds the database lock for short moments; an idempotent
        call is also retried on the 500 "Database error" a lock wait that timed out gives, and when
        the API server did not answer within 30 s (seen in CI on a loaded machine)."""
        try:
            response = httpx.request(method, f"{self.url}/api/v2/{path}", timeout=30,
                                     headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        except httpx.TimeoutException:
            if method not in IDEMPOTENT or attempts <= 1:
                raise
            return self.api(method, path, attempts=attempts - 1, **kwargs)
        if response.status_code == 401 and self.login():
            return self.api(method, path, attempts=attempts, **kwargs)
        busy = (response.status_code == 503 and "locked" in response.text) or (
            response.status_code == 500 and "Database error" in response.text and method in IDEMPOTENT)
        if busy and attempts > 1:
            time.sleep(1.5)
            return self.api(method, path, attempts=attempts - 1, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /api/v2/{path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def stop(self) -> None:
        for proc in self.restarted:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
