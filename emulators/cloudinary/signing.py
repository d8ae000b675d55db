"""Cloudinary's request and URL signatures, as the server side checks them (pure functions).

Upload signatures (v1 and v2, SHA-1 and SHA-256) and ``s--SIG--`` delivery signatures, as
Cloudinary's *Signatures* page and the SDK compute them (``docs/api-notes.md``).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import unquote

# Never part of the string to sign (§1.5).
UNSIGNED_PARAMS = frozenset({"file", "api_key", "signature", "resource_type", "cloud_name"})
# Sent unsigned by SDK 1.46.3 on the tags/context/metadata endpoints (§1.9).
NOTIFICATION_PARAMS = frozenset({"notification_url", "batch_id"})


def string_to_sign(params: dict[str, Any], version: int = 2, exclude: frozenset[str] = frozenset()) -> str:
    """``k=v`` pairs of every non-empty signable param, sorted, joined with ``&``.

    Lists are comma-joined; version 2 escapes ``&`` inside each pair as ``%26``.
    """
    pairs = []
    for key, value in params.items():
        if key in UNSIGNED_PARAMS or key in exclude or value in (None, "", []):
            continue
        text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
        pair = f"{key}={text}"
        pairs.append(pair.replace("&", "%26") if version >= 2 else pair)
    return "&".join(sorted(pairs))


def hex_digest(text: str, algorithm: str) -> str:
    return hashlib.new(algorithm, text.encode("utf-8")).hexdigest()


def verify_upload_signature(params: dict[str, Any], secret: str,
                            exclude: frozenset[str] = frozenset()) -> tuple[bool, str]:
    """Check ``params["signature"]``; returns ``(ok, string_to_sign)``.

    Accepts sha1 or sha256 (told apart by the hex length) and signature versions 2 and 1.
    """
    given = str(params.get("signature") or "")
    algorithm = "sha256" if len(given) == 64 else "sha1"
    for version in (2, 1):
        to_sign = string_to_sign(params, version, exclude)
        if hex_digest(to_sign + secret, algorithm) == given:
            return True, to_sign
    return False, string_to_sign(params, 2, exclude)


def response_signature(public_id: str, version: int, secret: str) -> str:
    """The ``signature`` an upload result carries: sha1 of ``public_id=..&version=..`` + secret."""
    return hex_digest(f"public_id={public_id}&version={version}" + secret, "sha1")


def delivery_signature(to_sign: str, secret: str, long: bool = False) -> str:
    """The ``s--XXXXXXXX--`` component for ``<transformation>/<escaped public_id.ext>``."""
    algorithm = "sha256" if long else "sha1"
    digest = hashlib.new(algorithm, (to_sign + secret).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[: 32 if long else 8]


# Token-based access (§3.6): ``__cld_token__=[st=..~]exp=..[~acl=..]~hmac=..`` signed with the
# account's hex encryption key, over ``url=<escaped path>`` when there is no ACL.
_TOKEN_UNSAFE = re.compile(r'([ "#%&\'\/:;<=>?@\[\\\]^`{\|}~]+)')


def _escape_lower(text: str) -> str:
    escaped = _TOKEN_UNSAFE.sub(lambda m: "".join(f"%{b:02x}" for b in m.group(1).encode()), text)
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), escaped)


def token_valid(token: str, path: str, key_hex: str, now: float) -> tuple[bool, str]:
    """Check a ``__cld_token__`` value for ``path``; returns ``(ok, reason)``."""
    parts = dict(part.split("=", 1) for part in token.split("~") if "=" in part)
    given = parts.pop("hmac", "")
    ordered = [f"{k}={parts[k]}" for k in ("ip", "st", "exp", "acl") if k in parts]
    to_sign = ordered if "acl" in parts else [*ordered, f"url={_escape_lower(path)}"]
    expected = hmac.new(bytes.fromhex(key_hex), "~".join(to_sign).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        return False, "Invalid token"
    try:
        if now >= int(parts["exp"]) or now < int(parts.get("st", 0)):
            return False, "Token expired or not yet valid"
    except (KeyError, ValueError):
        return False, "Token without a valid exp"
    if "acl" in parts:
        patterns = [unquote(p) for p in parts["acl"].split("!")]
        if not any(fnmatch.fnmatchcase(path, p) for p in patterns):
            return False, "Token ACL does not cover this path"
    return True, ""
