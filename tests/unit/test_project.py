"""The repository keeps its promises to a newcomer: one version everywhere, a README that fits
on a screen, and no link to a file that is not in the repository."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from campaign_media import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_in_pyproject_the_image_and_the_changelog() -> None:
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == __version__
    assert f'org.opencontainers.image.version="{__version__}"' in (ROOT / "Dockerfile").read_text()
    first = re.search(r"^## \[?([0-9.]+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert first and first.group(1) == __version__


def test_readme_fits_on_a_screen_and_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 6 * 1024
    assert "make demo" in readme and "make test" in readme


def tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).exists()]


def test_every_relative_link_in_the_docs_points_at_a_file_in_the_repository() -> None:
    broken = []
    for doc in [p for p in tracked() if p.suffix == ".md"]:
        for target in re.findall(r"\]\(([^)#\s]+)", doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert not broken


def test_no_source_cites_notes_that_are_not_in_the_repository() -> None:
    cited = [f"{p.relative_to(ROOT)}" for p in tracked()
             if p.suffix in (".py", ".md", ".yaml") and re.search(r"reference/\w[\w-]*\.md|" + "shared" + "/reference",
                                                                  p.read_text(encoding="utf-8", errors="ignore"))]
    assert not cited


def test_the_pools_are_defined_once_and_the_docs_say_the_same() -> None:
    from campaign_media.pools import POOLS

    readme = (ROOT / "README.md").read_text()
    for name, pool in POOLS.items():
        assert f"`{name}` ({pool.slots})" in readme, f"README: pool {name} with {pool.slots} slots"
    for text in (ROOT / "docker-compose.yaml", ROOT / "scripts" / "standalone.py"):
        assert "pools set" not in text.read_text(), f"{text.name} defines a pool of its own"
