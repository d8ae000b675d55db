"""Copy the screenshots the tests took (``.artifacts/``) into ``docs/img/``, shrunk for the README.

Run after ``make test`` (or the UI and metrics tests alone): ``make screenshots``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {  # test artifact → README image
    ".artifacts/ui/backfill-grid.png": "docs/img/airflow-grid.png",
    ".artifacts/metrics-report.png": "docs/img/metrics-report.png",
    ".artifacts/campaign-page/live.png": "docs/img/campaign-page.png",
}
WIDTH, MAX_HEIGHT = 900, 1100


def shrink(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        image = image.convert("RGB")
        image = image.crop((0, 0, image.width, min(image.height, int(MAX_HEIGHT * image.width / WIDTH))))
        image.thumbnail((WIDTH, MAX_HEIGHT))
        target.parent.mkdir(parents=True, exist_ok=True)
        image.quantize(colors=128).save(target, optimize=True)
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")


def main() -> int:
    missing = [s for s in SHOTS if not (ROOT / s).exists()]
    if missing:
        print(f"missing {missing}: run the tests that take them first (make test)", file=sys.stderr)
        return 1
    for source, target in SHOTS.items():
        shrink(ROOT / source, ROOT / target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
