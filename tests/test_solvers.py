"""lrcore.solvers on small synthetic problems: each solver reaches the optimum of scipy.optimize
and of scikit-learn's LogisticRegression, decreases the objective, gives exact zeros under L1,
respects tol and max_iter, continues from given coefficients, and refines float32 to float64."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from lrcore import loss as L
from lrcore import solvers as S
from lrcore.model import SoftmaxRegression


def _data(n=200, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    X[:, 0] += y  # some signal, so the optimum is not at zero
    X[:, 1] -= 0.5 * y
    return X, y


class Problem:
    """The mean objective of lrcore.loss on ``X``: the smooth part for the solvers, its L1
    weights ``c`` and the full ``F``. ``dtype=float32`` starts in float32 and can refine."""

    def __init__(self, X, y, penalty="l2", C=0.5, l1_ratio=None, kind=None,
                 dtype=np.float64):
        k = int(y.max()) + 1
        self.kind = kind or ("binary" if k == 2 else "multinomial")
        self.y = y
        self.X64 = X
        self.X = X.astype(dtype)
        self.dtype = np.dtype(dtype)
        self.can_refine = self.dtype != np.float64
        self.n_refine = 0
        self.shape = (1 if self.kind == "binary" else k, X.shape[1] + 1)
        self.pen = L.make_penalty(penalty, C, l1_ratio, X.shape[0])
        self.c = self.pen.l1_weights(self.shape, True)

    def __call__(self, x, need_grad=True):
        res = L.loss_gradient(x.reshape(self.shape), self.X, None, self.y, self.kind, True,
                              need_grad=need_grad, l2_reg_strength=self.pen.l2_strength)
        return res.objective, None if res.grad is None else res.grad.ravel(), res

    def refine(self):
        self.X, self.dtype, self.can_refine = self.X64, np.dtype(np.float64), False
        self.n_refine += 1

    def F(self, x):
        return self(x, need_grad=False)[0] + L.l1_value(x, self.c)

    @property
    def x0(self):
        return np.zeros(int(np.prod(self.shape)))


def _run(solver, prob, x0=None, **kw):
    x0 = prob.x0 if x0 is None else x0
    if solver == "lbfgs":
        return list(S.lbfgs(prob, x0, **kw))
    return list(getattr(S, solver)(prob, x0, prob.c, **kw))


def _centered(prob, x):
    """Parameters with the softmax intercepts shifted to sum 0: unpenalized, they are only
    defined up to a common shift (the probabilities do not change)."""
    P = x.reshape(prob.shape).copy()
    if prob.kind == "multinomial":
        P[:, -1] -= P[:, -1].mean()
    return P


def _scipy_smooth(prob):
    res = minimize(lambda x: prob(x)[:2], prob.x0, jac=True, method="L-BFGS-B",
                   options=dict(maxiter=10_000, gtol=1e-12, ftol=1e-16))
    return res.x


def _scipy_l1(prob):
    """The L1 problem with x = u - v, u, v >= 0: smooth with bounds, for L-BFGS-B."""
    m = prob.x0.size

    def fun(uv):
        f, g, _ = prob(uv[:m] - uv[m:])
        return (f + prob.c @ (uv[:m] + uv[m:]),
                np.concatenate([g + prob.c, -g + prob.c]))

    res = minimize(fun, np.zeros(2 * m), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * (2 * m),
                   options=dict(maxiter=20_000, gtol=1e-13, ftol=1e-16))
    return res.x[:m] - res.x[m:]


def _sklearn_F(prob, penalty, C, l1_ratio):
    """F at scikit-learn's optimum of the same problem (sklearn 1.9: l1_ratio, not penalty)."""
    r = {"l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[penalty]
    solver = "lbfgs" if r == 0 else "saga"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = LogisticRegression(C=C, l1_ratio=r, solver=solver, tol=1e-12,
                                max_iter=100_000).fit(prob.X64, prob.y)
    x = np.hstack([sk.coef_, sk.intercept_[:, None]]).ravel()
    return prob.F(x), sk


# ----------------------------------------------------------------- optimum


@pytest.mark.parametrize("k", [3, 2])
def test_lbfgs_reaches_the_scipy_and_sklearn_l2_optimum(k):
    X, y = _data(k=k)
    prob = Problem(X, y, "l2", C=0.5)
    last = _run("lbfgs", prob, tol=1e-8, max_iter=1000)[-1]
    assert last.status == "converged" and last.opt <= 1e-8
    ref = _scipy_smooth(prob)
    assert last.F <= prob.F(ref) * (1 + 1e-12)
    assert_allclose(_centered(prob, last.x), _centered(prob, ref), atol=1e-6)
    F_sk, sk = _sklearn_F(prob, "l2", 0.5, None)
    assert last.F == pytest.approx(F_sk, rel=1e-10)
    assert_allclose(last.x.reshape(prob.shape)[:, :-1], sk.coef_, atol=1e-6)


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
@pytest.mark.parametrize("penalty,l1_ratio", [("l1", None), ("elasticnet", 0.5)])
def test_l1_solvers_reach_the_scipy_and_sklearn_optimum(solver, penalty, l1_ratio):
    X, y = _data()
    C = 0.05
    prob = Problem(X, y, penalty, C=C, l1_ratio=l1_ratio)
    last = _run(solver, prob, tol=1e-7, max_iter=20_000)[-1]
    assert last.status == "converged" and last.opt <= 1e-7
    ref = _scipy_l1(prob)
    assert last.F == pytest.approx(prob.F(ref), rel=1e-9)
    assert last.F <= prob.F(ref) * (1 + 1e-9)
    assert_allclose(_centered(prob, last.x), _centered(prob, ref), atol=1e-5)
    F_sk, _ = _sklearn_F(prob, penalty, C, l1_ratio)
    assert last.F <= F_sk * (1 + 1e-7)  # saga's optimum, or below it
    assert last.F == pytest.approx(F_sk, rel=1e-6)
    # The exact zeros sit where the reference's are.
    assert np.array_equal(last.x == 0, np.abs(ref) < 1e-7)


def test_fista_reaches_the_same_l1_optimum():
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((300, 8)), rng.integers(0, 3, 300)
    a = SoftmaxRegression(penalty="l1", C=0.2, solver="owlqn", tol=1e-9, max_iter=5000).fit(X, y)
    b = SoftmaxRegression(penalty="l1", C=0.2, solver="fista", tol=1e-9, max_iter=20000).fit(X, y)
    assert b.objective(X, y) == pytest.approx(a.objective(X, y), rel=1e-7)
    assert_allclose(a.coef_, b.coef_, atol=1e-4)


# ----------------------------------------------------------------- behaviour


@pytest.mark.parametrize("solver,penalty", [("lbfgs", "l2"), ("owlqn", "l1"),
                                            ("owlqn", "elasticnet"), ("fista", "l1")])
def test_the_objective_decreases(solver, penalty):
    X, y = _data(seed=1)
    prob = Problem(X, y, penalty, C=0.1, l1_ratio=0.5)
    states = _run(solver, prob, tol=1e-8, max_iter=2000)
    F = [prob.F(prob.x0)] + [s.F for s in states]
    assert len(states) > 3
    assert all(b <= a + 1e-12 * abs(a) for a, b in zip(F, F[1:])), "F must not increase"
    assert F[-1] < F[0]
    for s in states:  # F reported is F at the reported x
        assert s.F == pytest.approx(prob.F(s.x), rel=1e-12)


@pytest.mark.parametrize("solver", ["owlqn", "fista"])
def test_l1_gives_exact_zeros(solver):
    X, y = _data(d=12, seed=2)
    prob = Problem(X, y, "l1", C=0.02)
    last = _run(solver, prob, tol=1e-7, max_iter=20_000)[-1]
    W = last.x.reshape(prob.shape)[:, :-1]
    assert np.mean(W == 0) > 0.3  # exact zeros, not merely small weights
    assert np.any(W != 0)
    # At those zeros the subgradient condition holds: |grad| <= c.
    g = prob(last.x)[1]
    zero = last.x == 0
    assert np.all(np.abs(g[zero]) <= prob.c[zero] + 1e-8)
    assert np.max(np.abs(S.pseudo_gradient(last.x, g, prob.c))) <= 1e-7
    # A smooth L2 fit of the same data has none.
    smooth = _run("lbfgs", Problem(X, y, "l2", C=0.02), tol=1e-8, max_iter=1000)[-1]
    assert not np.any(smooth.x.reshape(prob.shape)[:, :-1] == 0)


@pytest.mark.parametrize("solver,penalty", [("lbfgs", "l2"), ("owlqn", "l1"), ("fista", "l1")])
def test_tol_is_respected(solver, penalty):
    X, y = _data(seed=3)
    prob = Problem(X, y, penalty, C=0.1)
    loose = _run(solver, prob, tol=1e-3, max_iter=20_000)
    tight = _run(solver, prob, tol=1e-7, max_iter=20_000)
    for states, tol in ((loose, 1e-3), (tight, 1e-7)):
        assert states[-1].status == "converged" and states[-1].opt <= tol
        assert all(s.status == "running" and s.opt > tol for s in states[:-1])
        assert [s.iteration for s in states] == list(range(1, len(states) + 1))
    assert len(loose) < len(tight)
    assert tight[-1].F <= loose[-1].F


@pytest.mark.parametrize("solver,penalty", [("lbfgs", "l2"), ("owlqn", "l1"), ("fista", "l1")])
def test_max_iter_is_respected(solver, penalty):
    X, y = _data(seed=4)
    prob = Problem(X, y, penalty, C=0.1)
    states = _run(solver, prob, tol=1e-14, max_iter=3)
    assert [s.iteration for s in states] == [1, 2, 3]
    assert [s.status for s in states] == ["running", "running", "max_iter"]
    assert states[-1].message == "stopped at max_iter=3"
    (only,) = _run(solver, prob, tol=1e-14, max_iter=0)
    assert (only.iteration, only.status) == (0, "max_iter")
    assert np.array_equal(only.x, prob.x0)


@pytest.mark.parametrize("solver,penalty", [("lbfgs", "l2"), ("owlqn", "l1"), ("fista", "l1")])
def test_warm_start_continues_from_the_given_coefficients(solver, penalty):
    X, y = _data(seed=5)
    prob = Problem(X, y, penalty, C=0.1)
    cold = _run(solver, prob, tol=1e-8, max_iter=20_000)
    part = cold[len(cold) // 2]
    x_mid = part.x.copy()
    warm = _run(solver, prob, x0=x_mid, tol=1e-8, max_iter=20_000)
    assert np.array_equal(part.x, x_mid)  # the given coefficients are not modified
    assert warm[0].F <= prob.F(x_mid) * (1 + 1e-12)  # continues, does not restart
    assert len(warm) < len(cold)
    assert warm[-1].status == "converged"
    assert warm[-1].F == pytest.approx(cold[-1].F, rel=1e-9)
    # From the optimum itself there is nothing left to do.
    again = _run(solver, prob, x0=cold[-1].x, tol=1e-8, max_iter=20_000)
    assert again[-1].status == "converged" and len(again) <= 1
    assert again[-1].F == pytest.approx(cold[-1].F, rel=1e-12)


@pytest.mark.parametrize("solver,penalty", [("lbfgs", "l2"), ("owlqn", "l1")])
def test_float32_is_refined_for_a_tol_beyond_its_reach(solver, penalty):
    X, y = _data(n=400, seed=6)
    p32 = Problem(X, y, penalty, C=0.1, dtype=np.float32)
    p64 = Problem(X, y, penalty, C=0.1)
    tol = S.FLOAT32_TOL / 100
    a = _run(solver, p32, tol=tol, max_iter=5000)[-1]
    b = _run(solver, p64, tol=tol, max_iter=5000)[-1]
    assert p32.n_refine == 1 and a.status == "converged" and a.opt <= tol
    assert a.F == pytest.approx(b.F, rel=1e-11)
    # A tol float32 can deliver is met without refining.
    p32 = Problem(X, y, penalty, C=0.1, dtype=np.float32)
    c = _run(solver, p32, tol=1e-3, max_iter=5000)[-1]
    assert p32.n_refine == 0 and c.status == "converged"


def test_pseudo_gradient_is_the_minimum_norm_subgradient():
    x = np.array([1.0, -2.0, 0.0, 0.0, 0.0])
    g = np.array([0.5, 0.5, 0.3, -2.0, 2.0])
    c = np.array([1.0, 1.0, 1.0, 1.0, 0.5])
    # nonzero x: g + c sign(x); zero x: shrink g towards 0 by c (0 inside [-c, c]).
    assert_allclose(S.pseudo_gradient(x, g, c), [1.5, -0.5, 0.0, -1.0, 1.5])
