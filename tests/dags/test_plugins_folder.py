"""Airflow's plugin loader must not import campaign_media's files one by one.

It registers every ``plugins/**/*.py`` under its bare file name, so ``hooks/cloudinary.py`` would
replace the real ``cloudinary`` SDK in ``sys.modules`` of every scheduler and worker process.
``plugins/.airflowignore`` keeps the package out of plugin discovery.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
from airflow.sdk._shared.plugins_manager.plugins_manager import _load_plugins_from_plugin_directory
plugins, errors = _load_plugins_from_plugin_directory(sys.argv[1])
import cloudinary, cloudinary.api
assert not errors, errors
assert "site-packages" in cloudinary.__file__, cloudinary.__file__
print(len(plugins))
"""


def test_plugin_discovery_leaves_the_sdk_alone() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK, str(ROOT / "plugins")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
