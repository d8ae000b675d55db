"""``make conformance PYCLOUDINARY=<checkout>``: Cloudinary's own SDK test suite against the emulator.

The official Python SDK's tests (``test/`` of github.com/cloudinary/pycloudinary, at the tag of
the pinned SDK) were written by Cloudinary against a real cloud. Run from outside against a fresh
emulator per module, in both modes, they check the emulator's guesses with the most authoritative
thing we can run. Nothing of the suite is copied into this project: point ``PYCLOUDINARY`` at a
checkout (CI cannot reach GitHub, so ``make test`` holds each fact found here in tests of our own).

Per module and mode it prints passed / failed / skipped, and splits the failures into tests of
features the project uses (``USED``: these must pass) and the rest. The SDK is configured with
``CLOUDINARY_URL`` (``upload_prefix`` at the emulator); the one remote image the suite uploads by
URL is served by a local stand-in.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from emulators.runner import CLD_CREDENTIALS, free_port, start_cloudinary  # noqa: E402

# The modules whose tests call the API (the others test URL building and helpers offline).
MODULES = ["test_uploader", "test_api", "test_metadata", "test_request_id", "test_archive", "test_api_authorization",
           "test_triggers", "test_notifications"]
# Tests of features the project uses: upload (also chunked), explicit, eager, destroy, rename,
# resources, tags, context, usage, structured metadata, response headers, triggers and poll
# notifications (Cloudinary's events, pulled). They must pass.
USED = re.compile(
    r"test_upload($|_(async|large|data_uri|file_io|url|unicode|image|preset_.*|with_.*|custom_filename|"
    r"file_with_.*))|test_explicit|test_eager|test_destroy|test_rename|test_resource(s|_by|$)|test_tag|"
    r"test_context|test_usage|test_metadata|test_update_metadata|test_add_metadata_field|test_request_id|"
    r"test_list_metadata|test_delete_resources|test_access_control|test_ping|test_use_filename|"
    r"test_unique_filename|test_structured_metadata|test_.*headers|"
    r"test\d+_(list_triggers|create_.*trigger|update_trigger|delete_trigger|test_trigger|trigger_lifecycle|"
    r"notifications_.*|ack_notifications.*|verify_.*|poll_notification_end_to_end|base64url_.*)|"
    # structured governance: fields by ID, date and set fields, datasource additions
    r"test\d+_(get_metadata_field|create_(date|set)_metadata_field|update_metadata_field_datasource)$")
# ... except where the test is about a feature the project does not use inside those calls.
NOT_USED = re.compile(r"responsive_breakpoints|moderation")
PLUGIN = '''
import os


def pytest_configure(config):
    import test.helper_test as helper

    helper.REMOTE_TEST_IMAGE = os.environ["REMOTE_TEST_IMAGE"]
'''


def stand_in(folder: Path) -> str:
    """A local server for the suite's remote image (``/images/old_logo.png``); its base URL."""
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def run_module(checkout: Path, module: str, strict: bool, work: Path, remote: str) -> dict[str, list[str]]:
    """One module against a fresh emulator: ``{"passed": [...], "failed": [...], "skipped": [...]}``."""
    mode = "strict" if strict else "permissive"
    cld = start_cloudinary(work / f"{module}-{mode}", strict=strict, private_cdn=False)
    report = work / f"{module}-{mode}.xml"
    try:
        c = CLD_CREDENTIALS
        env = {**os.environ, "PYTHONPATH": f"{work}:{checkout}",
               "CLOUDINARY_URL": f"cloudinary://{c['api_key']}:{c['api_secret']}@{c['cloud_name']}"
                                 f"?upload_prefix={cld.base_url}",
               "REMOTE_TEST_IMAGE": f"{remote}/images/old_logo.png"}
        subprocess.run([sys.executable, "-m", "pytest", "-p", "conformance_plugin", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={report}", f"test/{module}.py"], cwd=checkout, env=env, capture_output=True,
                       text=True, timeout=1800)
    finally:
        cld.stop()
    out: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
    if not report.exists():
        return out
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        kind = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        out[kind].append(name)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pycloudinary", default=os.environ.get("PYCLOUDINARY"), help="a checkout of the SDK")
    parser.add_argument("--modules", default=",".join(MODULES))
    parser.add_argument("--modes", default="permissive,strict")
    parser.add_argument("--show", action="store_true", help="name every failing test")
    opts = parser.parse_args()
    if not opts.pycloudinary or not (Path(opts.pycloudinary) / "test" / "helper_test.py").exists():
        parser.error("PYCLOUDINARY must point at a checkout of github.com/cloudinary/pycloudinary (with test/)")
    checkout = Path(opts.pycloudinary).resolve()
    bad_used = 0
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        work = Path(tmp)
        (work / "conformance_plugin.py").write_text(PLUGIN)
        (work / "www" / "images").mkdir(parents=True)
        (work / "www" / "images" / "old_logo.png").write_bytes((checkout / "test" / "resources" / "logo.png")
                                                               .read_bytes())
        remote = stand_in(work / "www")
        print(f"{'module':<24} {'mode':<10} {'passed':>6} {'failed':>6} {'used, failed':>12} {'skipped':>7}")
        for module in opts.modules.split(","):
            for mode in opts.modes.split(","):
                result = run_module(checkout, module, mode == "strict", work, remote)
                used = [t for t in result["failed"] if USED.match(t) and not NOT_USED.search(t)]
                bad_used += len(used)
                print(f"{module:<24} {mode:<10} {len(result['passed']):>6} {len(result['failed']):>6} "
                      f"{len(used):>12} {len(result['skipped']):>7}", flush=True)
                if opts.show:
                    for name in result["failed"]:
                        print(f"    {'USED ' if name in used else '     '}{name}")
    print(f"\nfailures in features the project uses: {bad_used}")
    return 1 if bad_used else 0


if __name__ == "__main__":
    raise SystemExit(main())
