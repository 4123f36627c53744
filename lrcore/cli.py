"""Command line: ``python -m lrcore train|evaluate ...``.

The CLI is the one place in lrcore that writes to the terminal. Bad arguments print one
line (``error: ...``) and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from typing import Sequence, TextIO

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other bad input
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lrcore", description="Softmax regression on MNIST.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and print its metrics")
    t.add_argument("--penalty", default="l2", help="l2, l1, elasticnet or none")
    t.add_argument("--C", dest="C", default="1.0", help="inverse regularization strength > 0")
    t.add_argument("--l1-ratio", default="0.5", help="elastic-net mixing in [0, 1]")
    t.add_argument("--multi-class", default="multinomial", help="multinomial or ovr")
    t.add_argument("--train-size", default="60000")
    t.add_argument("--test-size", default=None, help="default: all test digits")
    t.add_argument("--preprocess", default="unit", help="unit, standardize, deskew or raw")
    t.add_argument("--max-iter", default="300")
    t.add_argument("--tol", default="1e-4")
    t.add_argument("--seed", default="0")
    t.add_argument("--shuffle", action="store_true", help="random subset instead of first rows")
    t.add_argument("--solver", default="auto", help="auto, lbfgs, owlqn or fista")
    t.add_argument("--data", default="auto", help="auto, idx, openml or sample")
    t.add_argument("--data-dir", default=None, help="folder with the four MNIST IDX files")
    t.add_argument("--out", default=None, help="write the model to this .npz file")
    t.add_argument("--json", action="store_true", help="last line: a JSON object of metrics")

    e = sub.add_parser("evaluate", help="evaluate a saved model on the MNIST test set")
    e.add_argument("model")
    e.add_argument("--data", default="auto")
    e.add_argument("--data-dir", default=None)
    e.add_argument("--json", action="store_true")
    return p


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
    run = Training(cfg, data)
    interactive = err.isatty()
    last_print = 0.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in run:
                now = time.perf_counter()
                if now - last_print > (0.1 if interactive else 2.0) or p.status != "running":
                    last_print = now
                    line = (f"[{_bar(p.iteration / cfg.max_iter)}] iter {p.iteration:4d}/"
                            f"{cfg.max_iter}  loss {p.train_loss:.4f}  train acc "
                            f"{p.train_accuracy:.4f}  test acc {p.test_accuracy:.4f}  "
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
    model = run.result()
    s = model.summary
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


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser().parse_args(argv)
        if args.command == "train":
            return _train(args, out, err)
        return _evaluate(args, out, err)
    except _UsageError as e:
        print(f"error: {e}", file=err)
        return EXIT_USAGE
    except (ValueError, ConnectionError, OSError) as e:
        print(f"error: {e}", file=err)
        return EXIT_USAGE
