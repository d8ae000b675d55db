"""Single-purpose Cloudinary operators, usable in any DAG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from airflow.sdk import Context

from campaign_media.domain.windows import iso
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.operators.base import as_bool
from campaign_media.operators.waiting import WaitingOperator


class _CloudinaryOperator(WaitingOperator):
    ui_color = "#dde7f7"

    template_fields: Sequence[str] = ("cloudinary_conn_id",)

    def __init__(self, *, cloudinary_conn_id: str = CloudinaryHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cloudinary_conn_id = cloudinary_conn_id

    @cached_property
    def hook(self) -> CloudinaryHook:
        return CloudinaryHook(self.cloudinary_conn_id)


class CloudinaryUploadOperator(_CloudinaryOperator):
    """Upload a local file or a remote URL under a deterministic public ID (large files in chunks).

    Returns the stored asset's ``public_id``, ``version``, ``width``, ``height``, ``bytes`` and
    ``format`` (never a URL: a signed one would open the asset).

    :param source: a local path or an ``http(s)`` URL (templated)
    :param public_id: where to store it (templated)
    :param delivery_type: ``upload`` (public), ``authenticated`` or ``private``
    :param tags: tags to set (templated)
    :param context: contextual metadata (templated)
    :param eager: eager transformations, e.g. ``[{"width": 800, "crop": "fill"}]``
    :param overwrite: replace what is stored under ``public_id``
    """

    template_fields: Sequence[str] = (*_CloudinaryOperator.template_fields, "source", "public_id", "tags", "context")

    def __init__(self, *, source: str, public_id: str, delivery_type: str = "upload",
                 tags: list[str] | None = None, context: dict[str, str] | None = None,
                 eager: list[dict[str, Any]] | None = None, overwrite: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.public_id = public_id
        self.delivery_type = delivery_type
        self.tags = tags
        self.context = context
        self.eager = eager
        self.overwrite = overwrite

    def run(self, context: Context) -> dict[str, Any]:
        result = self.hook.upload(self.source, self.public_id, overwrite=self.overwrite, tags=self.tags,
                                  context=self.context, eager=self.eager, delivery_type=self.delivery_type)
        return {k: result.get(k) for k in ("public_id", "version", "width", "height", "bytes", "format")}


class CloudinaryAccessControlOperator(_CloudinaryOperator):
    """Set who may see assets: an anonymous window (``start``/``end``), or closed to everyone but
    token URLs (no window). Uses the Upload API (no hourly Admin quota); closing purges the CDN.

    :param public_ids: the assets (templated)
    :param start: ISO time the anonymous window opens (templated; empty: open now)
    :param end: ISO time it closes (templated; empty: no end)
    :param closed: close the assets to anonymous access (ignores ``start``/``end``; templated)
    :param delivery_type: the assets' type
    """

    template_fields: Sequence[str] = (*_CloudinaryOperator.template_fields, "public_ids", "start", "end", "closed")

    def __init__(self, *, public_ids: list[str], start: str = "", end: str = "", closed: bool | str = False,
                 delivery_type: str = "upload", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.public_ids = public_ids
        self.start = start
        self.end = end
        self.closed = closed
        self.delivery_type = delivery_type

    def rules(self) -> list[dict[str, Any]]:
        from campaign_media.domain.windows import CLOSED

        if as_bool(self.closed):
            return [dict(rule) for rule in CLOSED]
        rule: dict[str, Any] = {"access_type": "anonymous"}
        for key in ("start", "end"):
            value = getattr(self, key)
            if value:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    raise ValueError(f"{key}={value!r} has no time zone; write it as 2026-03-01T00:00:00Z or with "
                                     "an offset such as +01:00")
                rule[key] = iso(moment)
        return [rule]

    def run(self, context: Context) -> dict[str, Any]:
        rules = self.rules()
        for public_id in self.public_ids:
            self.hook.set_access_control(public_id, rules, invalidate=as_bool(self.closed) or bool(self.end),
                                         delivery_type=self.delivery_type)
        return {"public_ids": len(self.public_ids), "access_control": rules}
