"""The one PhotoShelter account an emulator data dir holds: IDs, records and their shapes.

Pure record logic shared by the server (``app.py``) and the seed command (``seed.py``).
Facts (``docs/api-notes.md``): IDs are a 5-character type prefix plus 11 characters of
``[a-zA-Z0-9._]``, booleans are ``"t"``/``"f"`` and timestamps ``YYYY-MM-DD HH:MM:SS GMT``,
numbers may arrive as strings.
"""

from __future__ import annotations

import secrets
import shutil
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.etree import ElementTree

from PIL import Image, IptcImagePlugin

from emulators.common.store import DocStore
from emulators.common.video import NotAVideoError, probe

ID_ALPHABET = string.ascii_letters + string.digits + "._"
ACCOUNT = ("account", "account")

# IPTC-IIM dataset numbers (record 2) → PhotoShelter's snake_case IPTC names.
IPTC_DATASETS = {
    5: "object_name", 25: "keyword", 80: "author", 105: "headline", 110: "credit",
    115: "source", 116: "copyright", 120: "caption", 40: "special_instructions",
    103: "job_id", 90: "city", 101: "country",
}


def new_id(prefix: str) -> str:
    """A PhotoShelter-shaped ID, e.g. ``I0000`` + 11 characters."""
    return prefix.ljust(5, "0") + "".join(secrets.choice(ID_ALPHABET) for _ in range(11))


def ps_time(moment: datetime | None = None) -> str:
    """Format a moment as PhotoShelter does: ``2024-01-01 10:00:00 GMT``."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S GMT")


def parse_ps_time(value: str) -> datetime:
    """``2024-01-01 10:00:00 GMT`` → an aware UTC moment (ValueError for other text)."""
    text = value.strip().removesuffix(" GMT").removesuffix(" UTC")
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def render_preview(original: Path, dest: Path, size: tuple[int, int]) -> None:
    """A JPEG rendering of an original that fits ``size`` (what PhotoShelter's links serve)."""
    with Image.open(original) as im:
        im = im.convert("RGB")
        im.thumbnail(size)
        im.save(dest, "JPEG", quality=85)


def flag(value: bool) -> str:
    return "t" if value else "f"


def ensure_account(store: DocStore) -> dict[str, Any]:
    """The account record (user, organisation, link-signing secret), created once per data dir."""
    account = store.get(*ACCOUNT)
    if account is None:
        account = {
            "user_id": new_id("U"),
            "org_id": new_id("O"),
            "org_name": "Emulated Brand Org",
            "link_secret": secrets.token_hex(16),
        }
        store.put(*ACCOUNT, account)
    return account


def make_container(kind: str, name: str, parent: str | None, *, mode: str = "private",
                   f_list: str = "t", description: str = "") -> dict[str, Any]:
    """A new collection (``kind="collection"``) or gallery record."""
    now = ps_time()
    key = f"{kind}_id"
    return {key: new_id("C" if kind == "collection" else "G"), "name": name,
            "description": description, "mode": mode, "f_list": f_list,
            "parent": parent or "root", "created_at": now, "modified_at": now}


def add_container(store: DocStore, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    store.put(kind, record[f"{kind}_id"], record)
    return record


# IPTC Core properties in XMP → the same snake_case names (PhotoShelter reads both forms).
XMP_PROPERTIES = {
    "{http://purl.org/dc/elements/1.1/}title": "object_name",
    "{http://purl.org/dc/elements/1.1/}description": "caption",
    "{http://purl.org/dc/elements/1.1/}subject": "keyword",
    "{http://ns.adobe.com/photoshop/1.0/}Headline": "headline",
    "{http://ns.adobe.com/photoshop/1.0/}TransmissionReference": "job_id",
    "{http://ns.adobe.com/photoshop/1.0/}Instructions": "special_instructions",
    "{http://ns.adobe.com/photoshop/1.0/}Source": "source",
    "{http://ns.adobe.com/photoshop/1.0/}Credit": "credit",
}


def xmp_iptc(packet: bytes | str) -> dict[str, str]:
    """IPTC Core fields of an XMP packet (element form), lists joined with ", "."""
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        return {}
    try:
        root = ElementTree.fromstring(text[start:end + len("</x:xmpmeta>")])
    except ElementTree.ParseError:
        return {}
    out: dict[str, str] = {}
    for element in root.iter():
        name = XMP_PROPERTIES.get(element.tag)
        if name:
            items = [li.text or "" for li in element.iter() if li.tag.endswith("}li")]
            out[name] = ", ".join(items) if items else (element.text or "")
    return out


class NotAnImageError(ValueError):
    """The uploaded bytes are empty or not an image PhotoShelter would accept."""


def inspect_image(path: Path) -> dict[str, Any]:
    """Width, height, MIME type and embedded IPTC of an image file; raises NotAnImageError."""
    if path.stat().st_size == 0:
        raise NotAnImageError("the file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            width, height = im.size
            mime = Image.MIME.get(im.format or "", "application/octet-stream")
            raw = IptcImagePlugin.getiptcinfo(im) or {}
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
    except Exception as exc:  # Pillow raises many types for undecodable data
        raise NotAnImageError(f"the file is not a readable image ({exc.__class__.__name__})") from exc
    iptc: dict[str, str] = xmp_iptc(xmp)  # IPTC Core as XMP; IIM datasets below take precedence
    for (record, dataset), value in raw.items():
        name = IPTC_DATASETS.get(dataset) if record == 2 else None
        if name:
            values = value if isinstance(value, list) else [value]
            iptc[name] = ", ".join(v.decode("utf-8", "replace") for v in values)
    return {"width": width, "height": height, "content_type": mime, "iptc": iptc}


def land(store: DocStore, media_id: str, source: BinaryIO | Path) -> Path:
    """Copy an upload into a ``.part`` file next to the originals (renamed once it is valid)."""
    tmp = store.blob_path(f"originals/.{media_id}.part")
    with open(tmp, "wb") as out:
        if isinstance(source, Path):
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
        else:
            shutil.copyfileobj(source, out, 1024 * 1024)
    return tmp


def governance(custom: list[dict[str, str]] | None, license_etime: str | None,
               iptc: dict[str, str] | None, gallery_id: str) -> dict[str, Any]:
    """The sub-records every medium carries: IPTC, custom metadata, licence, galleries."""
    return {"Iptc": dict(iptc or {}), "CustomMetadata": custom or [],
            "License": {"license_etime": license_etime} if license_etime else {}, "galleries": [gallery_id]}


def store_video(store: DocStore, gallery_id: str, file_name: str, source: BinaryIO | Path,
                *, custom: list[dict[str, str]] | None = None, license_etime: str | None = None,
                iptc: dict[str, str] | None = None, updated_at: str | None = None) -> dict[str, Any]:
    """Store a video original (``VD000…``) in a gallery; probed first, refused if unreadable."""
    video_id = new_id("VD")
    tmp = land(store, video_id, source)
    try:
        info = probe(tmp)
    except NotAVideoError:
        tmp.unlink(missing_ok=True)
        raise
    return keep(store, gallery_id, video_id, tmp, updated_at, {
        "media_type": "video", "video_id": video_id, "file_name": file_name, "width": str(info["width"]),
        "height": str(info["height"]), "duration": f"{info['duration']:.3f}",
        "content_type": f"video/{info['format']}", **governance(custom, license_etime, iptc, gallery_id)})


def keep(store: DocStore, gallery_id: str, media_id: str, tmp: Path, updated_at: str | None,
         fields: dict[str, Any]) -> dict[str, Any]:
    """Move a landed, checked file into place and file its record (one kind for every medium, so
    galleries and the control routes treat images and videos alike)."""
    size = tmp.stat().st_size
    tmp.rename(store.blob_path(f"originals/{media_id}"))
    now = ps_time()
    record = {"image_id": media_id, "file_size": str(size), "uploaded_at": now, "updated_at": updated_at or now,
              "f_searchable": "t", **fields}
    store.put("image", media_id, record)
    store.put("gallery_image", f"{gallery_id}/{media_id}", {"f_visible": "t"})
    return record


def store_image(store: DocStore, gallery_id: str, file_name: str, source: BinaryIO | Path,
                *, custom: list[dict[str, str]] | None = None, license_etime: str | None = None,
                iptc: dict[str, str] | None = None, updated_at: str | None = None,
                validate: bool = True) -> dict[str, Any]:
    """Store an original in a gallery; validates first so nothing half-written remains.

    ``validate=False`` is for the seed's deliberately broken records only.
    """
    image_id = new_id("I")
    tmp = land(store, image_id, source)
    info: dict[str, Any] = {"width": None, "height": None,
                            "content_type": "application/octet-stream", "iptc": {}}
    try:
        info = inspect_image(tmp)
    except NotAnImageError:
        if validate:
            tmp.unlink(missing_ok=True)
            raise
    return keep(store, gallery_id, image_id, tmp, updated_at, {
        "file_name": file_name, "width": str(info["width"] or ""), "height": str(info["height"] or ""),
        "content_type": info["content_type"],
        **governance(custom, license_etime, {**info["iptc"], **(iptc or {})}, gallery_id)})
