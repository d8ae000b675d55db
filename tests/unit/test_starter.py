"""``campaign-media init``: a starter include folder that lints on a standard account and
overwrites nothing."""

from __future__ import annotations

import json

from campaign_media.cli import main as cli
from tests.conftest import ROOT


def test_the_starter_lints_even_where_the_account_has_no_token_access(tmp_path, monkeypatch, capsys) -> None:
    storage = tmp_path / "storage"
    (storage / "_account").mkdir(parents=True)  # the account check found no token URLs (a standard account)
    (storage / "_account" / "capabilities.json").write_text(json.dumps(
        {"checked_at": "2026-12-01T00:00:00Z", "cloudinary": {"token_access": False}}))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", storage.as_uri())
    assert cli(["lint", str(ROOT / "include")]) == 1  # the demo's campaign asks for signed_urls
    assert "signed_urls" in capsys.readouterr().err
    folder = tmp_path / "include"
    assert cli(["init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "ok: 1 market(s) (gb), 1 campaign(s) (example-campaign)" in out
    assert out.index(f"writing {folder / 'markets' / 'gb.yaml'}") < out.index("ok:")  # each file said first
    assert (folder / "markets" / "_template.yaml").read_bytes() == (ROOT / "include" / "markets" / "_template.yaml"
                                                                     ).read_bytes()
    assert json.loads((folder / "schema" / "campaign.schema.json").read_text())["title"].startswith("campaign-media")


def test_init_refuses_a_folder_with_starter_files_and_writes_nothing(tmp_path, capsys) -> None:
    folder = tmp_path / "include"
    (folder / "markets").mkdir(parents=True)
    (folder / "markets" / "gb.yaml").write_text("code: gb  # mine\n")
    assert cli(["init", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "1 starter file(s) exist already" in err and str(folder / "markets" / "gb.yaml") in err
    assert (folder / "markets" / "gb.yaml").read_text() == "code: gb  # mine\n"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == ["markets/gb.yaml"]
