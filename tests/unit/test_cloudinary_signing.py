"""The emulator's signature checks agree with the real SDK's signing (the SDK is the oracle)."""

from __future__ import annotations

import cloudinary.utils
import pytest

from emulators.cloudinary.signing import (
    delivery_signature,
    response_signature,
    string_to_sign,
    verify_upload_signature,
)


def test_reference_values_from_the_sdk_docs() -> None:
    params = {"public_id": "sample", "timestamp": "1315060510", "signature": "c3470533147774275dd37996cc4d0e68fd03cd4f"}
    assert verify_upload_signature(params, "abcd")[0]
    params["signature"] = "0d4fe14b2b4a3f68a97ccc5097c43908b623d24293c296826a9390c14d891509"
    assert verify_upload_signature(params, "abcd")[0]
    params["signature"] = "0" * 40
    ok, to_sign = verify_upload_signature(params, "abcd")
    assert not ok and to_sign == "public_id=sample&timestamp=1315060510"


@pytest.mark.parametrize("params", [
    {"public_id": "a&b", "timestamp": "1700000000", "tags": "t1,t2", "overwrite": False},
    {"public_id": "x", "timestamp": "1700000000", "context": "alt=a\\=b\\|c|caption=x",
     "eager": "c_fill,w_5|w_10/webp"},
    {"public_ids": ["p1", "p2"], "command": "add", "tag": "t1", "timestamp": "1700000000"},
])
def test_sdk_signed_params_verify(params) -> None:
    signed = cloudinary.utils.sign_request(dict(params), {"api_key": "k", "api_secret": "s3cr3t"})
    assert verify_upload_signature(signed, "s3cr3t")[0]
    signed["timestamp"] = "1700000001"
    assert not verify_upload_signature(signed, "s3cr3t")[0]


def test_v2_escapes_ampersands() -> None:
    assert string_to_sign({"public_id": "a&b", "timestamp": "1"}) == "public_id=a%26b&timestamp=1"
    assert string_to_sign({"public_id": "a&b", "timestamp": "1"}, version=1) == "public_id=a&b&timestamp=1"


@pytest.mark.parametrize("options", [
    {"width": 10, "crop": "scale"},
    {"transformation": [{"width": 400, "height": 300, "crop": "fill"}, {"effect": "background_removal"}]},
    {"overlay": {"font_family": "Arial", "font_size": 40, "text": "Hola, mundo / ¡qué tal!"}},
])
@pytest.mark.parametrize("long", [False, True])
def test_delivery_signature_matches_sdk(options, long) -> None:
    url, _ = cloudinary.utils.cloudinary_url("dir/a b.jpg", cloud_name="c", api_secret="s3cr3t", sign_url=True,
                                             long_url_signature=long, **options)
    path = url.split("/image/upload/", 1)[1]
    sig, rest = path.split("/", 1)
    segments = [s for s in rest.split("/") if not (s.startswith("v") and s[1:].isdigit())]
    assert sig == f"s--{delivery_signature('/'.join(segments), 's3cr3t', long)}--"


def test_response_signature_is_what_the_sdk_expects() -> None:
    expected = cloudinary.utils.api_sign_request({"public_id": "sample", "version": 1312461204}, "s3cr3t",
                                                 signature_version=1)
    assert response_signature("sample", 1312461204, "s3cr3t") == expected
