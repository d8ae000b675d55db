"""Every tunable through Airflow's config ([campaign_media]); the 0.8 variables for one more release."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaign_media import settings

ROOT = Path(__file__).resolve().parents[2]
OLD = ["CAMPAIGN_MEDIA_STORAGE", "CAMPAIGN_MEDIA_INCLUDE", "CAMPAIGN_MEDIA_BATCH_SIZE", "CAMPAIGN_MEDIA_TASK_THREADS",
       "CAMPAIGN_MEDIA_RENDER_THREADS", "CAMPAIGN_MEDIA_CLAIM_POLL_SECONDS",
       "CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", "CAMPAIGN_MEDIA_VIDEO_POLL_SECONDS"]


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for s in settings.SETTINGS.values():
        for key in (s.key, s.old_key):
            if key:
                monkeypatch.delenv(f"AIRFLOW__CAMPAIGN_MEDIA__{key.upper()}", raising=False)
    for name in OLD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings, "_warned", set())


def test_defaults_and_one_key_per_tunable() -> None:
    assert settings.get("ingest_batch_size") == 100 and settings.get("render_batch_size") == 50
    assert (settings.get("ingest_threads"), settings.get("render_threads")) == (4, 8)
    assert settings.get("retry_delay_seconds") is None and settings.get("video_poll_seconds") == 30.0
    assert settings.include_location() == str(ROOT / "include")
    # the 0.8 variables all have their key (BATCH_SIZE two: ingest and render apart; CLAIM_SETTLE_SECONDS
    # is gone: claims are atomic now and nothing waits for one to settle)
    assert sorted({s.old_env for s in settings.SETTINGS.values() if s.old_env}) == sorted(OLD)


def test_airflow_config_sets_them(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__RENDER_BATCH_SIZE", "7")
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", "s3://bucket/cm")
    assert settings.get("render_batch_size") == 7 and settings.get("ingest_batch_size") == 100
    assert settings.storage_url() == "s3://bucket/cm"


def test_the_old_variables_still_work_with_a_deprecation_warning(monkeypatch) -> None:
    monkeypatch.setenv("CAMPAIGN_MEDIA_BATCH_SIZE", "3")
    with pytest.warns(DeprecationWarning, match=r"CAMPAIGN_MEDIA_BATCH_SIZE is deprecated: set \[campaign_media\] "
                                                r"ingest_batch_size .* AIRFLOW__CAMPAIGN_MEDIA__INGEST_BATCH_SIZE"):
        assert settings.get("ingest_batch_size") == 3
    assert settings.get("render_batch_size") == 3  # the old variable meant both
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__RENDER_BATCH_SIZE", "9")  # the new key wins
    assert settings.get("render_batch_size") == 9


@pytest.mark.parametrize(("old", "new", "value"), [("task_threads", "ingest_threads", 2),
                                                ("max_wait_hours", "max_rate_limit_wait_hours", 12.0),
                                                ("watch_interval_seconds", "watch_poll_seconds", 45.0)])
def test_a_renamed_key_is_still_read_under_its_old_name_with_a_warning(monkeypatch, old, new, value) -> None:
    monkeypatch.setenv(f"AIRFLOW__CAMPAIGN_MEDIA__{old.upper()}", str(value))
    with pytest.warns(DeprecationWarning, match=rf"\[campaign_media\] {old} is now \[campaign_media\] {new}: "
                                                rf"rename it .*AIRFLOW__CAMPAIGN_MEDIA__{new.upper()}"):
        assert settings.get(new) == value
    monkeypatch.setenv(f"AIRFLOW__CAMPAIGN_MEDIA__{new.upper()}", str(value + 1))  # the new name wins
    assert settings.get(new) == value + 1


def test_a_bad_value_names_the_key_and_what_it_means(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__RENDER_THREADS", "eight")
    with pytest.raises(settings.SettingError, match=r"\[campaign_media\] render_threads = 'eight' is not a valid "
                                                    r"int: masters in flight per market render task"):
        settings.get("render_threads")


def test_the_configuration_doc_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert settings.table() in doc, "docs/configuration.md: paste python -c 'from campaign_media import settings; " \
                                    "print(settings.table())'"


def test_the_provider_declares_every_key_with_its_default() -> None:
    from campaign_media.provider import get_provider_info

    options = get_provider_info()["config"]["campaign_media"]["options"]
    assert list(options) == list(settings.SETTINGS)
    assert options["render_batch_size"]["default"] == "50" and options["render_batch_size"]["type"] == "integer"
    assert options["storage"]["default"] is None  # empty: $AIRFLOW_HOME/campaign-media, said in its description
