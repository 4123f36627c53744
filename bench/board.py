"""How much the class board costs: publishing, a viewer's poll, a board rebuild.

    python bench/board.py [--entries 30] [--drawings 300] [--db URL]

Publishes ``--entries`` small real models and adds ``--drawings`` digits (MNIST test
digits standing in for the class's) to a fresh class in a tmp SQLite database (or
``--db``), then times: one publish (load back, rescore on every test digit, store), one
``version()`` read (what every viewer does every few seconds), a snapshot built by a fresh
process (models loaded from the database, scores from its cache), by a warm one, and
after one more digit (only that digit is scored, by every run).
Uses MNIST_DIR if set, else the bundled sample.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from lrcore.board import Board  # noqa: E402
from lrcore.config import TrainConfig  # noqa: E402
from lrcore.data import load_mnist  # noqa: E402
from lrcore.train import train  # noqa: E402


def timed(fn, n: int = 1) -> tuple[float, object]:
    out, times = None, []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=30)
    ap.add_argument("--drawings", type=int, default=300)
    ap.add_argument("--db", default=None)
    a = ap.parse_args()
    data = (load_mnist("idx", os.environ["MNIST_DIR"]) if os.environ.get("MNIST_DIR")
            else load_mnist("sample"))
    url = a.db or f"sqlite:///{tempfile.mkdtemp(prefix='lr-board-bench-')}/board.sqlite"
    board = Board.open(url)
    info, token = board.create_class("bench", min_sparsity=50)
    models = [train(TrainConfig(penalty=p, C=C, train_size=1000, test_size=500, shuffle=True,
                                max_iter=30), data)
              for p, C in (("l2", 0.01), ("l1", 0.05), ("l1", 0.2))]
    pub = []
    for i in range(a.entries):
        t, _ = timed(lambda: board.publish_run(info.code, f"s{i}", f"student {i}",
                                                models[i % len(models)], data))
        pub.append(t)
    for k in range(a.drawings):
        board.add_drawing(info.code, f"d{k // 30}", data.X_test[k], int(data.y_test[k]))
    t_version, _ = timed(lambda: board.version(info.code), 200)
    cold = Board(board.engine)
    t_cold, snap = timed(lambda: cold.snapshot(info.code, data))
    t_warm, _ = timed(lambda: cold.snapshot(info.code, data), 5)
    cold.add_drawing(info.code, "late", data.X_test[-1], int(data.y_test[-1]))
    t_one, _ = timed(lambda: cold.snapshot(info.code, data))  # one new digit to score
    t_csv, _ = timed(lambda: board.export_csv(info.code, token, data))
    print(f"data: {data.source} ({data.n_test:,} test digits); db: {board.engine.dialect.name}")
    print(f"publish (validate, rescore on {data.n_test:,} digits, store): median "
          f"{1000 * statistics.median(pub):.0f} ms")
    print(f"version() read (each viewer, every few s): median {1e3 * t_version:.2f} ms")
    print(f"snapshot, {len(snap.rows)} runs x {len(snap.drawing_labels)} digits: "
          f"fresh process {1000 * t_cold:.0f} ms, warm {1000 * t_warm:.0f} ms")
    print(f"snapshot after one more digit (warm): {1000 * t_one:.0f} ms")
    print(f"CSV export: {1000 * t_csv:.0f} ms")
    print(f"stored per run: {np.mean([len(models[0].to_bytes())]) / 1e3:.0f} KB with "
          f"snapshots vs {len(board._slim_bytes(models[0])) / 1e3:.0f} KB as stored")
    board.close_engine()


if __name__ == "__main__":
    main()
