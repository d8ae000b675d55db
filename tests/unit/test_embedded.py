"""Metadata embedded in rendition files: written without touching the pixels, read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, IptcImagePlugin

from campaign_media.domain.embedded import EmbeddedFields, embed, pixel_digest, read

FIELDS = EmbeddedFields(
    title="spring__fr__I0000abc__hero__v9f86d081884c7d65", description="Published rendition — là, 春, وصل",
    keywords=["campaign:spring", "master:I0000abc", "market:fr"], headline="Spring — fr — hero", job_id="I0000abc",
    instructions="ar_16:9,c_fill,w_1600/q_auto", source="Cloudinary")


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"), ("WEBP", "RGBA")])
def test_fields_round_trip_and_pixels_stay(tmp_path: Path, fmt: str, mode: str) -> None:
    path = tmp_path / f"r.{fmt.lower()}"
    Image.new(mode, (64, 48), (200, 10, 10, 128)[: len(mode)]).save(path, fmt)
    before = pixel_digest(path)
    embed(path, FIELDS)
    embed(path, FIELDS)  # idempotent: one copy of each block, not two
    assert pixel_digest(path) == before
    xmp = read(path)["xmp"]
    assert xmp["title"] == FIELDS.title and xmp["description"] == FIELDS.description
    assert xmp["keywords"] == FIELDS.keywords and xmp["job_id"] == "I0000abc"
    assert xmp["instructions"] == FIELDS.instructions
    with Image.open(path) as image:  # an independent reader (Pillow) finds the XMP packet
        image.load()
        packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
        assert packet and (FIELDS.title.encode() in packet if isinstance(packet, bytes) else FIELDS.title in packet)
        assert image.size == (64, 48)


def test_jpeg_also_carries_iim_that_pillow_reads(tmp_path: Path) -> None:
    path = tmp_path / "r.jpg"
    Image.new("RGB", (32, 32), "white").save(path, "JPEG")
    long = EmbeddedFields(title="t" * 100, description="d", keywords=["k1", "k2"], job_id="I0000abc",
                          source="Cloudinary res.cloudinary.com long source text")
    embed(path, long)
    with Image.open(path) as image:
        iim = IptcImagePlugin.getiptcinfo(image)
    assert iim[(2, 103)] == b"I0000abc" and iim[(2, 25)] == [b"k1", b"k2"]
    assert len(iim[(2, 5)]) == 64 and len(iim[(2, 115)]) == 32  # cut to the standard's maximum lengths
    assert read(path)["iptc"]["keywords"] == ["k1", "k2"]


def test_other_formats_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "r.gif"
    Image.new("P", (8, 8)).save(path, "GIF")
    with pytest.raises(ValueError, match="JPEG, PNG and WebP only"):
        embed(path, FIELDS)


@pytest.mark.parametrize(("mode", "lossless"), [("RGB", False), ("RGB", True), ("RGBA", True)])
def test_a_simple_webp_gets_an_extended_header_with_its_own_size_and_alpha(tmp_path: Path, mode: str,
                                                                           lossless: bool) -> None:
    path = tmp_path / "r.webp"
    Image.new(mode, (301, 17), (10, 200, 10, 90)[: len(mode)]).save(path, "WEBP", lossless=lossless)
    assert path.read_bytes()[12:16] in (b"VP8 ", b"VP8L")  # simple: no extended header yet
    embed(path, FIELDS)
    data = path.read_bytes()
    assert data[12:16] == b"VP8X"
    flags = data[20]
    width, height = int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    with Image.open(path) as image:
        image.load()
        assert (width, height) == image.size == (301, 17)
        assert bool(flags & 0x10) == ("A" in image.getbands())
        assert bool(flags & 0x04)  # announces the XMP chunk
