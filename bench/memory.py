"""How much memory a full-MNIST training adds, and where it goes.

Run:  MNIST_DIR=/work/shared/mnist python bench/memory.py [--cases l2/unit/1e-4,...]
          [--compare /tmp/memold] [--repeats 1] [--max-iter 300] [--no-trace]
      MNIST_DIR=/work/shared/mnist python bench/memory.py --compare /tmp/memold --speed 9

Each case (``penalty/preprocess/tol``) runs in a fresh process: load MNIST (uint8), record
the RSS (after a 2,500-digit warm-up training of the same kind), then run :class:`lrcore.train.Training` on all 60,000 training digits (10,000
test digits for the live curves) followed by ``result()``, while a background thread samples
the RSS every 2 ms. Printed per case: the peak added over the loaded-MNIST baseline, the
peak of each stage (preprocessing, the float32 iterations, the float64 refinement if any,
``result()``), what is left after the training once only its model is kept, and the
iterations per second of the fit.

A second fresh process per case (skip it with ``--no-trace``) reruns the case under
tracemalloc (numpy reports its buffers to it) and attributes the memory: the arrays alive
at the last iteration grouped by the line that allocated them, and per stage the transient
peak on top of those (temporaries inside the loss, the transform, the evaluation).

``--compare DIR`` runs every case also with the code of another checkout (e.g. a git
worktree of the previous commit: ``git worktree add --detach /tmp/memold HEAD``),
alternating old and new, so that both see the same load on a shared machine; medians over
``--repeats``. ``--speed ROUNDS`` times, in one process and alternating, the old and new
loss/gradient (float32, and the float64 refinement) and L-BFGS two-loop recursion: the
per-iteration cost without the noise of separate processes on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6
DEFAULT_CASES = (
    "l2/unit/1e-4", "l1/unit/1e-4", "elasticnet/unit/1e-4", "none/unit/1e-4",
    "l2/standardize/1e-4", "l2/deskew/1e-4", "l2/raw/1e-4",
    "l2/unit/1e-8", "l1/unit/1e-8", "l2/deskew/1e-8",
)


class _Sampler(threading.Thread):
    """Peak RSS since the last ``mark`` (sampled every ``period`` seconds)."""

    def __init__(self, period: float = 0.002) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.period = period
        self.peak = self.rss()
        self.running = True

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def mark(self) -> int:
        """Peak since the previous mark (including now), then start a new stage."""
        peak, self.peak = max(self.peak, self.rss()), self.rss()
        return peak

    def run(self) -> None:
        while self.running:
            r = self.rss()
            if r > self.peak:
                self.peak = r
            time.sleep(self.period)


def _config(case: str, max_iter: int):
    from lrcore.config import TrainConfig

    penalty, pre, tol = case.split("/")
    return TrainConfig(penalty=penalty, preprocess=pre, tol=float(tol), max_iter=max_iter,
                       train_size=60000, test_size=10000)


def _watch_refine(on_refine) -> None:
    """Call ``on_refine()`` when the objective switches to float64 (old and new code)."""
    from lrcore import model as m

    orig = m._MeanObjective.refine

    def refine(self):
        on_refine()
        return orig(self)

    m._MeanObjective.refine = refine


def _warm_up(data, cfg) -> None:
    """A small training of the same kind first, so that the baseline already holds what
    any first training loads once (code pages, BLAS buffers), which is not data."""
    from dataclasses import replace

    from threadpoolctl import threadpool_limits

    from lrcore.train import Training

    with threadpool_limits(1):
        run = Training(replace(cfg, train_size=2500, test_size=1200, max_iter=5), data)
        for _ in run:
            pass
        run.result()


def _child_rss(case: str, max_iter: int) -> dict:
    import gc

    from threadpoolctl import threadpool_limits

    from lrcore.data import load_mnist
    from lrcore.train import Training

    data = load_mnist("idx", os.environ["MNIST_DIR"])
    cfg = _config(case, max_iter)
    _warm_up(data, cfg)
    gc.collect()
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)  # the baseline without free heap, as 'kept' is after a trim
    s = _Sampler()
    base = s.rss()
    stages: dict[str, float] = {}
    current = ["iterations (float32)"]

    def on_refine():
        stages[current[0]] = (s.mark() - base) / MB
        current[0] = "refinement (float64)"

    _watch_refine(on_refine)
    s.start()
    times = []
    with threadpool_limits(1):
        run = Training(cfg, data)
        stages["Training() (preprocessor fit)"] = (s.mark() - base) / MB
        it = iter(run)
        first = next(it)
        stages["transform + 1st iteration"] = (s.mark() - base) / MB
        times.append(first.elapsed)
        n_iter, status = first.iteration, first.status
        for p in it:
            times.append(p.elapsed)
            n_iter, status = p.iteration, p.status
        stages[current[0]] = (s.mark() - base) / MB
        model = run.result()
        stages["result() (test metrics)"] = (s.mark() - base) / MB
    peak = max(stages.values())
    del run, it, first, p
    gc.collect()
    time.sleep(0.05)
    s.running = False
    kept = (s.rss() - base) / MB
    # What glibc keeps as free heap (not arrays): returned by malloc_trim, and never kept
    # on a Dask worker, whose nanny sets MALLOC_TRIM_THRESHOLD_=65536.
    libc.malloc_trim(0)
    kept_trimmed = (s.rss() - base) / MB
    import numpy as np

    model_mb = (model.coef_.nbytes + model.snapshot_coef.nbytes) / MB
    steps = np.diff(times)
    return {
        "case": case, "peak": peak, "stages": stages, "kept": kept,
        "kept_trimmed": kept_trimmed, "model_mb": model_mb,
        "n_iter": n_iter, "status": status, "fit_seconds": times[-1],
        "it_per_s": n_iter / times[-1] if times[-1] > 0 else float("nan"),
        "median_iter_s": float(np.median(steps)) if steps.size else float("nan"),
        "n_evals": model.history[-1]["n_evals"],
    }


def _where(tb) -> str:
    """The project's frames of an allocation, outermost first (train.py:165 > loss.py:46)."""
    ours = [f for f in tb if f"{os.sep}lrcore{os.sep}" in f.filename]
    if not ours:
        return f"{Path(tb[-1].filename).name}:{tb[-1].lineno}"
    return " > ".join(f"{Path(f.filename).name}:{f.lineno}" for f in ours)


def _child_trace(case: str, max_iter: int) -> dict:
    import gc
    import tracemalloc

    from threadpoolctl import threadpool_limits

    from lrcore.data import load_mnist
    from lrcore.train import Training

    data = load_mnist("idx", os.environ["MNIST_DIR"])
    cfg = _config(case, max_iter)
    _warm_up(data, cfg)
    gc.collect()
    tracemalloc.start(25)
    base, _ = tracemalloc.get_traced_memory()
    stages: dict[str, list[float]] = {}  # stage -> [held at its end, peak]
    current = ["iterations (float32)"]
    held: dict[str, float] = {}

    def close(name):
        cur, peak = tracemalloc.get_traced_memory()
        stages[name] = [(cur - base) / MB, (peak - base) / MB]
        tracemalloc.reset_peak()

    def snapshot_held():
        snap = tracemalloc.take_snapshot()
        out: dict[str, float] = {}
        for stat in snap.statistics("traceback"):
            if stat.size >= 0.2 * MB:
                key = _where(stat.traceback)
                out[key] = out.get(key, 0.0) + stat.size / MB
        return out

    def on_refine():
        close(current[0])
        current[0] = "refinement (float64)"

    _watch_refine(on_refine)
    with threadpool_limits(1):
        run = Training(cfg, data)
        close("Training() (preprocessor fit)")
        it = iter(run)
        next(it)
        close("transform + 1st iteration")
        last_held_at = None
        for p in it:
            if p.status != "running" and last_held_at is None:
                held = snapshot_held()  # arrays alive at the final iteration
                last_held_at = p.iteration
        close(current[0])
        model = run.result()
        close("result() (test metrics)")
    del run, it, p
    gc.collect()
    cur, _ = tracemalloc.get_traced_memory()
    model_mb = (model.coef_.nbytes + model.snapshot_coef.nbytes) / MB
    return {"case": case, "stages": stages, "held": held,
            "kept_traced": (cur - base) / MB - model_mb}


def _load_module(name: str, path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def speed(old_dir: Path, rounds: int) -> None:
    """Per-evaluation cost, old against new code in one process, alternating (medians):
    what an iteration costs besides bookkeeping, free of the between-process noise."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(ROOT))
    from lrcore import loss as new_loss
    from lrcore import solvers as new_solvers
    from lrcore.data import load_mnist
    from lrcore.preprocess import Preprocessor

    old_loss = _load_module("old_loss", old_dir / "lrcore" / "loss.py")
    old_solvers = _load_module("old_solvers", old_dir / "lrcore" / "solvers.py")
    data = load_mnist("idx", os.environ["MNIST_DIR"])
    X = Preprocessor("unit").fit(data.X_train).transform(data.X_train, dtype=np.float32)
    y = data.y_train
    Y32 = old_loss.targets(y, 10, "multinomial", np.float32)
    coef = np.random.default_rng(0).standard_normal((10, 785)) * 0.01
    rng = np.random.default_rng(1)
    pairs = [(rng.standard_normal(7850), rng.standard_normal(7850)) for _ in range(160)]
    mems = {}
    for label, mod in (("old", old_solvers), ("new", new_solvers)):
        mem = mod._Memory(160)
        for s_, y_ in pairs:
            mem.push(s_, s_ + 0.1 * y_)
        mems[label] = mem
    g = rng.standard_normal(7850)
    X64 = Y64 = None
    cases = {
        "loss_gradient float32 (old)": lambda: old_loss.loss_gradient(
            coef, X, Y32, y, "multinomial", True),
        "loss_gradient float32 (new)": lambda: new_loss.loss_gradient(
            coef, X, None, y, "multinomial", True),
        "refinement: float64 copy of X (old)": lambda: old_loss.loss_gradient(
            coef, X64, Y64, y, "multinomial", True),
        "refinement: blocks upcast (new)": lambda: new_loss.loss_gradient(
            coef, X, None, y, "multinomial", True, dtype=np.float64),
        "L-BFGS two-loop m=160 (old)": lambda: mems["old"].apply(g),
        "L-BFGS two-loop m=160 (new)": lambda: mems["new"].apply(g),
    }
    X64 = X.astype(np.float64)
    Y64 = Y32.astype(np.float64)
    times: dict[str, list[float]] = {k: [] for k in cases}
    with threadpool_limits(1):
        for _ in range(rounds):
            for name, fn in cases.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    print(f"\nSeconds per call, medians of {rounds} alternating rounds (one BLAS thread)")
    for name, ts in times.items():
        print(f"  {name:40s} {statistics.median(ts) * 1000:8.1f} ms")
    a = old_loss.loss_gradient(coef, X64, Y64, y, "multinomial", True)
    b = new_loss.loss_gradient(coef, X, None, y, "multinomial", True, dtype=np.float64)
    print(f"  refinement old vs new: loss {a.loss!r} vs {b.loss!r}, largest gradient "
          f"difference {np.abs(a.grad - b.grad).max():.1e}")
    print(f"  two-loop old vs new identical: {np.array_equal(mems['old'].apply(g), mems['new'].apply(g))}")


def _run_child(mode: str, case: str, code: Path, max_iter: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--child", mode, case, str(max_iter)],
                         env=env, capture_output=True, text=True, cwd=str(code))
    if out.returncode != 0:
        raise RuntimeError(f"{case} ({code}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES),
                    help="comma-separated penalty/preprocess/tol, e.g. l2/unit/1e-8")
    ap.add_argument("--compare", type=Path, help="another checkout to run alternately")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="the checkout whose lrcore is measured (default: this one)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--no-trace", action="store_true", help="skip the tracemalloc breakdown")
    ap.add_argument("--speed", type=int, metavar="ROUNDS",
                    help="only time old (--compare) against new per evaluation, in-process")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.speed:
        if not args.compare:
            sys.exit("--speed needs --compare DIR (the old checkout)")
        speed(args.compare.resolve(), args.speed)
        return
    if args.child:
        mode, case, max_iter = args.child
        fn = _child_rss if mode == "rss" else _child_trace
        print(json.dumps(fn(case, int(max_iter))))
        return
    if "MNIST_DIR" not in os.environ:
        sys.exit("set MNIST_DIR to a folder with the four MNIST IDX files")
    codes = {"new": args.code.resolve()}
    if args.compare:
        codes = {"old": args.compare.resolve(), "new": args.code.resolve()}
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    results: dict[tuple[str, str], list[dict]] = {}
    for case in cases:
        for rep in range(args.repeats):
            for label, code in codes.items():
                r = _run_child("rss", case, code, args.max_iter)
                results.setdefault((case, label), []).append(r)
                print(f"  .. {case} [{label}] peak +{r['peak']:.0f} MB, kept "
                      f"{r['kept']:+.1f} MB, {r['n_iter']} it ({r['status']}), "
                      f"{r['it_per_s']:.2f} it/s", file=sys.stderr, flush=True)

    print("\nPeak added over the loaded MNIST (MB = 1e6 bytes; medians over "
          f"{args.repeats} fresh process(es) per case)\n")
    labels = list(codes)
    head = f"{'case':24s}" + "".join(
        f"{'peak ' + l:>11s}{'kept ' + l:>11s}{'it/s ' + l:>10s}{'s/it ' + l:>10s}"
        for l in labels) + f"{'iters':>7s}"
    print(head)
    for case in cases:
        line = f"{case:24s}"
        for l in labels:
            rows = results[(case, l)]
            kept = _median(rows, "kept_trimmed") - _median(rows, "model_mb")
            line += (f"{_median(rows, 'peak'):11.0f}{kept:11.1f}"
                     f"{_median(rows, 'it_per_s'):10.2f}{_median(rows, 'median_iter_s'):10.3f}")
        line += f"{results[(case, labels[-1])][0]['n_iter']:7d}"
        print(line)
    print("\n'kept': RSS after the training, its Training dropped and only its TrainedModel "
          "kept, minus the model's own arrays, after malloc_trim(0) (free heap that glibc "
          "had not yet returned; before the trim: " + ", ".join(
              f"{c} [{l}] {_median(results[(c, l)], 'kept') - _median(results[(c, l)], 'model_mb'):+.1f}"
              for c in cases for l in labels) + " MB). 's/it': median seconds per iteration.")

    print("\nPeak added per stage (RSS, MB)")
    for case in cases:
        for l in labels:
            st = results[(case, l)][0]["stages"]
            print(f"  {case} [{l}]: " + ", ".join(f"{k} {v:.0f}" for k, v in st.items()))

    if args.no_trace:
        return
    print("\nWhere it goes (tracemalloc, MB): arrays alive at the final iteration, by the line"
          " that allocated them; then per stage 'held at its end / peak during it'.")
    for case in cases:
        for l, code in codes.items():
            t = _run_child("trace", case, code, args.max_iter)
            print(f"\n  {case} [{l}]")
            for where, mb in sorted(t["held"].items(), key=lambda kv: -kv[1]):
                print(f"    {mb:8.1f}  {where}")
            for name, (cur, peak) in t["stages"].items():
                print(f"    stage {name}: held {cur:.1f}, peak {peak:.1f}")
            print(f"    kept after the training (traced, model excluded): "
                  f"{t['kept_traced']:+.2f}")


if __name__ == "__main__":
    main()
