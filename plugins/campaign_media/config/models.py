"""Typed models of campaigns and markets (pydantic), with defaults that keep a market file short."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
LOCALE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Crop = Literal["fill", "fit", "limit", "scale", "pad", "thumb", "crop"]
Format = Literal["jpg", "png", "webp", "auto"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        guess = did_you_mean(value, available_timezones())
        fix = f"did you mean {guess!r}? Write timezone: {guess}" if guess else \
            "write an IANA name such as timezone: Europe/Paris"
        raise ValueError(f"unknown time zone. Fix: {fix}") from exc
    return value


def did_you_mean(value: object, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a misspelt ``value`` (case-insensitive), if any is close."""
    if not isinstance(value, str):
        return None
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[match[0]] if match else None


QUALITY_AUTO = ("auto", "auto:best", "auto:good", "auto:eco", "auto:low")


def _quality(value: object) -> str:
    """``auto`` (or ``auto:good`` …) or a whole number 1–100, written as a number or a string."""
    text = str(value).strip().lower() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text in QUALITY_AUTO:
        return text
    if text is not None and text.isdigit() and 1 <= int(text) <= 100:
        return str(int(text))
    raise ValueError("quality must be auto (or auto:best, auto:good, auto:eco, auto:low) or a whole number "
                     "from 1 to 100. Fix: write quality: auto or, for a fixed level, quality: 80")


def _aspect_ratio(value: object) -> str:
    """``"16:9"`` or a decimal ratio such as ``1.5``. YAML 1.1 reads an unquoted ``9:16`` as the
    base-60 number 556, so a whole number of 60 or more is taken for that mistake."""
    if isinstance(value, bool):
        raise ValueError("aspect_ratio must be a ratio. Fix: write it in quotes, e.g. aspect_ratio: \"16:9\"")
    if isinstance(value, int) and value >= 60:
        w, h = divmod(value, 60)
        raise ValueError(f"YAML read an unquoted ratio as the number {value} (base 60: {w}:{h} = {w}*60+{h}). "
                         f"Fix: quote it: aspect_ratio: \"{w}:{h}\"")
    text = str(value).strip()
    if not re.fullmatch(r"\d+(\.\d+)?(:\d+(\.\d+)?)?", text) or float(text.split(":")[0]) == 0 \
            or (":" in text and float(text.split(":")[1]) == 0):
        raise ValueError("aspect_ratio must be width:height or a decimal ratio. "
                         "Fix: write it in quotes, e.g. aspect_ratio: \"16:9\" (or aspect_ratio: 1.5)")
    return text


def _usage_rights(value: object) -> object:
    if isinstance(value, str) and value != "any":
        raise ValueError("usage_rights is a list of PhotoShelter usage-rights values, or any. "
                         f"Fix: write usage_rights: [{value}] (or usage_rights: any to clear every value)")
    return value


Quality = Annotated[str, BeforeValidator(_quality), WithJsonSchema({
    "anyOf": [{"enum": list(QUALITY_AUTO)}, {"type": "integer", "minimum": 1, "maximum": 100},
              {"type": "string", "pattern": "^([1-9][0-9]?|100)$"}],
    "description": "auto (or auto:best|good|eco|low) or a whole number 1-100", "default": "auto"})]
# Values copied into Cloudinary transformation text: each from a documented set or a pattern that
# cannot carry another step (no "/", ",", ":" or "_" beyond what the value itself needs), so a
# market file cannot add effects, add-ons or overlays fetched from elsewhere.
COMPASS = ("north_west", "north", "north_east", "west", "center", "east", "south_west", "south", "south_east")
GRAVITIES = (*COMPASS, "auto", "auto:subject", "auto:classic", "auto:faces", "auto:face", "auto:body",
             "face", "faces", "face:center", "faces:center", "face:auto", "faces:auto", "xy_center")
COLOUR = re.compile(r"^(?:[a-z]{3,20}|#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|rgb:[0-9a-fA-F]{6})$")
FONT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,60}$")


def _one_of(choices: tuple[str, ...], what: str, example: str) -> BeforeValidator:
    def check(value: object) -> object:
        if value in choices:
            return value
        guess = did_you_mean(value, choices)
        fix = f"write {what}: {guess} (did you mean {guess!r}?)" if guess else f"write e.g. {what}: {example}"
        raise ValueError(f"{what} must be one of {', '.join(choices)}. Fix: {fix}")

    return BeforeValidator(check)


def _matching(pattern: re.Pattern[str], what: str, rule: str, example: str) -> BeforeValidator:
    def check(value: object) -> object:
        if isinstance(value, str) and pattern.match(value):
            return value
        raise ValueError(f"{what} must be {rule} (anything else would reach Cloudinary as more transformation "
                         f"steps). Fix: write e.g. {what}: {example}")

    return BeforeValidator(check)


Gravity = Annotated[str, _one_of(GRAVITIES, "gravity", "auto"),
                    WithJsonSchema({"enum": list(GRAVITIES), "default": "auto"})]
TextGravity = Annotated[str, _one_of(COMPASS, "gravity", "south"),
                        WithJsonSchema({"enum": list(COMPASS), "default": "south"})]
Colour = Annotated[str, _matching(COLOUR, "color", "a colour name or #RRGGBB", '"#ffffff"'),
                   WithJsonSchema({"type": "string", "pattern": COLOUR.pattern, "default": "white"})]
FontFamily = Annotated[str, _matching(FONT, "font_family", "a font name of letters, digits, spaces and hyphens",
                                      "Arial"),
                       WithJsonSchema({"type": "string", "pattern": FONT.pattern, "default": "Arial"})]
AspectRatio = Annotated[str, BeforeValidator(_aspect_ratio), WithJsonSchema({
    "anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?(:\d+(\.\d+)?)?$"},
              {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 60}],
    "description": 'width:height in quotes ("16:9") or a decimal ratio (1.5)'})]


def moment(value: date | datetime, tz: str, *, end: bool = False) -> datetime:
    """A window bound in UTC: a bare date means that day's midnight in ``tz`` (the start of the
    day for a start, the start of the next day for an end, so an end date is inclusive)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))).astimezone(UTC)
    local = datetime.combine(value, time.min, tzinfo=ZoneInfo(tz))
    if end:
        local = datetime.combine(date.fromordinal(value.toordinal() + 1), time.min, tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


class Window(_Strict):
    """A launch window; bare dates are read in the owner's time zone, ``end`` is inclusive.

    A market may instead place its window relative to the campaign's: ``start_offset_days``
    after the campaign starts, ``end_offset_days`` before it ends (negative: after).
    """

    start: date | datetime | None = Field(default=None, description="first day (inclusive; a bare date is "
                                          "midnight in the owner's zone) or a full ISO time with its zone")
    end: date | datetime | None = Field(default=None, description="last day (inclusive: delivery ends at the next "
                                        "midnight) or a full ISO time with its zone")
    start_offset_days: int | None = Field(default=None, description="a market only: opens this many days after the "
                                          "campaign starts (instead of start)")
    end_offset_days: int | None = Field(default=None, description="a market only: closes this many days before the "
                                        "campaign ends (negative: after; instead of end)")

    @model_validator(mode="after")
    def _one_kind(self) -> Window:
        if self.start is not None and self.start_offset_days is not None:
            raise ValueError("give window.start or window.start_offset_days, not both")
        if self.end is not None and self.end_offset_days is not None:
            raise ValueError("give window.end or window.end_offset_days, not both")
        return self

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start and self.end and moment(self.start, "UTC") > moment(self.end, "UTC", end=True):
            raise ValueError("window.end is before window.start; swap them or fix the dates")
        return self


class Rendition(_Strict):
    """One stored rendition a market publishes (Cloudinary eager transformation)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")] = Field(
        description="unique in the market; part of the copy's file names and write-backs")
    width: Annotated[int, Field(gt=0, le=8000)] | None = Field(default=None, description="pixels (width and/or height)")
    height: Annotated[int, Field(gt=0, le=8000)] | None = Field(default=None, description="pixels")
    aspect_ratio: AspectRatio | None = Field(default=None, description='e.g. "16:9", always in quotes (YAML reads '
                                             "16:9 unquoted as a number)")
    crop: Crop = Field(default="fill", description="Cloudinary's crop mode")
    gravity: Gravity = Field(default="auto", description="where a crop keeps the picture")
    format: Format = Field(default="jpg", description="the file format (auto: the browser's best)")
    quality: Quality = Field(default="auto", description="auto (auto:best|good|eco|low) or 1..100")
    dpr: Annotated[float, Field(gt=0, le=4)] = Field(default=1.0, description="device pixel ratio")
    effect: Literal["background_removal"] | None = Field(default=None, description="product shots (a Cloudinary "
                                                        "add-on)")
    overlay: bool = Field(default=True, description="draw the localized headline on it")

    @model_validator(mode="after")
    def _sized(self) -> Rendition:
        if not (self.width or self.height):
            raise ValueError(f"rendition {self.name!r} has no size. Fix: add width: 1600 (or height:) to it")
        return self


class Poster(_Strict):
    """A video rendition's poster frame: the frame at ``offset`` seconds, as an image."""

    offset: Annotated[float, Field(ge=0)] = Field(default=1.0, description="seconds into the video")
    format: Literal["jpg", "png", "webp"] = Field(default="jpg", description="the poster's image format")


class TimedHeadline(_Strict):
    """When the localized headline shows on a video: from ``start`` to ``end`` seconds (to the end
    when ``end`` is not given)."""

    start: Annotated[float, Field(ge=0)] = Field(default=0.0, description="seconds")
    end: Annotated[float, Field(gt=0)] | None = Field(default=None, description="seconds; empty: to the end")

    @model_validator(mode="after")
    def _ordered(self) -> TimedHeadline:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"headline.end ({self.end}) must be after headline.start ({self.start}). "
                             "Fix: e.g. headline: {start: 0.5, end: 4}")
        return self


class VideoRendition(_Strict):
    """One video rendition a market publishes: size and aspect, container, quality, a poster frame,
    optionally an adaptive stream (HLS), and the headline shown over a time span."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")] = Field(description="unique in the market")
    width: Annotated[int, Field(gt=0, le=4096)] | None = Field(default=None, description="pixels (rounded down to "
                                                               "even numbers)")
    height: Annotated[int, Field(gt=0, le=4096)] | None = Field(default=None, description="pixels")
    aspect_ratio: AspectRatio | None = Field(default=None, description='e.g. "16:9", in quotes')
    crop: Literal["fill", "fit", "limit", "scale", "pad"] = Field(default="fill", description="Cloudinary's crop mode")
    gravity: Gravity = Field(default="auto", description="where a crop keeps the picture")
    format: Literal["mp4", "webm", "auto"] = Field(default="mp4", description="mp4 (H.264), webm (VP9) or auto")
    quality: Quality = Field(default="auto", description="auto or 1..100")
    poster: Poster | None = Field(default=Poster(), description="a frame as an image; null: none")
    streaming: Literal["hls"] | None = Field(default=None, description="also an adaptive stream (sp_auto, .m3u8)")
    headline: TimedHeadline | None = Field(default=TimedHeadline(), description="when the headline shows, or null")

    @model_validator(mode="after")
    def _sized(self) -> VideoRendition:
        if not (self.width or self.height):
            raise ValueError(f"video rendition {self.name!r} has no size. Fix: add width: 1280 (or height:) to it")
        return self


class OverlayStyle(_Strict):
    """How the localized headline is drawn on a market's renditions."""

    font_family: FontFamily = Field(default="Arial", description="letters, digits, spaces, hyphens")
    font_size: Annotated[int, Field(gt=4, le=400)] = Field(default=48, description="points")
    font_weight: Literal["normal", "bold"] = Field(default="bold", description="normal or bold")
    color: Colour = Field(default="white", description='a colour name or "#RRGGBB"')
    gravity: TextGravity = Field(default="south", description="where the text sits")
    y: int = Field(default=40, description="pixels from that edge")


DEFAULT_RENDITIONS = (
    Rendition(name="hero", width=1600, aspect_ratio="16:9"),
    Rendition(name="square", width=1080, aspect_ratio="1:1"),
    Rendition(name="story", width=1080, aspect_ratio="9:16"),
)


DEFAULT_VIDEO_RENDITIONS = (
    VideoRendition(name="film", width=1280, aspect_ratio="16:9"),
    VideoRendition(name="reel", width=720, aspect_ratio="9:16"),
)


class Market(_Strict):
    """A region the campaign launches in. Only ``code``, ``locales`` and ``timezone`` are required."""

    code: Annotated[str, Field(pattern=SLUG)] = Field(description="lower-case slug = the file name; the DAG is "
                                                      "campaign_media_market_<code>")
    name: str = Field(default="", description="shown in the Airflow UI")
    locales: Annotated[list[Annotated[str, Field(pattern=LOCALE)]], Field(min_length=1)] = Field(
        description="e.g. [fr-FR]; the first is the locale whose headline is drawn on renditions")
    timezone: str = Field(description="an IANA name (Europe/Paris): a bare date in a window is midnight here")
    window: Window = Field(default=Window(), description="the market's own launch window, intersected with the "
                           "campaign's; empty: the campaign's")
    renditions: Annotated[list[Rendition], Field(min_length=1)] = Field(
        default=list(DEFAULT_RENDITIONS), description="the stored renditions (default: hero 1600 16:9, square 1080 "
                                                      "1:1, story 1080 9:16)")
    video_renditions: list[VideoRendition] = Field(
        default=list(DEFAULT_VIDEO_RENDITIONS),
        description="what video masters (campaigns whose source.media names video) become here")
    breakpoints: list[Annotated[int, Field(gt=0, le=8000)]] = Field(
        default=[320, 640, 1024, 1600], description="responsive widths in the delivery manifest")
    overlay: Annotated[Annotated[OverlayStyle, Tag("style")] | Annotated[Literal["none"], Tag("none")],
                       Discriminator(lambda v: "none" if isinstance(v, str) else "style")] = Field(
        default=OverlayStyle(), description="headline style, or none: renditions carry no text")
    channels: list[Literal["web", "mobile", "ecommerce", "social"]] = Field(
        default=["web", "mobile", "ecommerce", "social"], description="where the manifest says the copies go")
    usage_rights: Annotated[list[str] | Literal["any"], BeforeValidator(_usage_rights)] = Field(
        description="PhotoShelter usage-rights values cleared for this market, or any (said explicitly: "
                    "a market that names none fails closed)")

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @field_validator("renditions", "video_renditions")
    @classmethod
    def _unique_names(cls, value: list[Rendition] | list[VideoRendition]) -> list[Rendition] | list[VideoRendition]:
        names = [r.name for r in value]
        if len(names) != len(set(names)):
            raise ValueError(f"rendition names must be unique, got {names}")
        return value

    @property
    def primary_locale(self) -> str:
        return self.locales[0]

    @property
    def draws_headline(self) -> bool:
        """Whether any rendition carries the campaign's localized headline."""
        return self.overlay != "none" and any(r.overlay for r in self.renditions)

    def clears(self, usage_rights: str) -> bool:
        """Whether masters with these PhotoShelter usage rights may be published here."""
        return self.usage_rights == "any" or usage_rights in self.usage_rights


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def seconds(value: str | float) -> float:
    """``30s``, ``2m``, ``1h`` or a plain number of seconds → seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration: write e.g. 30s, 2m or 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


class Watch(_Strict):
    """How often the PhotoShelter watcher lists this campaign's source for approvals and new
    files (``source.watch: {interval: 30s}``; ``source.watch: off`` turns it off for the campaign)."""

    interval: Annotated[float, Field(ge=10, le=3600)] | None = Field(
        default=None, description="seconds between polls (10-3600; 30s, 2m); empty: the deployment's "
                                  "watch_poll_seconds, within its call budget")

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else seconds(value)  # type: ignore[arg-type]


class Source(_Strict):
    """Where the campaign's masters live in PhotoShelter: gallery IDs, a collection ID or a
    collection name (every gallery below it)."""

    gallery_ids: list[str] = Field(default=[], description="PhotoShelter gallery IDs (G0000…); exactly one of "
                                   "gallery_ids, collection_id, collection_name")
    collection_id: str | None = Field(default=None, description="a collection ID (C0000…): every gallery below it")
    collection_name: str | None = Field(default=None, description="a collection's name: every gallery below it")
    # ``video`` reads the galleries' media listing (images and videos in one call per page)
    # instead of the image listing.
    media: Annotated[list[Literal["image", "video"]], Field(min_length=1)] = Field(
        default=["image"], description="which media become masters: image, video (hero videos) or both")
    watch: Watch | Literal[False] = Field(default=Watch(), description="event-driven ingest: the watcher's "
                                          "interval ({interval: 30s}), or off (the daily run only)")

    @field_validator("watch", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        return False if value in (False, "off", "false", "no") else value

    @model_validator(mode="after")
    def _one(self) -> Source:
        if sum(bool(x) for x in (self.gallery_ids, self.collection_id, self.collection_name)) != 1:
            raise ValueError("source needs exactly one of gallery_ids, collection_id or collection_name")
        return self


class Approval(_Strict):
    """Which custom-metadata field and value mean "approved" (the same rule for every submitter)."""

    field: str = Field(default="Approval Status", description="the PhotoShelter custom-metadata field")
    value: str = Field(default="Approved", description="the value that means approved")


class Copy(_Strict):
    """One locale's text for the campaign."""

    headline: str = Field(description="drawn on renditions whose market has an overlay, and on videos while "
                                      "their headline shows")


# The earliest and the latest local midnights on Earth: a campaign whose bare dates mean each
# market's own midnight has begun somewhere from the first and is over everywhere after the last.
EARLIEST_ZONE, LATEST_ZONE = "Etc/GMT-14", "Etc/GMT+12"


class CampaignWindow(Window):
    """The campaign's dates. Bare dates mean each market's own midnight (people say "launch on the
    25th" and mean it locally); a ``timezone`` makes them one instant everywhere (a simultaneous
    global launch at that zone's midnight)."""

    timezone: str | None = Field(default=None, description="an IANA zone: bare dates are its midnights, one "
                                 "instant everywhere; empty: each market's own midnight")

    @model_validator(mode="after")
    def _absolute(self) -> CampaignWindow:
        if self.start_offset_days is not None or self.end_offset_days is not None:
            raise ValueError("a campaign window takes dates (start, end), not offsets. "
                             "Fix: write window: {start: 2026-03-01, end: 2026-06-30}")
        return self

    _tz = field_validator("timezone")(classmethod(lambda cls, v: v if v is None else check_timezone(v)))


class SignedUrls(_Strict):
    """Masters whose usage rights are listed here are delivered only through expiring token
    URLs (recorded in the delivery manifest), never by a public URL."""

    usage_rights: Annotated[list[str], Field(min_length=1)] = Field(
        description="PhotoShelter usage-rights values whose masters are delivered by token URLs only")
    # short: a usage-window run re-issues every 15 min
    ttl_hours: Annotated[int, Field(gt=0, le=24 * 30)] = Field(
        default=4, description="how long an issued token URL works (never past the window's end; at most 30 days)")


class Signoff(_Strict):
    """Nothing goes live unsigned: after a market's renditions are made and written back, the
    people named here are asked (Airflow's Required Actions); the market's copies stay closed,
    even inside their window, until one of them says yes."""

    approvers: Annotated[list[str], Field(min_length=1)] = Field(
        description="Airflow user IDs who may answer, for every market without its own list")
    markets: dict[str, Annotated[list[str], Field(min_length=1)] | Literal["none"]] = Field(
        default_factory=dict, description="market code -> the Airflow user IDs who answer for that market instead, "
                                          "or none: that market goes live without a sign-off")
    per_market: bool = Field(default=True, description="each market needs its own yes; false: one yes (for any of "
                                                       "the campaign's markets) opens them all")
    deadline: float = Field(default=12 * 3600, description="how long before the market's opening the answer is "
                                                           "due (30m, 12h); no answer by then keeps it closed and "
                                                           "alerts")
    additions: Literal["new_yes", "standing"] = Field(
        default="new_yes", description="a master added after the yes: new_yes asks again for it (closed until "
                                       "then); standing lets the earlier yes cover it")
    settle: float = Field(default=600, description="how long a market's request waits after its latest master was "
                                                   "made (10m, 0s), so a burst of approvals is asked about once; a "
                                                   "deadline sooner than that asks at once")

    @field_validator("deadline", "settle", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return seconds(value)  # type: ignore[arg-type]

    def approvers_for(self, market: str) -> list[str]:
        """Who answers for ``market`` ([] for a market that needs no sign-off)."""
        named = self.markets.get(market, self.approvers)
        return list(named) if self.required_for(market) else []

    def required_for(self, market: str) -> bool:
        """Whether ``market``'s copies wait for a yes (``markets: {code: none}`` opts one out)."""
        return self.markets.get(market) != "none"


class ArchivePolicy(_Strict):
    """What happens after the campaign ends (+ ``grace_days``): the final renditions go to the
    PhotoShelter ``gallery`` (default "<campaign name> — archive"), verified; then Cloudinary is
    cleaned up: market copies deleted, masters kept restricted or deleted."""

    gallery: str | None = Field(default=None, description="the PhotoShelter gallery the final renditions go to; "
                                "empty: \"<campaign name> — archive\"")
    grace_days: Annotated[int, Field(ge=0, le=365)] = Field(default=7, description="days after the campaign's end "
                                                            "before the archive runs")
    masters: Literal["restrict", "delete"] = Field(default="restrict", description="what becomes of the masters in "
                                                   "Cloudinary afterwards (market copies are always deleted)")


class Campaign(_Strict):
    """A campaign: where its media are in PhotoShelter, its markets and window, its localized
    copy, and what happens after it ends. The file name is the ``id``."""

    id: Annotated[str, Field(pattern=SLUG)] = Field(description="lower-case slug; the file is campaigns/<id>.yaml")
    name: str = Field(description="shown in the UI; names the PhotoShelter galleries the pipeline makes")
    source: Source = Field(description="where the masters are in PhotoShelter")
    window: CampaignWindow = Field(description="when the campaign's copies may be served")
    markets: Annotated[list[Annotated[str, Field(pattern=SLUG)]], Field(min_length=1)] = Field(
        description="market codes (include/markets/<code>.yaml)")
    copy_: dict[str, Copy] = Field(default_factory=dict, alias="copy", description="locale -> its text, for every "
                                   "locale of a market with an overlay")
    approval: Approval = Field(default=Approval(), description="which custom field and value mean approved")
    signed_urls: SignedUrls | None = Field(default=None, description="premium (token-based access, private CDN): "
                                           "masters with these rights are delivered by expiring token URLs only")
    archive: ArchivePolicy = Field(default=ArchivePolicy(), description="what happens after the campaign ends")
    signoff: Signoff | None = Field(default=None, description="launch sign-off: copies stay closed until a named "
                                    "person says yes (docs/signoff.md)")
    on_hand_edit: Literal["repair", "alert"] = Field(
        default="repair", description="when a person changes a market copy in Cloudinary (deletes, renames, opens "
                                      "its access, edits its governance fields): repair it from the rights, or only "
                                      "alert (a takedown belongs in PhotoShelter)")
    governance: Literal["context", "structured"] | None = Field(
        default=None, description="where masters' owner, approval, usage rights and licence expiry go in "
                                  "Cloudinary: context, or structured metadata fields console users can search "
                                  "(default: the Cloudinary connection's governance extra, else context)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _signoff_markets(self) -> Campaign:
        unknown = sorted(set(self.signoff.markets) - set(self.markets)) if self.signoff else []
        if unknown:
            raise ValueError(f"signoff.markets names {', '.join(unknown)}, not among the campaign's markets "
                             f"({', '.join(self.markets)}). Fix: use those codes, or remove the entries")
        return self

    def signoff_for(self, market: str) -> Signoff | None:
        """The sign-off ``market``'s copies wait for (``None``: none, for the campaign or that market)."""
        return self.signoff if self.signoff is not None and self.signoff.required_for(market) else None

    def headline(self, locale: str) -> str | None:
        """The localized headline for a locale, falling back to its language (``fr`` for ``fr-CA``)."""
        if locale in self.copy_:
            return self.copy_[locale].headline
        language = re.split(r"[-_]", locale)[0]
        return next((c.headline for key, c in self.copy_.items() if key.split("-")[0] == language), None)

    def bounds(self, tz: str | None = None) -> tuple[datetime | None, datetime | None]:
        """The campaign window in UTC (``None`` = open): in the campaign's own zone if it names
        one, else in ``tz`` (a market's); with neither, from the first midnight anywhere to the
        last one (so "has it started/ended" errs on the side of "still running somewhere")."""
        w = self.window
        start_tz, end_tz = (w.timezone or tz or EARLIEST_ZONE), (w.timezone or tz or LATEST_ZONE)
        return (moment(w.start, start_tz) if w.start else None,
                moment(w.end, end_tz, end=True) if w.end else None)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the campaign runs at some moment of ``[start, end]``."""
        first, last = self.bounds()
        return (first is None or first <= end) and (last is None or start < last)

    def ended(self, at: datetime) -> bool:
        """Whether the campaign is over at ``at`` (a campaign that has not started is not)."""
        last = self.bounds()[1]
        return last is not None and at >= last

    def archive_due(self, at: datetime) -> bool:
        """Whether the campaign ended at least ``archive.grace_days`` before ``at``."""
        last = self.bounds()[1]
        return last is not None and at >= last + timedelta(days=self.archive.grace_days)

    @property
    def archive_gallery(self) -> str:
        return self.archive.gallery or f"{self.name} — archive"

    def market_window(self, market: Market) -> tuple[datetime | None, datetime | None]:
        """The market's effective window in UTC: its own window (absolute in its time zone, or
        offset from the campaign's) intersected with the campaign's — whose bare dates are this
        market's midnights unless the campaign names a time zone."""
        first, last = self.bounds(market.timezone)
        w = market.window
        start = moment(w.start, market.timezone) if w.start else (
            first + timedelta(days=w.start_offset_days) if first and w.start_offset_days is not None else None)
        end = moment(w.end, market.timezone, end=True) if w.end else (
            last - timedelta(days=w.end_offset_days) if last and w.end_offset_days is not None else None)
        starts = [t for t in (first, start) if t is not None]
        ends = [t for t in (last, end) if t is not None]
        return (max(starts) if starts else None, min(ends) if ends else None)
