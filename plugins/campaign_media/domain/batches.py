"""The typed shapes that travel between tasks (XCom: small descriptors, payloads in storage)
and that the steps keep in storage (market state)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from campaign_media.exceptions import CampaignMediaError


class IngestBatch(TypedDict):
    """One mapped ingest task's work: ``path`` holds the masters, ``result`` receives the outcome."""

    campaign: str
    path: str
    result: str
    count: int
    label: str


class IngestResult(TypedDict):
    campaign: str
    path: str
    uploaded: int
    context_updated: int
    failed: int


class MarketBatch(TypedDict):
    """One mapped market task's work; ``spec`` is the hash of the market's rendition specs."""

    campaign: str
    market: str
    path: str
    result: str
    spec: str
    gallery_id: str
    dry_run: bool
    count: int
    label: str


class MarketResult(TypedDict):
    campaign: str
    market: str
    path: str
    rendered: int
    failed: int
    dry_run: bool


class RenditionEntry(TypedDict):
    """A stored rendition of a market copy, as the market state keeps it."""

    url: str
    width: int
    height: int
    bytes: int
    format: str
    transformation: str
    file_name: NotRequired[str]
    ps_image_id: NotRequired[str | None]
    kind: NotRequired[str]  # a video copy's: "video", "poster" or "stream"
    write_back: NotRequired[bool]  # False for a stream (a playlist is no reference asset)
    pending: NotRequired[bool]  # a video derivative Cloudinary is still making (eager_async)
    duration: NotRequired[float]


class MasterState(TypedDict):
    """The market state of one master (``state.json``: ``image_id -> MasterState``)."""

    version: str
    spec: str
    master: str
    public_id: str
    renditions: dict[str, RenditionEntry]
    rules: NotRequired[list[dict[str, Any]]]  # the access rules the copy was made with
    media_type: NotRequired[str]  # "video" for a video copy (absent: an image)
    rights: NotRequired[dict[str, str]]  # the licence end and usage rights the copy was made with
    made_at: NotRequired[str]  # when the copy was made (a sign-off request waits for a burst to settle)


MarketState = dict[str, MasterState]


class BatchIncomplete(CampaignMediaError, RuntimeError):
    """Some masters of a batch hit transient errors beyond the retry budget. Everything else is
    saved in the batch's result file, and a retry of the task (Airflow's, or a cleared task)
    carries on from there: done masters are not redone."""


def batch_label(campaign: str, index: int, count: int, market: str | None = None) -> str:
    """How a mapped task shows in the grid: ``spring · fr · batch 2 (50 masters)``."""
    where = f"{campaign} · {market}" if market else campaign
    return f"{where} · batch {index + 1} ({count} masters)"


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
