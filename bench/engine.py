"""The training engine under a classroom burst (not a test): N students press Train at once.

Run (from the repository root; the figures are wall-clock on whatever else the machine does):

    MNIST_DIR=/work/shared/mnist python bench/engine.py                 # 10 students
    MNIST_DIR=/work/shared/mnist python bench/engine.py --students 30 --train-size 5000

Each student (an owner) submits a different config (C varies) at the same moment to one
embedded engine (``LR_ENGINE_WORKERS`` / ``LR_ENGINE_MEMORY`` as the app would use them), then
polls its job every 0.25 s as a page would. Printed:

- the web process's RSS (this process: the engine's client and the in-process scheduler)
  idle before, at its peak during the burst, and after every job ended and was read;
- per student: its first position in line, the ETA it was first told, when it really
  started and how long its training took;
- the order in which trainings started (FIFO = submission order).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=10)
    ap.add_argument("--train-size", type=int, default=10000)
    ap.add_argument("--max-iter", type=int, default=60)
    args = ap.parse_args()

    from lrcore.config import TrainConfig
    from lrcore.data import load_mnist
    from lrcore.engine import Engine

    data = load_mnist("auto")
    t0 = time.perf_counter()
    engine = Engine()
    print(f"engine: {engine.describe()} (started in {time.perf_counter() - t0:.1f} s)")
    # Warm: one small training read back, as the app's first Train would (imports, caches).
    warm = engine.submit_training(TrainConfig(train_size=500, test_size=500, max_iter=5),
                                  data, owner="warm")
    warm.wait(120)
    warm.result()
    gc.collect()
    idle = rss_mb()
    cfgs = [TrainConfig(train_size=args.train_size, test_size=data.n_test,
                        max_iter=args.max_iter, C=0.5 + 0.1 * i, tol=1e-6)
            for i in range(args.students)]
    start = time.perf_counter()
    jobs = [engine.submit_training(c, data, owner=f"student-{i}") for i, c in enumerate(cfgs)]
    first_pos: dict[int, tuple] = {}
    started: dict[int, float] = {}
    peak = idle
    while any(j.active for j in jobs):
        for i, j in enumerate(jobs):
            engine.touch(f"student-{i}")
            st = j.state
            if st == "queued" and i not in first_pos and j.position is not None:
                first_pos[i] = (j.position, j.eta_seconds)
            if st != "queued" and i not in started:
                started[i] = time.perf_counter() - start
            _ = (j.latest, j.latest_coef)  # what a page reads
        peak = max(peak, rss_mb())
        time.sleep(0.25)
    models = [j.result() for j in jobs]
    del models
    gc.collect()
    after = rss_mb()
    print(f"web process RSS: idle {idle:.0f} MB, peak {peak:.0f} MB (+{peak - idle:.0f}), "
          f"after {after:.0f} MB (+{after - idle:.0f})")
    print("student  first position  told ETA  started at  run took (fit)  state")
    for i, j in enumerate(jobs):
        pos, eta = first_pos.get(i, (None, None))
        fit = j.result().summary.get("fit_seconds", float("nan"))
        print(f"{i:7d}  {pos if pos else 'running':>14}  "
              f"{(f'{eta:.0f} s' if eta is not None else '-'):>8}  "
              f"{started.get(i, float('nan')):8.1f} s  {j.seconds:6.1f} s ({fit:4.1f})  "
              f"{j.state}")
    order = sorted(started, key=started.get)
    # FIFO: no job started more than a poll before one submitted ahead of it.
    late = [(a, b) for a in started for b in started
            if a < b and started[b] < started[a] - 0.3]
    print(f"start order: {order}; FIFO violations: {late or 'none'}")
    print(f"all done in {time.perf_counter() - start:.1f} s")
    engine.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MNIST_DIR", str(Path(__file__).resolve().parents[2] / "shared/mnist"))
    sys.exit(main())
