"""A short-lived look at a training engine's Dask scheduler, for deploy/serve.py:

    python deploy/engine_probe.py tcp://127.0.0.1:8786 [--workers W] [--warm-up]

It connects, waits until the scheduler reports at least W workers, prints one JSON line
``{"workers": n, "settings": {...}}`` (the scheduler's queue settings the engine relies
on), and with ``--warm-up`` then loads MNIST on every worker (what the embedded engine does
when it starts, so the first Train does not wait for it) and prints ``{"warm": {worker:
fingerprint, or "no data: ..."}}``. Exit status 2 and one ``error: ...`` line if the
scheduler cannot be reached or the workers do not come, 0 otherwise.

Why a separate process rather than a ``distributed.Client`` inside serve.py: the client
runs an event-loop thread, and serve.py starts its children with a ``preexec_fn``, which is
not safe to fork while other threads hold locks.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What lrcore.engine relies on from its scheduler (see lrcore/engine/core.py, "Queue
# semantics"): queued tasks wait on the scheduler (FIFO, visible positions), one retry
# after a lost worker.
SETTINGS = ("distributed.scheduler.worker-saturation", "distributed.scheduler.allowed-failures")


def scheduler_settings(dask_scheduler=None) -> dict:
    # Runs on the scheduler: shipped by value (this is __main__), standard dask only.
    import dask

    return {name: dask.config.get(name, None) for name in SETTINGS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python deploy/engine_probe.py")
    ap.add_argument("address")
    ap.add_argument("--workers", type=int, default=0, help="wait for this many workers")
    ap.add_argument("--warm-up", action="store_true", help="load MNIST on every worker")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to reach the scheduler")
    ap.add_argument("--workers-timeout", type=float, default=120.0,
                    help="seconds for the workers to join")
    args = ap.parse_args(argv)

    from distributed import Client

    try:
        client = Client(args.address, timeout=f"{args.timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as e:
        text = (str(e).strip() or type(e).__name__).splitlines()[0][:300]
        print(f"error: cannot reach the scheduler at {args.address}: {text}", flush=True)
        return 2
    try:
        if args.workers:
            try:
                client.wait_for_workers(args.workers, timeout=args.workers_timeout)
            except TimeoutError:
                print(f"error: only {len(client.nthreads())} of {args.workers} workers joined "
                      f"the scheduler at {args.address} in {args.workers_timeout:g} s",
                      flush=True)
                return 2
        print(json.dumps({"workers": len(client.nthreads()),
                          "settings": client.run_on_scheduler(scheduler_settings)}),
              flush=True)
        if args.warm_up:
            sys.path.insert(0, str(ROOT))
            from lrcore.engine import tasks

            print(json.dumps({"warm": client.run(tasks.warm_up)}), flush=True)
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
