"""An S3 API on loopback: ``moto`` in server mode, a real HTTP endpoint answering S3's REST API
(conditional writes included). Real S3 decides a conditional write (``If-None-Match: *``)
atomically; moto checks, then writes, so two racing writers can both win: here every write request
is served under one lock (reads stay concurrent), which restores S3's guarantee. Reached the way a
deployment reaches S3: through Airflow's object storage (``s3fs``) and an Airflow connection of
type ``aws`` naming the endpoint. The tests (``tests/s3.py``) and the benchmarks (``bench/include.py``) start it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from emulators.runner import free_port

BUCKET = "campaign-media-test"
CONN_ID = "aws_default"


@dataclass
class S3Server:
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> S3Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "emulators.s3", str(self.port)],
                                     cwd=Path(__file__).resolve().parents[1],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.endpoint}/moto-api/", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"moto_server did not answer on {self.endpoint} in {timeout:.0f} s")
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def connection(self) -> str:
        """``AIRFLOW_CONN_AWS_DEFAULT``: the endpoint in the connection's extras, as for any S3-compatible store."""
        return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                           "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}})

    def upload_include(self, include: Path, prefix: str) -> None:
        """An include folder's ``campaigns/*.yaml`` and ``markets/*.yaml`` under ``prefix`` in the bucket."""
        client = self.client()
        for kind in ("campaigns", "markets"):
            for path in sorted((include / kind).glob("*.yaml")):
                client.put_object(Bucket=BUCKET, Key=f"{prefix}/{kind}/{path.name}", Body=path.read_bytes())

    def url(self, prefix: str) -> str:
        """An object-storage URL below the bucket, naming the connection (Airflow's object storage
        uses none unless the URL or the path names one)."""
        return f"s3://{CONN_ID}@{BUCKET}/{prefix.strip('/')}"


WRITES = frozenset({"PUT", "POST", "DELETE"})


def serialised_writes(app):
    """WSGI middleware: one write request at a time, each answered in full before the next starts."""
    lock = threading.Lock()

    def serve(environ, start_response):
        if environ.get("REQUEST_METHOD") not in WRITES:
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


def main(port: int) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    os.environ.setdefault("MOTO_PORT", str(port))
    app = serialised_writes(DomainDispatcherApplication(create_backend_app))
    run_simple("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main(int(sys.argv[1]))
