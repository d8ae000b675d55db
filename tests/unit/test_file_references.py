"""The campaign-file and market-file references in docs/ are what the models accept, and every
key in them says what it is for."""

from __future__ import annotations

import re

import pytest

from campaign_media.cli import reference_page
from tests.conftest import ROOT


@pytest.mark.parametrize("kind", ["campaign", "market"])
def test_the_page_is_written_from_the_model(kind) -> None:
    page = (ROOT / "docs" / f"{kind}-file.md").read_text(encoding="utf-8")
    assert reference_page(kind) in page, f"docs/{kind}-file.md: paste campaign-media schema {kind} --reference"


@pytest.mark.parametrize("kind", ["campaign", "market"])
def test_every_key_says_what_it_is_for(kind) -> None:
    rows = [line for line in reference_page(kind).splitlines() if re.match(r"^\| `", line)]
    assert len(rows) > 20
    bare = [row.split(" | ")[0] for row in rows if not row.rstrip(" |").split(" | ")[-1].strip()
            or row.endswith("|  |")]
    assert not bare, f"keys without a description in the {kind} model: {bare}"
