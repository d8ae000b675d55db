"""Transformation parsing and geometry of the Cloudinary emulator (pure, Pillow in memory)."""

from __future__ import annotations

import pytest
from PIL import Image

from emulators.cloudinary import transform
from emulators.cloudinary.params import access_allowed, parse_access_control, parse_context, parse_metadata


def run(chain: str, size=(1200, 800), fmt="jpg", accept="") -> tuple[Image.Image, str]:
    components = [transform.parse_component(c) for c in chain.split("/") if c]
    out, delivery = transform.apply(Image.new("RGB", size, (10, 20, 30)), components)
    data, used = transform.encode(out, fmt, delivery, accept)
    return out, used


@pytest.mark.parametrize(("chain", "size"), [
    ("c_fill,g_auto,h_300,w_400", (400, 300)),
    ("c_fit,h_300,w_300", (300, 200)),
    ("c_limit,w_3000", (1200, 800)),
    ("c_scale,w_600", (600, 400)),
    ("c_scale,h_100,w_100", (100, 100)),
    ("c_pad,b_rgb:ff0000,h_300,w_300", (300, 300)),
    ("c_thumb,g_center,h_150,w_150", (150, 150)),
    ("ar_16:9,c_fill,w_800", (800, 450)),
    ("ar_1:1,c_fill", (800, 800)),
    ("c_scale,dpr_2.0,w_100", (200, 133)),
    ("c_scale,w_0.5", (600, 400)),
    ("c_crop,g_north_west,h_100,w_100", (100, 100)),
    ("c_fill,h_300,w_300/c_scale,w_150", (150, 150)),
])
def test_geometry(chain, size) -> None:
    assert run(chain)[0].size == size


def test_pad_uses_background_colour() -> None:
    out, _ = run("c_pad,b_rgb:ff0000,h_800,w_400")
    assert out.getpixel((200, 5)) == (255, 0, 0)


def test_formats_and_f_auto() -> None:
    assert run("c_scale,f_auto,w_10", accept="image/avif,image/webp")[1] == "webp"
    assert run("c_scale,f_auto,w_10", accept="image/jpeg")[1] == "jpg"
    assert run("c_scale,f_png,w_10")[1] == "png"


def test_invalid_transformations_are_refused() -> None:
    with pytest.raises(transform.TransformationError):
        run("c_bogus,w_10")
    with pytest.raises(transform.TransformationError):
        transform.parse_component("zz_1")


def test_url_segments_are_told_apart() -> None:
    assert transform.is_component("c_fill,w_400")
    assert transform.is_component("l_text:Arial_40:Hi%252C%20there,co_white")
    assert not transform.is_component("v1712345678")
    assert not transform.is_component("my_photo.jpg")
    assert not transform.is_component("campaign")


def test_eager_chain_with_format() -> None:
    components, fmt = transform.parse_chain("c_fill,w_5/webp")
    assert fmt == "webp" and components[0].text == "c_fill,w_5"


def test_context_and_metadata_wire_format() -> None:
    assert parse_context("alt=a\\=b\\|c|caption=x") == {"alt": "a=b|c", "caption": "x"}
    assert parse_metadata('sku=123|langs=["en","fr"]') == {"sku": "123", "langs": ["en", "fr"]}


def test_access_windows() -> None:
    from datetime import UTC, datetime

    rules = parse_access_control('[{"access_type":"anonymous","start":"2026-01-01T00:00:00Z",'
                                 '"end":"2026-02-01 00:00:00 +0000"}]')
    assert not access_allowed(rules, datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    assert access_allowed(rules, datetime(2026, 1, 15, tzinfo=UTC))
    assert not access_allowed(rules, datetime(2026, 2, 1, tzinfo=UTC))
    assert access_allowed([], datetime(2026, 2, 1, tzinfo=UTC))
    assert not access_allowed([{"access_type": "token"}], datetime(2026, 2, 1, tzinfo=UTC))
