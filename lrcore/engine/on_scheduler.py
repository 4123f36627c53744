"""The one function the engine runs *on the scheduler* (``Client.run_on_scheduler``).

Standard library only, and shipped by value (``cloudpickle.register_pickle_by_value``), so
a scheduler started without ``lrcore`` installed can still answer it.
"""
from __future__ import annotations

PREFIXES = ("train-", "exp-")  # trainings, experiments (lrcore.engine.experiment_jobs)


def queue_snapshot(dask_scheduler=None) -> dict:
    """The engine's tasks as the scheduler sees them, and the worker slots.

    Returns ``{"tasks": [(key, state, priority, processing_on), ...], "slots": n}`` where
    ``state`` is Dask's task state ("queued", "no-worker", "processing", "memory", ...)
    and ``priority`` a list that sorts earlier-first.
    """
    out = []
    for key, ts in dask_scheduler.tasks.items():
        if isinstance(key, str) and key.startswith(PREFIXES):
            out.append((key, ts.state, list(ts.priority) if ts.priority else None,
                        ts.processing_on.address if ts.processing_on else None))
    slots = sum(ws.nthreads for ws in dask_scheduler.workers.values())
    return {"tasks": out, "slots": slots}
