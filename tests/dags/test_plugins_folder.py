"""Airflow's plugin loader must not import campaign_media's files one by one.

It registers every ``plugins/**/*.py`` under its bare file name, so ``hooks/cloudinary.py`` would
replace the real ``cloudinary`` SDK in ``sys.modules`` of every scheduler and worker process.
``plugins/.airflowignore`` keeps the package out of plugin discovery.
"""

from __future__ import annotations

import os
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


PAGE_PLUGIN = """
import sys
from airflow import plugins_manager
plugins, errors = plugins_manager._get_plugins()
assert not errors, errors
page = [p for p in plugins if p.name == "campaign_media_page"]
assert len(page) == 1, [p.name for p in plugins]
# The receiver first: its prefix lies inside the page's, and the API server mounts in this order.
assert [a["url_prefix"] for a in page[0].fastapi_apps] == ["/campaign-media/notifications", "/campaign-media"]
assert [(v["href"], v["destination"]) for v in page[0].external_views] == [("/campaign-media/", "nav")]
for module in ("campaign_media.ui.app", "campaign_media.notifications.receiver", "cloudinary"):
    assert module not in sys.modules, f"{module} is imported on the first request only"
"""


def test_the_campaign_page_plugin_is_found_in_the_plugins_folder(tmp_path: Path) -> None:
    """Airflow's own loader finds the page once, light to load: through the distribution's entry
    point, with this repository's ``plugins/`` as the plugins folder (``campaign_page.py`` there
    defines the plugin only where the distribution is not installed)."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins")}
    result = subprocess.run([sys.executable, "-c", PAGE_PLUGIN], capture_output=True, text=True, timeout=120, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
