"""The compose file's emulator commands, run as compose runs them: in a network of their own, reached
from another address (as the workers reach ``photoshelter-emulator:8701``).

A network namespace made by this test stands in for the emulator's container: a veth pair joins
it to the test, each side with its own address. The emulator is started with the command line
docker-compose.yaml gives it; the test connects to the namespace's address. The same command
without ``--host 0.0.0.0`` listens on the container's loopback only and is refused from outside,
which is how the deployment used to fail while its health checks (run inside) passed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


# The compose health check's request, from inside the namespace (as compose runs it in the container).
HEALTH_INSIDE = """
import time, urllib.request
for _ in range(100):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8712/healthz").status)
        break
    except OSError:
        time.sleep(0.3)
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def namespace() -> Iterator[dict[str, str]]:
    """A network namespace joined to this one by a veth pair: 10.231.<n>.1 here, .2 inside."""
    if os.geteuid() != 0:
        pytest.fail("this test makes a network namespace (ip netns): run it as root (make test does, in CI)")
    n = os.getpid() % 200 + 20
    ns, here, there = f"cmemu{n}", f"cmh{n}", f"cme{n}"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", here], capture_output=True)
    ip("netns", "add", ns)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", ns)
        ip("addr", "add", f"10.231.{n}.1/30", "dev", here)
        ip("link", "set", here, "up")
        ip("netns", "exec", ns, "ip", "addr", "add", f"10.231.{n}.2/30", "dev", there)
        ip("netns", "exec", ns, "ip", "link", "set", there, "up")
        ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield {"name": ns, "address": f"10.231.{n}.2"}
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def compose_command(service: str, data_dir: Path) -> list[str]:
    """The ``python -m emulators…`` line compose runs for ``service``, with its data dir moved here."""
    command = " ".join(yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"][service]["command"])
    line = re.search(r"exec (python -m emulators\.\w+ [^;]*)", command).group(1)
    args = shlex.split(re.sub(r"--data-dir \S+", f"--data-dir {data_dir}", line))
    return [sys.executable, *args[1:]]


def start_inside(namespace: dict[str, str], argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(["ip", "netns", "exec", namespace["name"], *argv], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def answers(url: str, timeout: float = 30) -> int | str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2).status_code
        except httpx.TransportError as exc:
            if time.monotonic() > deadline:
                return type(exc).__name__
            time.sleep(0.3)


@pytest.mark.parametrize(("service", "port"), [("photoshelter-emulator", 8701), ("cloudinary-emulator", 8702)])
def test_the_compose_emulators_answer_from_another_address(namespace, tmp_path, service, port) -> None:
    argv = compose_command(service, tmp_path / "data")
    assert "--host" in argv and argv[argv.index("--host") + 1] == "0.0.0.0" and str(port) in argv
    if service == "photoshelter-emulator":
        from emulators.photoshelter.seed import seed

        seed(tmp_path / "data", images=2, galleries=1)
    proc = start_inside(namespace, argv)
    try:
        assert answers(f"http://{namespace['address']}:{port}/healthz") == 200, proc.stderr
    finally:
        proc.terminate()
        proc.wait(10)


def test_without_the_host_flag_an_emulator_is_refused_from_outside(namespace, tmp_path) -> None:
    argv = compose_command("cloudinary-emulator", tmp_path / "data")
    at = argv.index("--host")
    loopback_only = [*argv[:at], *argv[at + 2:]]  # the command as it was before the flag
    loopback_only[loopback_only.index("--port") + 1] = "8712"
    proc = start_inside(namespace, loopback_only)
    try:
        inside = subprocess.run(["ip", "netns", "exec", namespace["name"], sys.executable, "-c", HEALTH_INSIDE],
                                capture_output=True, text=True, timeout=60)
        assert inside.stdout.strip() == "200"  # its health check, run inside, passes...
        assert answers(f"http://{namespace['address']}:8712/healthz", timeout=3) == "ConnectError"  # ...but no one else
    finally:
        proc.terminate()
        proc.wait(10)
