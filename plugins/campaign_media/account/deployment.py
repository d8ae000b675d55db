"""Before a deployment starts: no real credential may travel to an emulator endpoint.

docker compose fills each connection from account variables with emulator defaults
(``${CLOUDINARY_UPLOAD_PREFIX-http://cloudinary-emulator:8702}``). A real key and secret with the
endpoint variable left out would send the API secret over plain HTTP to the emulator's name —
whoever answers for it. ``python -m campaign_media.cli check-deployment`` (compose's init runs it)
reads the two connections from the environment and refuses such a mix, naming the variables
that go together. It also refuses a real Cloudinary account that kept the emulator's other
defaults (its token key, private CDN, an internal notification address, the emulator's CDN log
folder): each would break delivery or alerts quietly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlparse

# The credentials the compose file gives the emulators (and that the emulators accept).
EMULATOR_CREDENTIALS = {"emulator-secret", "emulator-password", "PSEMULATOR1"}
CONNECTIONS = {"AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": "PhotoShelter", "AIRFLOW_CONN_CLOUDINARY_DEFAULT": "Cloudinary"}
# What the compose file gives the emulators, which a real account must not keep.
EMULATOR_TOKEN_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
EMULATOR_ACCESS_LOGS = "file:///opt/airflow/cdn-logs"


def leftovers(extra: Mapping[str, object], env: Mapping[str, str]) -> list[str]:
    """The emulator's defaults a real Cloudinary account kept, each with the variable that fixes it."""
    found = []
    if extra.get("auth_token_key") == EMULATOR_TOKEN_KEY:
        found.append("CLOUDINARY_AUTH_TOKEN_KEY is the emulator's: set your account's token key (Settings → "
                     "Security), or empty it (CLOUDINARY_AUTH_TOKEN_KEY=) where the account has none; with it, "
                     "CLOUDINARY_PRIVATE_CDN (empty unless the account has a private CDN distribution)")
    base = str(extra.get("notification_base_url") or "")
    if base and urlparse(base).scheme == "http":
        found.append(f"CLOUDINARY_NOTIFICATION_BASE_URL is {base}, which Cloudinary cannot reach: set this Airflow "
                     "API server's public https address, or empty it (the video task then polls)")
    if env.get("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS") == EMULATOR_ACCESS_LOGS:
        found.append("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS is the emulator's log folder: name your CDN's log "
                     "location (s3://…/cloudfront/), or empty it")
    return found


def problems(env: Mapping[str, str]) -> list[str]:
    """What is wrong with the connections in ``env``: a real credential with a plain-HTTP endpoint."""
    found = []
    for variable, service in CONNECTIONS.items():
        if not env.get(variable):
            continue
        try:
            conn = json.loads(env[variable])
        except json.JSONDecodeError as exc:
            found.append(f"{variable} is not JSON ({exc}): fix the connection")
            continue
        extra = conn.get("extra") or {}
        secrets = [conn.get("password"), extra.get("api_key")]
        real = [s for s in secrets if s and s not in EMULATOR_CREDENTIALS]
        endpoints = ([conn.get("host")] if service == "PhotoShelter" else
                     [extra.get("upload_prefix"), f"http://{extra['delivery_host']}" if extra.get("delivery_host")
                      and extra.get("secure") not in (True, "true") else None])
        plain = [e for e in endpoints if e and urlparse(e).scheme == "http"]
        if real and service == "Cloudinary":
            found += [f"Cloudinary: {what}" for what in leftovers(extra, env)]
        if real and plain:
            names = ("PHOTOSHELTER_HOST" if service == "PhotoShelter" else
                     "CLOUDINARY_UPLOAD_PREFIX and CLOUDINARY_DELIVERY_HOST (empty: Cloudinary's own hosts)")
            found.append(f"{service}: a real credential would go over plain HTTP to {', '.join(plain)} (an emulator "
                         f"endpoint). A real account is half configured: set {names} together with the "
                         "account's key and secret (.env.example, 'Real accounts'), or leave them all out to use "
                         "the emulators")
    return found
