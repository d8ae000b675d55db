"""What an alert says (pure)."""

from __future__ import annotations

from campaign_media.domain.alerts import failure_alert, market_of, ui_links


def test_a_market_task_s_alert_names_campaign_market_and_links_the_mapped_task_and_the_page() -> None:
    alert = failure_alert(dag_id="campaign_media_market_jp", task_id="render", run_id="scheduled__2026-03-01T00:00:00",
                          error="CloudinaryError: 400 Invalid transformation", ui_base="https://af.example/",
                          map_index=3, campaign="spring", try_number=3)
    assert alert.subject == "[campaign media] failed: campaign spring · market jp · campaign_media_market_jp.render"
    assert "failed after 3 tries" in alert.text and "What failed: CloudinaryError: 400" in alert.text
    assert alert.links == {
        "the failed task (log, Clear)": "https://af.example/dags/campaign_media_market_jp/runs/"
                                        "scheduled__2026-03-01T00%3A00%3A00/tasks/render/mapped/3",
        "the campaign page": "https://af.example/campaign-media/campaigns/spring"}
    assert '<a href="https://af.example/campaign-media/campaigns/spring">the campaign page</a>' in alert.html


def test_html_is_escaped_and_an_incurable_error_says_so() -> None:
    alert = failure_alert(dag_id="campaign_media_ingest", task_id="plan", run_id="r", error="<b>bad</b> & worse",
                          ui_base="http://x", retried=False)
    assert "&lt;b&gt;bad&lt;/b&gt; &amp; worse" in alert.html and "<b>bad</b>" not in alert.html
    assert "retrying cannot fix this" in alert.text and market_of("campaign_media_ingest") is None
    assert list(ui_links("http://x", dag_id="d", run_id="r", task_id="t")) == ["the failed task (log, Clear)"]
