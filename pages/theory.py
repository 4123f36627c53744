"""Theory: softmax, cross-entropy, its gradient and the penalty, each evaluated live on one
test digit under the current model.

The numbers come from :mod:`lrcore.theory` (which calls the very loss function training
minimizes) and the figures from :mod:`lrcore.figures.theory`; this page only writes the
formulas and puts the numbers into them.
"""
from __future__ import annotations

import math

import streamlit as st

from lrcore.figures.evaluation import digit_tiles
from lrcore.figures.theory import gradient_images, logit_bars, proba_bars
from lrcore.labels import fmt_loss, penalty_label
from lrcore.theory import gradient_step, penalty_breakdown, sample_breakdown
from pages.common import (
    THEORY_DIGIT,
    current_model,
    get_data,
    model_heading,
    require_app_shell,
)

require_app_shell()

K_INDEX = "theory_index"
K_ETA = "theory_eta"
K_MISTAKE = "theory_next_mistake"
ETAS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def _next_mistake(model, data) -> None:
    """Move the index to the next test digit the model gets wrong (button callback)."""
    st.session_state["theory_source"] = "test"  # a test digit, not the drawing
    start = int(st.session_state.get(K_INDEX, 0))
    n = data.n_test
    # Scan in blocks from the current index on: a few ms per block of 2,000 digits.
    for lo in range(0, n, 2000):
        idx = [(start + 1 + lo + j) % n for j in range(min(2000, n - lo))]
        pred = model.model.predict(model.features(data.X_test[idx]))
        wrong = [i for i, p in zip(idx, pred) if p != data.y_test[i]]
        if wrong:
            st.session_state[K_INDEX] = wrong[0]
            return
    st.session_state["theory_notice"] = "The model classifies every test digit correctly."


def _num(v: float, digits: int = 3) -> str:
    """A loss or probability with enough digits to see it change, in LaTeX."""
    if v == 0 or 0.01 <= abs(v) < 1000:
        return f"{v:.4f}"
    mant, exp = f"{v:.{digits - 1}e}".split("e")
    return rf"{mant}\times 10^{{{int(exp)}}}"


def _prob(p: float) -> str:
    # 0.99997 printed as 1.0000 would hide why its loss is not 0.
    return f"1 - {_num(1 - p)}" if p > 0.9999 else _num(p)


def _softmax_sections(bd, step, eta: float, x_norm2: float) -> None:
    y = bd.label
    k_pred = bd.predicted
    st.subheader("1 · Scores: logits  z = Wx + b")
    st.latex(r"z_k \;=\; w_k^{\top} x + b_k \;=\; \sum_{j=1}^{784} W_{kj}\,x_j + b_k,"
             r"\qquad k = 0,\dots,9")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "Each class has a weight image $w_k$ (a row of $W$, 784 numbers) and an intercept "
            "$b_k$. Its score is the pixel-by-pixel product of the digit with that image: "
            "ink on red weights raises it, ink on blue weights lowers it. The scores are "
            "called *logits*; only their differences matter.")
        k_top = int(bd.logits.argmax())
        st.latex(rf"z_{{{bd.classes[k_top]}}} = {bd.logits[k_top]:.2f}"
                 r"\ \text{is the largest}")
    with right:
        st.plotly_chart(logit_bars(bd.logits, bd.classes, label=y),
                        key="theory_logits", width="stretch")

    st.subheader("2 · Probabilities: softmax")
    st.latex(r"p_k \;=\; \operatorname{softmax}(z)_k \;=\; "
             r"\frac{e^{z_k}}{\sum_{j=0}^{9} e^{z_j}}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "Exponentiating makes every score positive and dividing by the sum makes them add "
            "up to 1. Adding the same number to all logits changes nothing, which is why "
            "the code subtracts $\\max_k z_k$ first (so $e^{z}$ never overflows).")
        p_pred = float(bd.proba[list(bd.classes).index(k_pred)])
        st.latex(rf"p_{{{k_pred}}} = \frac{{e^{{{bd.logits[list(bd.classes).index(k_pred)]:.2f}}}}}"
                 rf"{{\sum_j e^{{z_j}}}} = {_prob(p_pred)}")
        st.caption(f"Class {k_pred} gets the largest probability, so the model predicts "
                   f"{k_pred}" + (" (correct)." if k_pred == y else f"; the truth is {y}."))
    with right:
        st.plotly_chart(proba_bars(bd.proba, bd.classes, label=y),
                        key="theory_proba", width="stretch")

    st.subheader("3 · Loss: cross-entropy of the true class")
    st.latex(r"\ell(W, b;\, x, y) \;=\; -\log p_y \;=\; "
             r"\log \sum_{j} e^{z_j} \;-\; z_y")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "The loss only looks at the probability given to the **true** class $y$. It is 0 "
            "when $p_y = 1$ and grows without bound as $p_y \\to 0$: a confident mistake costs "
            "far more than a hesitant one. Averaged over digits it is the *log-loss* "
            "(`sklearn.metrics.log_loss`).")
    with right:
        st.latex(rf"\begin{{aligned}}\ell &= -\log p_{{{y}}} = "
                 rf"-\log\left({_prob(bd.proba[bd.label_index])}\right)\\ "
                 rf"&= {_num(bd.loss)}\end{{aligned}}")
        # A row that wraps, each number as wide as it needs (equal columns cut "99.43%").
        row = st.container(horizontal=True, wrap=True, gap="small")
        row.metric("True class", str(y), width="content")
        row.metric(f"p(true = {y})", f"{bd.proba[bd.label_index]:.2%}", width="content")
        row.metric("Loss ℓ", fmt_loss(bd.loss), width="content")

    st.subheader("4 · Gradient: how each weight should move")
    st.latex(r"\frac{\partial \ell}{\partial z_k} = p_k - y_k, \qquad "
             r"\frac{\partial \ell}{\partial W_{k}} = (p_k - y_k)\, x^{\top}, \qquad "
             r"\frac{\partial \ell}{\partial b_k} = p_k - y_k")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "$y_k$ is 1 for the true class and 0 otherwise (one-hot). So the gradient of "
            "each class is **the digit itself**, scaled by that class's error $p_k - y_k$: "
            f"negative for the true class {y} (descent *adds* this digit's ink to its "
            "template), positive for the others in proportion to the probability they "
            "stole (descent *subtracts* the ink from them). Pixels without ink get no "
            "gradient, and because the $p_k$ add up to 1 the ten images sum to zero. "
            "The number under each class is its $p_k - y_k$. The images show the step "
            "$-\\partial\\ell/\\partial W$ itself, in the Weights page's colours: "
            "**red = this step raises the weight** (more evidence for that class), "
            "**blue = it lowers it**.")
    with right:
        st.latex(r"-\eta\,\frac{\partial \ell}{\partial W_{%s}} = "
                 r"\eta\,(1 - p_{%s})\,x^{\top}" % (y, y))
        st.latex(r"-\eta\,\frac{\partial \ell}{\partial W_{k}} = -\eta\,p_k\,x^{\top}"
                 r"\quad (k \ne %s)" % y)
        if bd.loss < 0.01:
            st.info("This digit is already classified confidently, so its gradient is "
                    "almost zero: it has little left to teach. Try **Next digit it gets "
                    "wrong** above.")
    st.plotly_chart(gradient_images(bd.grad, bd.classes, residual=bd.residual),
                    key="theory_grad", width="stretch")

    st.markdown("**One gradient step on this digit alone**")
    st.latex(r"W \leftarrow W - \eta\,\frac{\partial \ell}{\partial W},\quad "
             r"b \leftarrow b - \eta\,\frac{\partial \ell}{\partial b}")
    st.latex(r"\Longrightarrow\quad z' = z - \eta\,(\lVert x\rVert^2 + 1)\,(p - y)")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.select_slider("Step size η", options=ETAS, key=K_ETA,
                         help="W ← W − η ∂ℓ/∂W and b ← b − η ∂ℓ/∂b")
        st.markdown(
            "Since the gradient is $(p-y)\\,x^\\top$, the step moves every logit straight "
            "against its own error, scaled by the digit's energy "
            f"$\\lVert x\\rVert^2 = {x_norm2:.1f}$. Too large a step overshoots: that is why "
            "the solver searches for the step length (L-BFGS line search) and averages the "
            "gradient over all training digits instead of following one.")
        st.latex(rf"\ell:\ {_num(bd.loss, 4)} \;\longrightarrow\; {_num(step.loss, 4)}")
        if bd.loss > 0:
            st.caption(f"With η = {eta:g} this digit's loss changes by "
                       f"{(step.loss - bd.loss) / bd.loss:+.1%}.")
    with right:
        st.plotly_chart(logit_bars(bd.logits, bd.classes, label=y, after=step.logits),
                        key="theory_step", width="stretch")


def _sigmoid_sections(bd, model) -> None:
    binary = bd.kind == "binary"
    st.info(
        ("This is a **binary** model: one sigmoid for "
         f"'{bd.classes[1]}' against '{bd.classes[0]}'. " if binary else
         "This is a **one-vs-rest** model: ten independent sigmoids, each 'is it a k?'. ")
        + "The softmax derivation is shown for softmax (multinomial) models; train one on the "
          "Train page (multi-class: multinomial) to see it. Here is the sigmoid version.")
    st.subheader("Scores, sigmoids and loss")
    st.latex(r"z_k = w_k^{\top}x + b_k,\qquad "
             r"\sigma(z) = \frac{1}{1 + e^{-z}},\qquad P(\text{class } k) = \sigma(z_k)")
    st.latex(r"\ell = \sum_k \log\!\left(1 + e^{-s_k z_k}\right),\qquad "
             r"s_k = \begin{cases} +1 & k = y\\ -1 & k \ne y\end{cases}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "Each sigmoid is trained on its own question, so nothing makes the answers "
            "add up to one; `predict_proba` divides them by their sum afterwards. "
            + ("" if binary else "The loss is the sum of the ten binary losses, what this "
                                 "model minimizes; the log-loss of the normalized "
                                 "probabilities is shown beside it."))
        st.latex(rf"\ell = {_num(bd.loss)},\qquad -\log \hat p_y = {_num(bd.log_loss)}")
    with right:
        st.plotly_chart(logit_bars(bd.logits, bd.classes, label=bd.label),
                        key="theory_logits", width="stretch")
        st.plotly_chart(proba_bars(bd.proba, bd.classes, label=bd.label),
                        key="theory_proba", width="stretch")
    st.subheader("Gradient")
    st.latex(r"\frac{\partial \ell}{\partial W_k} = (\sigma(z_k) - y_k)\, x^{\top},\qquad "
             r"\frac{\partial \ell}{\partial b_k} = \sigma(z_k) - y_k")
    st.plotly_chart(gradient_images(bd.grad, bd.classes, residual=bd.residual),
                    key="theory_grad", width="stretch")


def _penalty_section(model) -> None:
    pb = penalty_breakdown(model)
    st.subheader("5 · The penalty and the whole objective")
    st.latex(r"\min_{W,\,b}\;\; C \sum_{i=1}^{n} \ell(W, b;\, x_i, y_i) \;+\; "
             r"\frac{1-r}{2}\,\lVert W\rVert_F^2 \;+\; r\,\lVert W\rVert_1")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown(
            "This is scikit-learn's `LogisticRegression` objective, minimized exactly. "
            "$r = 0$ is the L2 penalty (weights shrink smoothly), $r = 1$ the L1 penalty "
            "(many weights become exactly 0), in between elastic-net. **C** weighs the data "
            "against the penalty: a small C means a strong penalty. Intercepts are not "
            "penalized. Divided by $C n$, the penalty's gradient $W/(Cn)$ (L2) is added to "
            "the mean of the per-digit gradients above (for L1, where $|w|$ has no "
            "derivative at 0, the solver uses OWL-QN's pseudo-gradient).")
    with right:
        if pb.penalty is None:
            st.markdown("This model has **no penalty** ($C = \\infty$): only the loss is "
                        "minimized, and on separable data the weights can grow without "
                        "bound.")
        else:
            name = penalty_label(pb.penalty)
            st.markdown(f"This model: **{name}** penalty, $C = {pb.C:g}$, "
                        f"$r = {pb.l1_ratio:g}$, $n$ = {pb.n_train:,} training digits.")
            st.latex(rf"\lVert W\rVert_F^2 = {pb.l2_squared:.4g},\qquad "
                     rf"\lVert W\rVert_1 = {pb.l1:.4g}")
            st.latex(rf"\text{{penalty}} = {pb.value:.4g},\qquad "
                     rf"\frac{{\text{{penalty}}}}{{C\,n}} = {pb.per_sample:.4g}")
            train_loss = model.summary.get("train_log_loss")
            if train_loss is not None and math.isfinite(train_loss):
                share = pb.per_sample / (pb.per_sample + train_loss)
                st.markdown(
                    f"Per training digit the penalty adds {pb.per_sample:.4f} to the mean "
                    f"training loss of {train_loss:.4f}: {share:.0%} of the objective. "
                    f"{pb.zero_fraction:.1%} of the weights are exactly 0.")
    st.latex(r"\nabla_W \Big[\tfrac{1}{Cn}\,\text{objective}\Big] = "
             r"\frac{1}{n}\sum_{i=1}^{n} (p_i - y_i)\,x_i^{\top} + "
             r"\frac{(1-r)\,W + r\,\operatorname{sign}(W)}{C\,n}")


def run() -> None:
    data = get_data()
    rid, model = current_model()
    st.session_state.setdefault(K_ETA, 0.01)
    # A formula wider than its column scrolls sideways instead of being cut off (a phone,
    # a projector with the sidebar open); the longest ones are split over two lines too.
    st.html("<style>.katex-display{overflow-x:auto;overflow-y:hidden;"
            "padding-bottom:0.2rem}</style>")
    st.title("Where the math comes from")
    st.markdown(
        "Softmax regression in five formulas, each evaluated on **one test digit** with "
        "the current model. Pick a digit: every number below is recomputed for it.")
    st.caption(f"{model_heading(rid, model)} · preprocessing: "
               f"{model.preprocessor.describe()} · change it on the Train page.")

    notice = st.session_state.pop("theory_notice", None)
    if notice:
        st.info(notice)
    c_img, c_ctl = st.columns([1, 3], gap="large")
    with c_ctl:
        st.number_input(f"Test digit (0 to {data.n_test - 1:,})", min_value=0,
                        max_value=data.n_test - 1, step=1, key=K_INDEX,
                        help="Row of the MNIST test set; these digits were never trained on.")
        st.button("Next digit it gets wrong", key=K_MISTAKE, on_click=_next_mistake,
                  args=(model, data),
                  help="Jump to the next test digit this model misclassifies.")
    drawn = st.session_state.get(THEORY_DIGIT)
    source = "test"
    if drawn is not None:
        with c_ctl:
            source = st.radio("Digit", ("drawn", "test"), key="theory_source", horizontal=True,
                              format_func={"drawn": f"my drawing (a {drawn['label']})",
                                           "test": "an MNIST test digit"}.get,
                              help="Your drawing comes from the Draw page, with the digit "
                                   "you said it is.")
    i = int(st.session_state.get(K_INDEX, 0))
    pixels, label = data.X_test[i], data.y_test[i]
    caption = f"test digit #{i}: a {label}"
    if source == "drawn":
        pixels, label = drawn["pixels"], drawn["label"]
        caption = f"your drawing: a {label}"
    if label not in set(model.classes.tolist()):
        st.warning(f"Digit #{i} is a {label}, which this model does not know (its classes "
                   f"are {', '.join(map(str, model.classes))}). Pick another digit.")
        return
    bd = sample_breakdown(model, pixels, label)
    with c_img:
        st.image(digit_tiles(pixels, scale=5)[0], caption=caption)
    with c_ctl:
        verdict = "correct" if bd.correct else "wrong"
        st.markdown(f"The model says **{bd.predicted}** ({verdict}); it gives the true "
                    f"class {label} a probability of **{bd.proba[bd.label_index]:.2%}**, "
                    f"so this digit's loss is **{bd.loss:.4f}**.")

    st.divider()
    if bd.kind == "multinomial":
        eta = float(st.session_state.get(K_ETA, 0.01))
        step = gradient_step(model, bd, eta)
        _softmax_sections(bd, step, eta, float(bd.x @ bd.x))
    else:
        _sigmoid_sections(bd, model)
    st.divider()
    _penalty_section(model)


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
