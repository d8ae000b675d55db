"""Metadata carried inside a rendition file: IPTC (IIM) and XMP, written without re-encoding.

PhotoShelter reads the IPTC Core fields embedded in a file when it is uploaded (its help page
*Editing IPTC Metadata*), and documents no API to write metadata. So a written-back or archived
rendition carries its link to the master inside the file: title, description, keywords
(``master:<id>``, ``campaign:<c>`` … — searchable in PhotoShelter), headline, job ID (the
master), instructions (the transformation) and source. The pixels are not touched: JPEG gets
an APP13 (IPTC) and an APP1 (XMP) segment, PNG an ``iTXt`` XMP chunk, WebP an ``XMP `` chunk.
``read`` gives the fields back (the tests read what PhotoShelter stored).
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from PIL import Image

XMP_NS = "http://ns.adobe.com/xap/1.0/\0"
NS = {"x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "dc": "http://purl.org/dc/elements/1.1/", "photoshop": "http://ns.adobe.com/photoshop/1.0/"}
# IIM record 2 datasets and their maximum lengths in bytes (IPTC IIM 4.2).
IIM = {"title": (5, 64), "keywords": (25, 64), "instructions": (40, 256), "job_id": (103, 32),
       "headline": (105, 256), "source": (115, 32), "description": (120, 2000)}


@dataclass(frozen=True)
class EmbeddedFields:
    """The IPTC Core fields a rendition carries (names as PhotoShelter shows them)."""

    title: str
    description: str
    keywords: list[str] = field(default_factory=list)
    headline: str = ""
    job_id: str = ""
    instructions: str = ""
    source: str = ""


def embed(path: Path, fields: EmbeddedFields) -> None:
    """Write ``fields`` into the image file at ``path`` in place (JPEG, PNG or WebP)."""
    path.write_bytes(embedded(path.read_bytes(), fields, name=path.name))


def embedded(data: bytes, fields: EmbeddedFields, *, name: str = "the image") -> bytes:
    """The image file ``data`` with ``fields`` written in (JPEG, PNG or WebP); pixels untouched."""
    if data[:2] == b"\xff\xd8":
        return _jpeg(data, fields)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data, fields)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data, fields)
    raise ValueError(f"{name}: cannot embed metadata in this format (JPEG, PNG and WebP only)")


def read(path: Path) -> dict[str, Any]:
    """The embedded fields: ``xmp`` (dict) and ``iptc`` (dataset name → value or list)."""
    data = path.read_bytes()
    xmp_text, iim = "", b""
    if data[:2] == b"\xff\xd8":
        for marker, body in _jpeg_segments(data):
            if marker == 0xE1 and body.startswith(XMP_NS.encode()):
                xmp_text = body[len(XMP_NS):].decode("utf-8")
            elif marker == 0xED and body.startswith(b"Photoshop 3.0\0"):
                iim = _iim_from_8bim(body[14:])
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        for kind, body in _png_chunks(data):
            if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0"):
                xmp_text = body.split(b"\0", 5)[-1].decode("utf-8")  # keyword, flag, method, lang, tkw
    elif data[:4] == b"RIFF":
        for kind, body in _riff_chunks(data):
            if kind == b"XMP ":
                xmp_text = body.decode("utf-8")
    return {"xmp": _parse_xmp(xmp_text) if xmp_text else {}, "iptc": _parse_iim(iim)}


def pixel_digest(path: Path) -> str:
    """SHA-256 of the decoded pixels: equal for two files that differ only in metadata."""
    with Image.open(path) as image:
        return hashlib.sha256(image.mode.encode() + repr(image.size).encode() + image.tobytes()).hexdigest()


# ---------------------------------------------------------------------------------- XMP
def xmp(fields: EmbeddedFields) -> str:
    def alt(text: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(text)}</rdf:li></rdf:Alt>'

    bag = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in fields.keywords)
    props = "".join(f"<photoshop:{name}>{escape(value)}</photoshop:{name}>" for name, value in (
        ("Headline", fields.headline), ("TransmissionReference", fields.job_id),
        ("Instructions", fields.instructions), ("Source", fields.source)) if value)
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            f'<x:xmpmeta xmlns:x="{NS["x"]}"><rdf:RDF xmlns:rdf="{NS["rdf"]}">'
            f'<rdf:Description rdf:about="" xmlns:dc="{NS["dc"]}" xmlns:photoshop="{NS["photoshop"]}">'
            f"<dc:title>{alt(fields.title)}</dc:title><dc:description>{alt(fields.description)}</dc:description>"
            f"<dc:subject><rdf:Bag>{bag}</rdf:Bag></dc:subject>{props}"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _parse_xmp(text: str) -> dict[str, Any]:
    root = ElementTree.fromstring(re.sub(r"<\?xpacket[^>]*\?>", "", text).strip())
    desc = root.find(".//rdf:Description", NS)
    if desc is None:
        return {}
    out: dict[str, Any] = {}
    for key, tag in (("title", "dc:title"), ("description", "dc:description")):
        item = desc.find(f"{tag}/rdf:Alt/rdf:li", NS)
        if item is not None:
            out[key] = item.text or ""
    out["keywords"] = [li.text or "" for li in desc.findall("dc:subject/rdf:Bag/rdf:li", NS)]
    for key, name in (("headline", "Headline"), ("job_id", "TransmissionReference"),
                      ("instructions", "Instructions"), ("source", "Source")):
        item = desc.find(f"photoshop:{name}", NS)
        if item is not None:
            out[key] = item.text or ""
    return out


# ---------------------------------------------------------------------------------- IPTC IIM
def iim(fields: EmbeddedFields) -> bytes:
    """IIM record 2 datasets (UTF-8, declared by dataset 1:90), each cut to its maximum length."""
    out = bytearray(_dataset(1, 90, b"\x1b%G"))
    for name, (number, limit) in IIM.items():
        values = fields.keywords if name == "keywords" else [getattr(fields, name)]
        for value in values:
            if value:
                out += _dataset(2, number, _cut(value, limit))
    return bytes(out)


def _cut(text: str, limit: int) -> bytes:
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", "ignore").encode("utf-8")  # never half a character


def _dataset(record: int, number: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, record, number, len(value)) + value


def _parse_iim(data: bytes) -> dict[str, Any]:
    names = {number: name for name, (number, _) in IIM.items()}
    out: dict[str, Any] = {}
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, number, length = data[pos + 1], data[pos + 2], struct.unpack(">H", data[pos + 3:pos + 5])[0]
        value = data[pos + 5:pos + 5 + length].decode("utf-8", "replace")
        pos += 5 + length
        if record == 2 and number in names:
            name = names[number]
            if name == "keywords":
                out.setdefault(name, []).append(value)
            else:
                out[name] = value
    return out


def _iim_from_8bim(data: bytes) -> bytes:
    pos = 0
    while pos + 12 <= len(data) and data[pos:pos + 4] == b"8BIM":
        resource = struct.unpack(">H", data[pos + 4:pos + 6])[0]
        name_len = data[pos + 6]
        pos += 7 + name_len + ((name_len + 1) % 2)
        size = struct.unpack(">I", data[pos:pos + 4])[0]
        body = data[pos + 4:pos + 4 + size]
        if resource == 0x0404:
            return body
        pos += 4 + size + (size % 2)
    return b""


# ---------------------------------------------------------------------------------- containers
def _jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The marker segments before the image data: ``(marker, body)``."""
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):  # start of scan / end of image
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return out


def _jpeg(data: bytes, fields: EmbeddedFields) -> bytes:
    xmp_body = XMP_NS.encode() + xmp(fields).encode("utf-8")
    iim_body = iim(fields)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iim_body)) + iim_body
    resource += b"\0" * (len(iim_body) % 2)
    photoshop = b"Photoshop 3.0\0" + resource
    segments = b"".join(b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body
                        for marker, body in ((0xE1, xmp_body), (0xED, photoshop)))
    # After SOI and any APP0 (JFIF), dropping XMP and IPTC segments a previous embed left.
    pos, kept = 2, b""
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] in (0xE0, 0xE1, 0xED):
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        if not (data[pos + 1] == 0xED or (data[pos + 1] == 0xE1 and body.startswith(XMP_NS.encode()))):
            kept += data[pos:pos + 2 + length]
        pos += 2 + length
    return data[:2] + kept + segments + data[pos:]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(data: bytes, fields: EmbeddedFields) -> bytes:
    chunks = [(k, b) for k, b in _png_chunks(data)
              if not (k == b"iTXt" and b.startswith(b"XML:com.adobe.xmp\0"))]
    itxt = b"XML:com.adobe.xmp\0\0\0\0\0" + xmp(fields).encode("utf-8")
    out = data[:8] + _png_chunk(*chunks[0])  # IHDR first
    out += _png_chunk(b"iTXt", itxt)
    return out + b"".join(_png_chunk(k, b) for k, b in chunks[1:])


def _webp_size(kind: bytes, body: bytes) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple WebP from its bitstream header (RFC 9649 §2.5 lossy
    frame header, §3.2 lossless header), so nothing is decoded."""
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and body[:1] == b"\x2f":
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ValueError(f"not a WebP bitstream this can read ({kind!r} chunk)")


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((kind, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size % 2)
    return out


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _webp(data: bytes, fields: EmbeddedFields) -> bytes:
    chunks = [(k, b) for k, b in _riff_chunks(data) if k != b"XMP "]
    if chunks[0][0] == b"VP8X":
        flags = bytes([chunks[0][1][0] | 0x04]) + chunks[0][1][1:]
        chunks[0] = (b"VP8X", flags)
    else:  # a simple file: the extended header that announces metadata is needed
        width, height, alpha = _webp_size(*chunks[0])
        header = bytes([0x04 | (0x10 if alpha else 0), 0, 0, 0])
        header += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", header))
    chunks.append((b"XMP ", xmp(fields).encode("utf-8")))
    body = b"WEBP" + b"".join(_riff_chunk(k, b) for k, b in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
