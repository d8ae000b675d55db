"""The system packages some suites need: checked by the one script that installs them, so a
machine without them fails with the exact install command instead of skipping silently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-deps.sh"


def require_system_packages() -> None:
    """Fail the calling test (never skip it) when ``scripts/system-deps.sh --check`` finds gaps."""
    result = subprocess.run(["bash", str(SCRIPT), "--check"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(result.stderr.strip(), pytrace=False)
