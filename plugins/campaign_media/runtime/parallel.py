"""Work through a batch's masters a few at a time, inside one task.

With real services the cost is latency: one master is a dozen calls that each wait on the
network. A mapped task therefore keeps a few masters in flight on a thread pool (the hooks are
thread-safe: one HTTP client, one PhotoShelter session, per-thread response headers): 4 per
ingest task, 8 per market render task. Airflow's pools still bound the tasks; the two multiply:
``photoshelter_api`` slots × threads is how many calls PhotoShelter sees at once (docs/operators.md).

What every batch step shares lives here once: finished masters are skipped, a master's final
error is recorded with its reason and never stops the others, progress is saved after each
master (a retried task carries on from it), and a rate limit whose end the service named
(:func:`must_wait`) stops handing out work at once and is raised after the masters in flight
finish, so the task can wait without burning a retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from campaign_media import settings
from campaign_media.domain.batches import BatchIncomplete
from campaign_media.hooks.retry import RetryBudgetExceeded, must_wait
from campaign_media.runtime import audit

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)
# Masters in flight per task. Ingest streams originals through the worker (disk and bandwidth per
# thread); a market render moves small renditions, and its calls are most of the pipeline's. The
# threads of a task share one PhotoShelter session, so neither touches its per-user session cap.


def ingest_threads() -> int:
    """Masters in flight per ingest or archive task (``[campaign_media] ingest_threads``)."""
    return max(1, settings.get("ingest_threads"))


def render_threads() -> int:
    """Masters in flight per market render task (``[campaign_media] render_threads``)."""
    return max(1, settings.get("render_threads"))


@dataclass
class Progress(Generic[R]):
    """A batch's outcome so far: ``done`` results by key, final ``failed`` reasons, and
    ``retry`` (transient errors beyond the retry budget: the task's retry tries them again)."""

    done: dict[str, R] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    retry: dict[str, str] = field(default_factory=dict)

    @property
    def not_done(self) -> dict[str, str]:
        return {**self.failed, **self.retry}

    def finish(self, label: str, path: str, what: str = "failed") -> None:
        """Log the masters not done (examples; every one is in ``path``) and, when some met
        transient errors beyond the retry budget, raise :class:`BatchIncomplete`."""
        if self.not_done:
            log.warning("%s: %d master(s) %s, e.g. %s (all in %s)", label, len(self.not_done), what,
                        examples(self.not_done), path)
        if self.retry:
            raise BatchIncomplete(f"{label}: {len(self.retry)} master(s) met transient errors beyond the retry "
                                  f"budget ({', '.join(list(self.retry)[:5])}); {len(self.done)} done are saved "
                                  f"in {path}, and the task's retry carries on from them")


def work_through(items: Iterable[tuple[str, T]], work: Callable[[T], R], progress: Progress[R], *,
                 final_errors: tuple[type[Exception], ...], save: Callable[[Progress[R]], None],
                 reason: Callable[[Exception], str] = str, threads: int | None = None) -> Progress[R]:
    """Run ``work`` on each ``(key, item)`` whose key is not in ``progress.done``, ``threads`` at
    a time; ``save`` is called (serialised) after each. Errors outside ``final_errors`` (bugs)
    stop the batch and are raised once the masters in flight are saved."""
    lock = threading.Lock()
    stop = threading.Event()
    raised: list[BaseException] = []

    def one(key: str, item: T) -> None:
        if stop.is_set():
            return
        try:
            value = work(item)
        except RetryBudgetExceeded as exc:
            if must_wait(exc):  # every further call would be refused too: hand out no more work
                stop.set()
                with lock:
                    raised.append(exc)
                return
            with lock:
                progress.retry[key] = str(exc)
        except final_errors as exc:
            with lock:
                progress.failed[key] = reason(exc)
        except BaseException as exc:
            stop.set()
            with lock:
                raised.append(exc)
            return
        else:
            with lock:
                progress.done[key] = value
        with lock:
            audit.flush()  # the records first: a kill in between redoes the master, and its records dedupe
            save(progress)

    todo = [(key, item) for key, item in items if key not in progress.done]
    threads = threads or ingest_threads()
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(todo) or 1)),
                            thread_name_prefix="master") as pool:
        for future in [pool.submit(one, key, item) for key, item in todo]:
            future.result()
    audit.flush()
    save(progress)
    if raised:
        raise raised[0]
    return progress


def examples(items: dict[str, Any], limit: int = 5) -> str:
    """``key: reason; …`` of the first few entries (logs carry examples, files carry lists)."""
    return "; ".join(f"{k}: {v}" for k, v in list(items.items())[:limit])
