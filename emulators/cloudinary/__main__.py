"""``python -m emulators.cloudinary`` — run the Cloudinary emulator.

    python -m emulators.cloudinary --port 8702 --data-dir .demo/cld [--cloud-name C --api-key K --api-secret S]
"""

from __future__ import annotations

import argparse

from emulators.cloudinary.access_log import AccessLog
from emulators.cloudinary.app import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_AUTH_TOKEN_KEY,
    DEFAULT_CLOUD,
    create_app,
)
from emulators.common.control import Control, add_fault_arguments, add_host_argument, faults_from_args, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.cloudinary")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cloud-name", default=DEFAULT_CLOUD)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET)
    parser.add_argument("--auth-token-key", default=DEFAULT_AUTH_TOKEN_KEY,
                        help="hex key that signs __cld_token__ (token-based access)")
    parser.add_argument("--admin-hourly-limit", type=int, default=500,
                        help="Admin API calls allowed per hour (the free plan's figure)")
    parser.add_argument("--strict", action="store_true",
                        help="the pessimistic reading of every undocumented or premium behaviour (docs/emulators.md)")
    parser.add_argument("--private-cdn", action="store_true",
                        help="a private CDN distribution: delivery without the cloud name; with --strict the only "
                             "way token URLs work")
    parser.add_argument("--shared-derivatives", action="store_true",
                        help="benchmarks: identical originals share their derived files (rendered once)")
    parser.add_argument("--eager-delay", type=float, default=1.0,
                        help="seconds an eager_async job waits before it starts (the service's queue)")
    parser.add_argument("--access-log-dir", help="write the CDN's access log of every delivery here")
    parser.add_argument("--access-log-format", default="cloudfront", choices=["cloudfront", "jsonl", "csv"])
    add_fault_arguments(parser)
    add_host_argument(parser)
    args = parser.parse_args(argv)
    control = Control(faults=faults_from_args(args))
    app = create_app(args.data_dir, cloud_name=args.cloud_name, api_key=args.api_key,
                     api_secret=args.api_secret, auth_token_key=args.auth_token_key,
                     admin_hourly_limit=args.admin_hourly_limit, strict=args.strict,
                     private_cdn=args.private_cdn, control=control)
    app.state.account.shared_derivatives = args.shared_derivatives
    app.state.emulator.eager_delay = args.eager_delay
    if args.access_log_dir:
        app.state.emulator.access_log = AccessLog(args.access_log_dir, args.access_log_format)
    serve(app, args.port, args.host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
