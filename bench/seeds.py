"""Rerun the classic published MNIST logistic-regression numbers with our library.

Run:  MNIST_DIR=/work/shared/mnist python bench/seeds.py [--only NAME] [--slow]

Five configurations that tutorials and scikit-learn's examples made familiar. Each is
rerun with lrcore (SoftmaxRegression, Training, lrcore.experiments) and, where the
published number came from scikit-learn, also with scikit-learn under the published
settings on the same digits, so a difference can be pinned on its cause instead of being
waved away. Printed: a table (configuration, published, ours, why they differ), then the
details behind each explanation.

The two scikit-learn-example configurations used a "shuffled" split: all 70,000 digits
permuted with ``check_random_state(0)``, then ``train_test_split`` (unseeded there; seeded
``random_state=0`` here, so the split is reproducible but not the published one). Our IDX
files hold the same 70,000 digits in OpenML's order (training then test), so the
permutation picks the same digits as the published code would. sag and saga visit the
samples in random order; they are seeded here (``random_state=0``), they were not there.

``--slow`` adds scikit-learn's saga run to convergence on the 5,000-digit L1 problem
(about 6 minutes on one thread), the proof that the optimum itself is sparser than the
published early-stopped model.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from lrcore.data import load_mnist  # noqa: E402
from lrcore.metrics import sparsity  # noqa: E402
from lrcore.model import SoftmaxRegression  # noqa: E402

# One BLAS thread: on a busy 2-core machine two OpenBLAS threads spin and run 6-15x slower
# (see lrcore.threads); every fit below, ours and scikit-learn's, gets the same limit.
THREADS = 1


def log(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def pooled_split(data, train_n: int, test_n: int = 10000):
    """The scikit-learn example's split: permute all 70,000 digits with RandomState(0), then
    train_test_split (seeded here). Returns uint8 pixels and labels."""
    from sklearn.model_selection import train_test_split

    X = np.vstack([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    perm = np.random.RandomState(0).permutation(len(y))
    return train_test_split(X[perm], y[perm], train_size=train_n, test_size=test_n,
                            random_state=0)


def fit_ours(model: SoftmaxRegression, X, y) -> tuple[SoftmaxRegression, float]:
    t0 = time.perf_counter()
    model.fit(X, y)
    return model, time.perf_counter() - t0


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


# ----------------------------------------------------------------------------- configs


def sag_50k(data, slow: bool) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte, ytr, yte = pooled_split(data, 50000)
    Xtr, Xte = Xtr.astype(np.float64), Xte.astype(np.float64)
    blank = float(np.mean(Xtr.max(axis=0) == 0))
    scaler = StandardScaler().fit(Xtr)
    # Two candidate pipelines: /255 (as the configuration is usually described) and
    # StandardScaler (as in the scikit-learn example this configuration comes from). Only
    # the second reproduces the published accuracy with scikit-learn itself.
    inputs = {"/255": (Xtr / 255, Xte / 255),
              "standardized": (scaler.transform(Xtr), scaler.transform(Xte))}
    sk, ours, secs = {}, {}, {}
    for name, (A, B) in inputs.items():
        log(f"sklearn sag, C=1e5, tol=0.1 (the published settings), {name}")
        sk[name] = LogisticRegression(C=1e5, solver="sag", tol=0.1,
                                      random_state=0).fit(A, ytr)
        log(f"ours, L-BFGS, C=1e5, tol=1e-4 (to convergence), {name}")
        ours[name], secs[name] = fit_ours(SoftmaxRegression(C=1e5, tol=1e-4, max_iter=2000),
                                          A, ytr)
    A, B = inputs["standardized"]
    lit = SoftmaxRegression(C=1e5, tol=0.1, max_iter=100).fit(A, ytr)
    acc = {k: ours[k].score(inputs[k][1], yte) for k in inputs}
    sk_acc = {k: sk[k].score(inputs[k][1], yte) for k in inputs}
    spars = sparsity(ours["standardized"].coef_)
    return dict(
        config="sag, L2 C=1e5, tol=0.1; 50,000 shuffled digits; test 10,000",
        published="test 0.8948, sparsity 9.18%",
        ours=f"test {acc['standardized']:.4f} standardized / {acc['/255']:.4f} /255, sparsity "
             f"{spars:.2f}% (converged)",
        why=f"published = StandardScaler + sag stopped by tol=0.1 after "
            f"{int(sk['standardized'].n_iter_[0])} epochs (sklearn rerun: "
            f"{sk_acc['standardized']:.4f}; on /255 it would be {sk_acc['/255']:.4f}); ours "
            f"converges. Zeros = pixels blank in all 50,000 training digits "
            f"({pct(blank)} of this split).",
        details=[
            *(f"{k}: sklearn sag tol=0.1 test {sk_acc[k]:.4f}, sparsity "
              f"{100 * np.mean(sk[k].coef_ == 0):.2f}%, {int(sk[k].n_iter_[0])} epochs; ours "
              f"L-BFGS tol=1e-4 test {acc[k]:.4f}, {int(ours[k].n_iter_[0])} iterations, "
              f"{secs[k]:.1f} s, objective {ours[k].objective(inputs[k][0], ytr):.4g} vs "
              f"sag's {_objective(sk[k], 'l2', 1e5, inputs[k][0], ytr):.4g}."
              for k in inputs),
            "Only the standardized pipeline reproduces the published 0.8948 with "
            "scikit-learn's own sag (the rest of the gap: the unseeded published split and "
            "sag's random sample order; seeded here): "
            "standardized pixels have large row norms, so sag's step is small and 5 "
            "epochs leave it far from the optimum.",
            f"ours with the literal tol=0.1: stops at iteration {int(lit.n_iter_[0])} (test "
            f"{lit.score(B, yte):.4f}): our tol bounds the gradient of the mean objective, "
            "sag's tol the relative change of the weights per epoch, so the same number "
            "means different things.",
            "Sparsity: a pixel blank in every training digit gets a zero gradient, so its "
            "weights stay exactly 0 from the zero start, for every solver.",
        ],
    )


def saga_l1_5k(data, slow: bool) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte, ytr, yte = pooled_split(data, 5000)
    scaler = StandardScaler().fit(Xtr.astype(np.float64))
    Xtr, Xte = scaler.transform(Xtr.astype(np.float64)), scaler.transform(Xte.astype(np.float64))
    C = 50 / 5000
    kw = dict(C=C, solver="saga", random_state=0)
    # scikit-learn >= 1.8 spells the L1 penalty l1_ratio=1; older versions penalty="l1".
    import inspect
    if "l1_ratio" in inspect.signature(LogisticRegression).parameters:
        kw["l1_ratio"] = 1.0
    else:
        kw["penalty"] = "l1"
    log("sklearn saga, L1, C=0.01, tol=0.1 (the published settings)")
    sk = LogisticRegression(tol=0.1, **kw)
    t0 = time.perf_counter()
    sk.fit(Xtr, ytr)
    sk_s = time.perf_counter() - t0
    log("ours, OWL-QN, L1, C=0.01, tol=1e-4")
    ours, s = fit_ours(SoftmaxRegression(penalty="l1", C=C, tol=1e-4, max_iter=1000), Xtr, ytr)
    acc, spars = ours.score(Xte, yte), sparsity(ours.coef_)
    obj_ours, obj_sk = ours.objective(Xtr, ytr), _objective(sk, "l1", C, Xtr, ytr)
    details = [
        f"sklearn saga tol=0.1 on this split: test {sk.score(Xte, yte):.4f}, sparsity "
        f"{100 * np.mean(sk.coef_ == 0):.1f}%, {int(sk.n_iter_[0])} epochs, {sk_s:.1f} s, "
        f"objective {obj_sk:.2f}.",
        f"ours OWL-QN tol=1e-4: test {acc:.4f}, sparsity {spars:.1f}%, "
        f"{int(ours.n_iter_[0])} iterations, {s:.1f} s, objective {obj_ours:.2f} (lower is "
        "better: the published model is not at the optimum of its own objective).",
    ]
    if slow:
        log("sklearn saga, tol=1e-4, max_iter=1000 (slow)")
        ref = LogisticRegression(tol=1e-4, max_iter=1000, **kw)
        t0 = time.perf_counter()
        ref.fit(Xtr, ytr)
        details.append(
            f"sklearn saga run to tol=1e-4: test {ref.score(Xte, yte):.4f}, sparsity "
            f"{100 * np.mean(ref.coef_ == 0):.1f}%, {int(ref.n_iter_[0])} epochs, "
            f"{time.perf_counter() - t0:.0f} s: it agrees with ours.")
    return dict(
        config="saga, L1 C=50/5000, tol=0.1; 5,000 shuffled digits, StandardScaler; test 10,000",
        published="test ~0.83, sparsity ~80%",
        ours=f"test {acc:.4f}, sparsity {spars:.1f}% ({int(ours.n_iter_[0])} it, "
             f"{'converged' if ours.converged_ else 'not converged'})",
        why=f"tol=0.1 stops saga after {int(sk.n_iter_[0])} epochs, before L1 has zeroed most "
            f"weights (sklearn rerun: {sk.score(Xte, yte):.3f}, "
            f"{100 * np.mean(sk.coef_ == 0):.0f}%); the converged optimum is sparser and "
            f"{100 * (sk.score(Xte, yte) - acc):.1f} points less accurate here.",
        details=details,
    )


def _objective(est, penalty: str, C: float, X, y) -> float:
    """scikit-learn's objective (C * sum log-loss + penalty) at another estimator's fit."""
    ref = SoftmaxRegression.from_coef(est.coef_, est.intercept_, est.classes_,
                                      penalty=penalty, C=C)
    return ref.objective(X, y)


def l2_canonical(data, slow: bool) -> dict:
    from lrcore.config import TrainConfig
    from lrcore.train import train

    log("ours, L2 C=0.59, standardized, 60,000 / 10,000 (Training pipeline)")
    cfg = TrainConfig(penalty="l2", C=0.59, preprocess="standardize", train_size=data.n_train,
                      test_size=data.n_test, max_iter=1000, tol=1e-4)
    m = train(cfg, data, evaluate_test=False)
    s = m.summary
    return dict(
        config="L2 C=0.59; canonical 60,000 / 10,000; /255 then standardized",
        published="test 0.922, log-loss 0.33, ROC AUC 0.99",
        ours=f"test {s['test_accuracy']:.4f}, log-loss {s['test_log_loss']:.3f}, ROC AUC "
             f"{s['roc_auc']:.4f} ({s['n_iter']} it)",
        why="same split, same objective, both converged: agreement to the published "
            "rounding is expected; any last-digit difference is the solvers' tolerance.",
        details=[f"{s['message']}; fit {s['fit_seconds']:.1f} s; macro F1 "
                 f"{s['macro_f1']:.4f}; sparsity {s['sparsity']:.1f}% (blank pixels)."],
    )


def ovr_raw_3k(data, slow: bool) -> dict:
    from lrcore.experiments import softmax_vs_ovr

    log("ours, one-vs-rest and softmax, raw pixels, 3,000 digits (lrcore.experiments)")
    res = softmax_vs_ovr(data, train_size=3000, C=1.0, preprocess="raw", max_iter=1000).run()
    t = res.table.set_index("method")
    ovr, sm = t.loc["one-vs-rest"], t.loc["softmax"]
    X = data.X_train[:3000].astype(np.float64)
    y = data.y_train[:3000]
    Xt, yt = data.X_test.astype(np.float64), data.y_test
    log("ours, one-vs-rest without a penalty: converged, and stopped after 20 iterations")
    free = SoftmaxRegression(penalty=None, multi_class="ovr", max_iter=1000).fit(X, y)
    early = SoftmaxRegression(penalty=None, multi_class="ovr", max_iter=20).fit(X, y)
    return dict(
        config="ten gradient-descent sigmoids (one-vs-rest); 3,000 raw 0-255 digits; "
               "test 10,000",
        published="test 83.8%",
        ours=f"test {pct(ovr.test_accuracy)} (L2 C=1, L-BFGS, {int(ovr.n_iter)} it, "
             f"train {pct(ovr.train_accuracy)})",
        why="3,000 digits in 784 dimensions are separable (train 100%), so the number "
            "depends on the optimizer's path: ours unpenalized converged "
            f"{pct(free.score(Xt, yt))}, stopped after 20 iterations "
            f"{pct(early.score(Xt, yt))}; plain GD on unscaled 0-255 pixels takes yet "
            "another path and lands within a point of our converged fits.",
        details=[
            "Ours: multi_class='ovr' (ten sigmoids in one joint L-BFGS run) on the first "
            "3,000 training digits, raw pixels. C=1 is our default; on 0-255 pixels it is a "
            "very weak penalty (like C=65,025 on /255 pixels), which is the closest to "
            "unpenalized gradient descent that still has a unique optimum.",
            f"No penalty: converged after {int(free.n_iter_[0])} iterations, train "
            f"{pct(free.score(X, y))}, test {pct(free.score(Xt, yt))}. Stopped at 20 "
            f"iterations: train {pct(early.score(X, y))}, test {pct(early.score(Xt, yt))} "
            "(early stopping acts as a penalty).",
            f"Softmax on the same digits and settings: test {pct(sm.test_accuracy)}, log-loss "
            f"{sm.test_log_loss:.3f} (one-vs-rest {ovr.test_log_loss:.3f}).",
        ],
    )


def one_vs_rest_3k(data, slow: bool) -> dict:
    from lrcore.experiments import binary_detector

    log("ours, 'is it a 1?' detector, raw pixels, 3,000 digits (lrcore.experiments)")
    res = binary_detector(data, digit=1, train_size=3000, C=1.0, preprocess="raw",
                          max_iter=1000).run()
    base, det = res.table.iloc[0], res.table.iloc[1]
    return dict(
        config="'1 vs rest': one sigmoid, is it a 1?; 3,000 raw digits; test 10,000",
        published="test 99.0%",
        ours=f"test {pct(det.test_accuracy)} (precision {det.precision:.3f}, recall "
             f"{det.recall:.3f})",
        why=f"within {abs(99.0 - 100 * det.test_accuracy):.2f} points (~"
            f"{round(abs(0.990 - det.test_accuracy) * 10000)} of 10,000 digits): optimizer "
            f"stop and subset; note 'always no' already scores {pct(base.test_accuracy)}.",
        details=[f"Digit 1 assumed (the published text says '1 vs rest'). L2 C=1 on raw "
                 f"pixels, first 3,000 training digits; F1 {det.f1:.3f}."],
    )


CONFIGS = {
    "sag": sag_50k,
    "saga-l1": saga_l1_5k,
    "l2-60k": l2_canonical,
    "ovr-raw": ovr_raw_3k,
    "one-vs-rest": one_vs_rest_3k,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=None, help=f"one of {', '.join(CONFIGS)}")
    ap.add_argument("--slow", action="store_true",
                    help="also run scikit-learn's saga to convergence (~6 min)")
    args = ap.parse_args()
    if "MNIST_DIR" not in os.environ:
        sys.exit("set MNIST_DIR to a folder with the four MNIST IDX files")
    data = load_mnist("idx", os.environ["MNIST_DIR"])
    if not data.is_full:
        sys.exit(f"needs the full MNIST; {data.source} is not")
    names = [args.only] if args.only else list(CONFIGS)
    rows = []
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")  # non-convergence is reported in the table itself
    with threadpool_limits(THREADS):
        for name in names:
            if name not in CONFIGS:
                sys.exit(f"--only must be one of {', '.join(CONFIGS)}; got {name!r}")
            rows.append(CONFIGS[name](data, args.slow))
    print(f"Published vs ours  ({data.source}; {time.perf_counter() - t0:.0f} s, "
          f"{THREADS} BLAS thread)\n")
    print("| configuration | published | ours | why they differ |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['published']} | {r['ours']} | {r['why']} |")
    print("\nDetails")
    for r in rows:
        print(f"* {r['config']}")
        for d in r["details"]:
            print(f"    - {d}")


if __name__ == "__main__":
    main()
