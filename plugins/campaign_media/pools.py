"""The Airflow pools the DAGs run in: the one definition that the DAGs, the demo's standalone,
the test clusters, docker-compose's init (``python -m campaign_media.cli pools``) and the docs use.

A task sits in the pool of the scarcest thing it holds. Every task that opens a PhotoShelter
session is in ``photoshelter_api``, because PhotoShelter caps concurrent sessions per user; tasks
that only talk to Cloudinary are in ``cloudinary_api``, which keeps the Admin API's hourly quota
(one listing call per 500 assets) and the upload concurrency in check.
"""

from __future__ import annotations

import json
from typing import NamedTuple


class Pool(NamedTuple):
    slots: int
    description: str


PHOTOSHELTER = "photoshelter_api"
CLOUDINARY = "cloudinary_api"
POOLS: dict[str, Pool] = {
    PHOTOSHELTER: Pool(4, "PhotoShelter API: concurrent sessions are capped per user; every task that logs in"),
    CLOUDINARY: Pool(8, "Cloudinary API: tasks that only call Cloudinary (the Admin API is limited per hour)"),
}


def import_file() -> str:
    """The pools as ``airflow pools import`` reads them."""
    return json.dumps({name: {"slots": p.slots, "description": p.description, "include_deferred": False}
                       for name, p in POOLS.items()}, indent=1)


def create() -> list[str]:
    """Create or update the pools in this Airflow's metadata database (where ``airflow`` commands
    work: the scheduler's or API server's machine, compose's init, a Helm job); returns what was done."""
    from airflow.models.pool import Pool as AirflowPool

    return [f"{name}: {AirflowPool.create_or_update_pool(name, p.slots, p.description, False).slots} slots"
            for name, p in POOLS.items()]
