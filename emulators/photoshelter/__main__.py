"""``python -m emulators.photoshelter`` — run the server, or ``seed`` a data dir.

    python -m emulators.photoshelter --port 8701 --data-dir .demo/ps [--api-key K --email E --password P]
    python -m emulators.photoshelter seed --data-dir .demo/ps --images 24 [--galleries 2] [--videos 2]
"""

from __future__ import annotations

import argparse
import json
import sys

from emulators.common.control import Control, add_fault_arguments, add_host_argument, faults_from_args, serve
from emulators.photoshelter.app import DEFAULT_API_KEY, DEFAULT_EMAIL, DEFAULT_PASSWORD, create_app


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["seed"]:
        parser = argparse.ArgumentParser(prog="python -m emulators.photoshelter seed")
        parser.add_argument("--data-dir", required=True)
        parser.add_argument("--images", type=int, required=True, help="number of generated masters")
        parser.add_argument("--galleries", type=int, default=1, help="galleries to spread them over")
        parser.add_argument("--videos", type=int, default=0, help="short generated hero videos (needs ffmpeg)")
        args = parser.parse_args(argv[1:])
        from emulators.photoshelter.seed import seed

        print(json.dumps(seed(args.data_dir, args.images, args.galleries, videos=args.videos), ensure_ascii=False,
                         indent=2))
        return 0
    parser = argparse.ArgumentParser(prog="python -m emulators.photoshelter")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--email", default=DEFAULT_EMAIL)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--session-ttl", type=float, default=7200.0, help="idle seconds before a token expires")
    parser.add_argument("--strict", action="store_true",
                        help="the pessimistic reading of every undocumented behaviour (docs/emulators.md)")
    parser.add_argument("--no-v4", action="store_true", help="answer v3 only (an account v4 is not open to)")
    add_fault_arguments(parser)
    add_host_argument(parser)
    args = parser.parse_args(argv)
    control = Control(faults=faults_from_args(args))
    app = create_app(args.data_dir, api_key=args.api_key, email=args.email, password=args.password,
                     session_ttl=args.session_ttl, strict=args.strict, control=control, v4=not args.no_v4)
    serve(app, args.port, args.host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
