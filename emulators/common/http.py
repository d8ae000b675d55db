"""Request helpers shared by both emulators."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request


async def read_params(request: Request) -> tuple[dict[str, Any], list[tuple[str, UploadFile]]]:
    """Merge the query string and a form body (urlencoded or multipart) into one dict.

    Repeated keys and ``key[]`` keys become lists (the ``[]`` is dropped). Uploaded files are
    returned separately as ``(field name, file)`` pairs.
    """
    params: dict[str, Any] = {}
    files: list[tuple[str, UploadFile]] = []

    def add(key: str, value: Any) -> None:
        is_list = key.endswith("[]")
        key = key[:-2] if is_list else key
        if is_list or key in params:
            existing = params.get(key)
            if existing is None:
                params[key] = [value]
            elif isinstance(existing, list):
                existing.append(value)
            else:
                params[key] = [existing, value]
        else:
            params[key] = value

    for key, value in request.query_params.multi_items():
        add(key, value)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=100, max_fields=10_000, max_part_size=64 * 1024 * 1024)
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append((key, value))
            else:
                add(key, value)
    return params, files
