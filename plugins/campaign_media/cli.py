"""``python -m campaign_media.cli lint [include/]`` — check campaign and market files before a PR.

(Not a package ``__main__.py``: Airflow's plugin loader imports every file under ``plugins/`` by
its stem, and a ``__main__`` module would run its CLI inside every Airflow process.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from campaign_media.config.loader import INCLUDE, lint, load_campaigns, load_markets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m campaign_media.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("lint", help="validate include/markets/*.yaml and include/campaigns/*.yaml")
    check.add_argument("include", nargs="?", default=str(INCLUDE))
    args = parser.parse_args(argv)
    include = Path(args.include)
    problems = lint(include)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"\n{len(problems)} file(s) need fixing.", file=sys.stderr)
        return 1
    markets = load_markets(include / "markets").items
    campaigns = load_campaigns(include / "campaigns").items
    print(f"ok: {len(markets)} market(s) ({', '.join(sorted(markets))}), "
          f"{len(campaigns)} campaign(s) ({', '.join(sorted(campaigns))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
