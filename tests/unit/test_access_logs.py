"""CDN access logs: the three formats read, URLs mapped to masters and markets, lines counted apart (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from campaign_media.domain.access_logs import Delivered, delivered, parse
from campaign_media.reports.access import by_copy, tally

HERO = "/demo/image/upload/c_fill,h_900,w_1600/v1712/campaigns/spring/markets/fr/I0000abc.jpg"
FIELDS = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)"


def cloudfront(path: str, size: int, status: int = 200, when: str = "2026-03-02\t10:00:00") -> str:
    return "\t".join([*when.split("\t"), "CDG50-C1", str(size), "192.0.2.1", "GET", "d111.cloudfront.net", path,
                      str(status), "-"])


def test_urls_of_every_kind_name_their_master_and_market() -> None:
    assert delivered(HERO) == Delivered("spring", "fr", "I0000abc", "c_fill,h_900,w_1600")
    # private CDN (no cloud name), a signed URL, an on-the-fly channel URL, a rotated copy, no extension
    assert delivered("/image/upload/s--AbC123xy--/f_auto,q_auto/campaigns/spring/markets/jp/I0000abc--r2.webp") \
        == Delivered("spring", "jp", "I0000abc", "f_auto,q_auto")
    assert delivered("/demo/image/upload/campaigns/spring/markets/sa/I0000abc") == \
        Delivered("spring", "sa", "I0000abc", "")
    assert delivered("/demo/video/upload/sp_auto/campaigns/spring/markets/fr/V0000x.m3u8.hls/seg-3.ts") \
        == Delivered("spring", "fr", "V0000x", "sp_auto")
    assert delivered("/demo/image/authenticated/s--x--/campaigns/spring/masters/I0000abc.jpg") == \
        Delivered("spring", None, "I0000abc", "")
    assert delivered("/demo/image/upload/campaigns%2Fspring%2Fmarkets%2Ffr%2FI0000abc.jpg") is not None
    # PhotoShelter media IDs may hold a dot: with or without a format, the whole ID is read
    assert delivered("/demo/image/upload/f_auto,q_auto/campaigns/spring/markets/fr/I0000.ETxkQsu0bB") == \
        Delivered("spring", "fr", "I0000.ETxkQsu0bB", "f_auto,q_auto")
    assert delivered("/demo/image/upload/campaigns/spring/markets/fr/I0000.ETxkQsu0bB.webp").image_id == \
        "I0000.ETxkQsu0bB"
    for other in ("/favicon.ico", "/demo/image/upload/v1/samples/dog.jpg", "/demo/image/upload/campaigns/x.jpg"):
        assert delivered(other) is None


def test_cloudfront_lines_are_read_by_their_fields_line_and_comments_skipped() -> None:
    lines = ["#Version: 1.0", FIELDS, cloudfront(HERO, 52_000), "", "garbage without tabs"]
    hits = list(parse("cloudfront", lines))
    assert hits[0].bytes == 52_000 and hits[0].status == 200 and hits[0].path == HERO
    assert hits[0].time == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert hits[1] is None and len(hits) == 2
    reordered = ["#Fields: cs-uri-stem sc-status sc-bytes date time", f"{HERO}\t304\t0\t2026-03-02\t10:00:00"]
    assert next(parse("cloudfront", reordered)).status == 304


def test_json_lines_read_fastly_and_akamai_style_keys() -> None:
    lines = [json.dumps({"url": f"https://media.brand.example{HERO}?x=1", "status": 200, "bytes": 10,
                         "timestamp": "2026-03-02T10:00:00Z"}),
             json.dumps({"reqPath": HERO.lstrip("/"), "statusCode": "200", "totalBytes": "20",
                         "reqTimeSec": "1772445600"}),
             "{not json", json.dumps(["a list"]), json.dumps({"url": HERO, "status": 200})]
    hits = list(parse("jsonl", lines))
    assert [h.bytes if h else None for h in hits] == [10, 20, None, None, None]
    assert hits[0].path == HERO and hits[1].path == HERO
    assert hits[1].time == datetime.fromtimestamp(1772445600, UTC)


def test_the_documented_csv_needs_its_header() -> None:
    hits = list(parse("csv", ["Time,URL,Bytes,Status,referrer\n", f'2026-03-02T10:00:00Z,"{HERO}",7,200,-\n',
                              f'2026-03-02T10:00:00Z,"{HERO}",seven,200,-\n']))
    assert hits[0].bytes == 7 and hits[1] is None
    with pytest.raises(ValueError, match="url,bytes,status,time"):
        list(parse("csv", ["path,size\n"]))
    with pytest.raises(ValueError, match="unknown access log format 'w3c'"):
        list(parse("w3c", []))


def test_tally_counts_copies_and_keeps_every_other_line_apart() -> None:
    known = {("I0000abc", "fr")}
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    first = [cloudfront(HERO, 100), cloudfront(HERO, 100), cloudfront(HERO.replace("c_fill,h_900,w_1600/", ""), 50),
             cloudfront(HERO.replace("spring", "autumn"), 999), cloudfront("/favicon.ico", 1),
             cloudfront(HERO.replace("I0000abc", "I0000zzz"), 5), cloudfront(HERO, 0, 404),
             cloudfront(HERO, 100, when="2026-05-01\t00:00:00"),
             cloudfront("/demo/image/authenticated/s--x--/campaigns/spring/masters/I0000abc.jpg", 3), "broken"]
    second = [cloudfront(HERO, 100)]
    figures = tally([parse("cloudfront", first), parse("cloudfront", second)], "spring", known, start, end)
    assert figures.summary() == {"lines": 11, "counted": 4, "other_campaigns": 1, "not_campaign_urls": 1,
                                 "unknown_assets": 1, "master_deliveries": 1, "outside_window": 1,
                                 "failed_requests": 1, "malformed": 1}
    assert by_copy(figures) == {("I0000abc", "fr"): {"c_fill,h_900,w_1600": {"requests": 3, "bytes": 300},
                                                     "original": {"requests": 1, "bytes": 50}}}


def test_no_lines_no_figures() -> None:
    figures = tally([], "spring", set())
    assert figures.summary()["lines"] == 0 and by_copy(figures) == {} and figures.per_copy.empty
