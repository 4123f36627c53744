"""Command line: ``python -m lrcore train|evaluate|experiment ...``.

The CLI is the one place in lrcore that writes to the terminal. Bad arguments print one
line (``error: ...``) and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Sequence, TextIO

from lrcore.config import TrainConfig, integer, number
from lrcore.plain import json_safe as _json_safe

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        raise _UsageError(message)


class _UsageError(Exception):
    pass


_D = TrainConfig().to_dict()  # the CLI's defaults are the app's (lrcore.config)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lrcore", description="Softmax regression on MNIST.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and print its metrics")
    t.add_argument("--penalty", default=str(_D["penalty"]), help="l2, l1, elasticnet or none")
    t.add_argument("--C", dest="C", default=str(_D["C"]), help="inverse regularization strength > 0")
    t.add_argument("--l1-ratio", default=str(_D["l1_ratio"]), help="elastic-net mixing in [0, 1]")
    t.add_argument("--multi-class", default=str(_D["multi_class"]), help="multinomial or ovr")
    t.add_argument("--train-size", default=str(_D["train_size"]))
    t.add_argument("--test-size", default=None, help="default: all test digits")
    t.add_argument("--preprocess", default=str(_D["preprocess"]), help="unit, standardize, deskew or raw")
    t.add_argument("--max-iter", default=str(_D["max_iter"]))
    t.add_argument("--tol", default=str(_D["tol"]))
    t.add_argument("--seed", default=str(_D["seed"]))
    t.add_argument("--shuffle", action="store_true", help="random subset instead of first rows")
    t.add_argument("--solver", default=str(_D["solver"]), help="auto, lbfgs, owlqn or fista")
    t.add_argument("--data", default="auto", help="auto, idx, openml or sample")
    t.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    t.add_argument("--out", default=None, help="write the model to this .npz file")
    t.add_argument("--json", action="store_true", help="last line: a JSON object of metrics")
    t.add_argument("--scheduler", default=None, help=_SCHEDULER_HELP)

    e = sub.add_parser("evaluate", help="evaluate a saved model on the MNIST test set")
    e.add_argument("model")
    e.add_argument("--data", default="auto")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--json", action="store_true")

    x = sub.add_parser("experiment", help="run one experiment of lrcore.experiments and "
                       "print its table",
                       description="Experiments: " + ", ".join(EXPERIMENT_NAMES) + ". Only the "
                       "options an experiment takes may be given; the others are errors.")
    x.add_argument("name", help=", ".join(EXPERIMENT_NAMES))
    for flag, help_ in _EXPERIMENT_OPTIONS.items():
        x.add_argument(flag, default=None, help=help_)
    x.add_argument("--data", default="auto", help="auto, idx, openml or sample")
    x.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    x.add_argument("--csv", default=None, help="write the table (with a # params line) here")
    x.add_argument("--json", action="store_true", help="last line: the result as JSON")
    x.add_argument("--scheduler", default=None, help=_SCHEDULER_HELP)
    return p


_SCHEDULER_HELP = ("run on the Dask scheduler at this address (tcp://host:8786); default: "
                   "$LR_SCHEDULER, and when that is unset too, in this process")


def _scheduler(args: argparse.Namespace) -> str | None:
    import os

    return args.scheduler or os.environ.get("LR_SCHEDULER") or None


# Kept in step with lrcore.experiments.EXPERIMENTS by a test; listed here so that building
# the parser does not import pandas and scikit-learn.
EXPERIMENT_NAMES = ("size", "c-path", "cv", "ovr", "binary", "preprocess", "models")

# Option -> help. The keyword argument is the option's name with "_" for "-"; each value is
# converted by _EXPERIMENT_TYPES and validated by the experiment itself.
_EXPERIMENT_OPTIONS = {
    "--train-size": "training digits (first rows)",
    "--test-size": "test digits (models)",
    "--sizes": "comma-separated training sizes (size)",
    "--C": "inverse regularization strength",
    "--Cs": "comma-separated grid of C (c-path, cv)",
    "--penalty": "l2 or l1 (size, cv)",
    "--penalties": "comma-separated, e.g. l1,l2 (c-path)",
    "--folds": "number of cross-validation folds (cv)",
    "--digit": "the digit to detect (binary)",
    "--preprocess": "unit, standardize, deskew or raw",
    "--modes": "comma-separated preprocessing modes (preprocess)",
    "--max-iter": "iteration budget per fit",
    "--seed": "seed of the subset shuffle / fold split",
    "--max-slow-train": "most training digits for the RBF SVM (models)",
}


def _list_of(convert):
    def parse(name: str, text: str) -> list:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise ValueError(f"{name} must be a comma-separated list; got {text!r}")
        return [convert(name, t) for t in items]
    return parse


# Text to numbers with lrcore.config's converters (their messages); the ranges are the
# experiments' to check.
_EXPERIMENT_TYPES = {
    "train_size": integer, "test_size": integer, "sizes": _list_of(integer),
    "C": number, "Cs": _list_of(number), "folds": integer,
    "digit": integer, "max_iter": integer, "seed": integer,
    "max_slow_train": integer, "penalties": _list_of(lambda n, t: t),
    "modes": _list_of(lambda n, t: t),
}


def _load_data(source: str, data_dir: str | None):
    from lrcore.data import load_mnist

    if data_dir is not None and source == "auto":
        source = "idx"
    return load_mnist(source, data_dir)


def _bar(frac: float, width: int = 28) -> str:
    n = int(round(frac * width))
    return "#" * n + "." * (width - n)


def _train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from lrcore.config import TrainConfig
    from lrcore.train import Training

    raw = dict(penalty=args.penalty, C=args.C, l1_ratio=args.l1_ratio,
               multi_class=args.multi_class, preprocess=args.preprocess,
               train_size=args.train_size, max_iter=args.max_iter, tol=args.tol,
               seed=args.seed, shuffle=args.shuffle, solver=args.solver)
    if args.test_size is not None:
        raw["test_size"] = args.test_size
    cfg = TrainConfig(**raw)  # ValueError -> one line, exit 2 (in main)
    data = _load_data(args.data, args.data_dir)
    if args.test_size is None:
        cfg = TrainConfig.from_dict({**cfg.to_dict(), "test_size": data.n_test})
    cfg.check_sizes(data.n_train, data.n_test)
    print(f"data: {data.source}", file=err)
    address = _scheduler(args)
    if address:
        model = _train_on_engine(address, cfg, data, err)
        if model is None:
            return 1
        return _report(args, model, data, cfg, out)
    run = Training(cfg, data)
    interactive = err.isatty()
    last_print = 0.0
    test_acc = "  n/a"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in run:
                now = time.perf_counter()
                if p.test_accuracy is not None:  # None on iterations not evaluated
                    test_acc = f"{p.test_accuracy:.4f}"
                if now - last_print > (0.1 if interactive else 2.0) or p.status != "running":
                    last_print = now
                    line = (f"[{_bar(p.iteration / cfg.max_iter)}] iter {p.iteration:4d}/"
                            f"{cfg.max_iter}  loss {p.train_loss:.4f}  train acc "
                            f"{p.train_accuracy:.4f}  test acc {test_acc}  "
                            f"{p.elapsed:5.1f}s")
                    print(("\r" + line) if interactive else line, end="" if interactive else "\n",
                          file=err, flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: keeping the model as of the last iteration", file=err)
    if interactive:
        print(file=err)
    if run.latest is None:
        print("error: training stopped before the first iteration", file=err)
        return 1
    return _report(args, run.result(), data, cfg, out)


def _progress_line(p: dict, cfg, test_acc: str) -> str:
    return (f"[{_bar(p['iteration'] / cfg.max_iter)}] iter {p['iteration']:4d}/{cfg.max_iter}  "
            f"loss {p['train_loss']:.4f}  train acc {p['train_accuracy']:.4f}  test acc "
            f"{test_acc}  {p['elapsed']:5.1f}s")


def _train_on_engine(address: str, cfg, data, err: TextIO):
    """Train on the scheduler at ``address``; the model, or None (message printed)."""
    from lrcore.engine import Engine

    interactive = err.isatty()
    with Engine(address) as engine:  # EngineUnavailable -> one line, exit 2 (in main)
        print(f"engine: {engine.describe()}", file=err)
        job = engine.submit_training(cfg, data)
        said, shown, last_print = "", 0, 0.0
        try:
            while job.active:
                time.sleep(0.1)
                if job.state == "queued":
                    text = f"queued: {job.describe()}"
                    if text != said and time.perf_counter() - last_print > 2.0:
                        said, last_print = text, time.perf_counter()
                        print(text, file=err, flush=True)
                    continue
                history = job.history
                if job.notice and job.notice != said:
                    said = job.notice
                    print(f"\n{job.notice}" if interactive else job.notice, file=err)
                    shown = 0
                if len(history) > shown:
                    shown = len(history)
                    now = time.perf_counter()
                    if now - last_print > (0.1 if interactive else 2.0):
                        last_print = now
                        acc = [r["test_accuracy"] for r in history
                               if r.get("test_accuracy") is not None]
                        line = _progress_line(history[-1], cfg,
                                              f"{acc[-1]:.4f}" if acc else "  n/a")
                        print(("\r" + line) if interactive else line,
                              end="" if interactive else "\n", file=err, flush=True)
        except KeyboardInterrupt:
            print("\ninterrupted: keeping the model as of the last iteration", file=err)
            job.stop()
            job.wait(60)
        if interactive:
            print(file=err)
        if job.state == "error":
            print(f"error: {job.error}", file=err)
        model = job.result()
        if model is None:
            if job.state != "error":
                print("error: training stopped before the first iteration", file=err)
            return None
        return model


def _report(args: argparse.Namespace, model, data, cfg, out: TextIO) -> int:
    s = model.summary
    if not s.get("metrics_computed", True):  # rebuilt after a lost worker: no metrics
        print(f"{s['message']}", file=out)
        if args.out:
            model.save(args.out)
            print(f"model written to {args.out}", file=out)
        return 1
    print(f"{s['message']}", file=out)
    print(f"test accuracy {s['test_accuracy']:.4f}  test log-loss {s['test_log_loss']:.4f}  "
          f"train accuracy {s['train_accuracy']:.4f}  sparsity {s['sparsity']:.1f}%  "
          f"iterations {s['n_iter']}  fit {s['fit_seconds']:.2f}s", file=out)
    if args.out:
        model.save(args.out)
        print(f"model written to {args.out}", file=out)
    if args.json:
        print(json.dumps(_json_safe({**s, "data_source": data.source, "config": cfg.to_dict()})),
              file=out)
    return 0


def _evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from lrcore.train import TrainedModel

    model = TrainedModel.load(args.model)
    data = _load_data(args.data, args.data_dir)
    ev = model.evaluate(data.X_test, data.y_test)
    s = ev.summary()
    print(f"data: {data.source}", file=err)
    print(f"test accuracy {s['accuracy']:.4f}  log-loss {s['log_loss']:.4f}  macro F1 "
          f"{s['macro_f1']:.4f}  ROC AUC {s['roc_auc']:.4f}  sparsity {s['sparsity']:.1f}%",
          file=out)
    if args.json:
        print(json.dumps(_json_safe({"test_accuracy": s["accuracy"], "test_log_loss": s["log_loss"],
                                     **s, "n_test": int(data.n_test),
                                     "data_source": data.source})), file=out)
    return 0


def _experiment(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import inspect

    from lrcore.experiments import EXPERIMENTS

    if args.name not in EXPERIMENTS:
        raise _UsageError(f"unknown experiment {args.name!r}; choose from "
                          f"{', '.join(EXPERIMENTS)}")
    factory = EXPERIMENTS[args.name]
    accepted = set(inspect.signature(factory).parameters) - {"data"}
    kwargs = {}
    for flag in _EXPERIMENT_OPTIONS:
        key = flag[2:].replace("-", "_")
        text = getattr(args, key)
        if text is None:
            continue
        if key not in accepted:
            takes = ", ".join(f for f in _EXPERIMENT_OPTIONS
                              if f[2:].replace("-", "_") in accepted)
            raise _UsageError(f"{flag} does not apply to experiment {args.name!r}; it takes "
                              f"{takes}")
        convert = _EXPERIMENT_TYPES.get(key, lambda n, t: t)
        kwargs[key] = convert(key, text)
    data = _load_data(args.data, args.data_dir)
    print(f"data: {data.source}", file=err)
    address = _scheduler(args)
    if address:
        from lrcore.engine import Engine

        with Engine(address) as engine:  # EngineUnavailable -> one line, exit 2 (in main)
            print(f"engine: {engine.describe()}", file=err)
            job = engine.submit_experiment(args.name, kwargs, data)  # ValueError -> exit 2
            res = _follow_experiment_job(job, err)
    else:
        experiment = factory(data, **kwargs)  # ValueError -> one line, exit 2 (in main)
        _run_experiment(experiment, err)
        res = experiment.result()
    if len(res.table):
        print(res.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"), file=out)
    else:
        print("(no rows finished)", file=out)
    for note in res.notes:
        print(f"- {note}", file=out)
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as f:
            f.write(res.to_csv())
        print(f"CSV written to {args.csv}", file=out)
    if args.json:
        print(json.dumps(res.to_dict()), file=out)
    return 0


def _run_experiment(experiment, err: TextIO) -> None:
    """Iterate an experiment, printing its progress (Ctrl-C keeps the finished rows)."""
    interactive = err.isatty()
    steps = iter(experiment)
    t0 = time.perf_counter()
    try:
        for step in steps:
            if step.row is None and not interactive:
                continue  # a log gets one line per finished point
            line = _experiment_line(step.done, step.total, step.message, t0)
            if interactive:
                print(f"\r{line[:160]:<160}", end="" if step.row is None else "\n", file=err,
                      flush=True)
            else:
                print(line, file=err, flush=True)
    except KeyboardInterrupt:
        steps.close()
        print("\ninterrupted: showing the rows finished so far", file=err)


def _experiment_line(done: int, total: int, message: str, t0: float) -> str:
    bar = _bar(done / total if total else 1.0)
    return f"[{bar}] {done}/{total}  {message}  {time.perf_counter() - t0:5.1f}s"


def _follow_experiment_job(job, err: TextIO):
    """Print an engine job's progress as :func:`_run_experiment` does, until it ends
    (Ctrl-C stops it and keeps the finished rows); returns its result."""
    t0 = time.perf_counter()
    seen = 0
    try:
        while job.active:
            records = job.history
            for rec in records[seen:]:
                if rec["row"] is not None:  # a log gets one line per finished point
                    print(_experiment_line(rec["done"], rec["total"], rec["message"], t0),
                          file=err, flush=True)
            seen = len(records)
            time.sleep(0.2)
    except KeyboardInterrupt:
        job.stop()
        job.wait(120)
        print("\ninterrupted: showing the rows finished so far", file=err)
    if job.state == "error":
        print(f"note: {job.error}", file=err)
    res = job.result()
    if res is None:
        raise ValueError(job.error or "the experiment did not run")
    return res


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            return _train(args, out, err)
        if args.command == "experiment":
            return _experiment(args, out, err)
        return _evaluate(args, out, err)
    except _UsageError as e:
        print(f"error: {e}", file=err)
        return EXIT_USAGE
    except (ValueError, ConnectionError, OSError) as e:
        print(f"error: {e}", file=err)
        return EXIT_USAGE
