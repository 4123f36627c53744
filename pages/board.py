"""Class board: a teacher opens a class, students publish their runs and their own digits,
everyone compares (issue 11). The board rescoring, the caps and the moderation live in
lrcore.board; this page reads widgets and draws what comes back.

Live for everyone without rerunning everything: a tiny fragment (:func:`watch`) reads the
class's version number every few seconds (one indexed integer) and reruns the page only when
it moved; the board itself is built once per version per process (pages.board_ui.
cached_snapshot), so 30 viewers of one class score each new run once.
"""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import numpy as np
import pandas as pd
import streamlit as st

from lrcore import labels
from lrcore.board import BoardError, NotTeacher
from lrcore.board.charts import PENALTY_NAMES, board_chart, class_vs_mnist, tiles
from lrcore.board.service import (
    CHALLENGE_MAX,
    DRAWINGS_PER_SESSION,
    NICKNAME_MAX,
    RUNS_PER_SESSION,
    TITLE_MAX,
    join_query,
    settings_params,
)
from lrcore.figures.evaluation import confusion_heatmap
from lrcore.figures.weights import weight_images
from pages.board_ui import (
    BOARD_ERROR,
    CLASS,
    POLL_S,
    SEEN_QUERY,
    TEACHER,
    board_or_none,
    cached_snapshot,
    get_board,
    join,
    joined,
    leave,
    md_escape,
    session_id,
    teacher_token,
)
from pages.common import current_model, get_data, model_label, require_app_shell

require_app_shell()

SHOWN = "board_shown_version"  # (code, version) the page last drew
JUST_CREATED = "board_just_created"  # the class was created in the last run


def page_url(query: dict[str, str]) -> str:
    """An absolute link to this page with ``query`` (relative if the URL is unknown)."""
    try:
        u = urlsplit(st.context.url or "")
    except Exception:  # noqa: BLE001 - no browser URL (AppTest)
        u = None
    path = u.path.rstrip("/") if u and u.path else ""
    if not path.endswith("/board"):
        path = path + "/board" if path and not path.endswith("/board") else "/board"
    base = f"{u.scheme}://{u.netloc}{path}" if u and u.netloc else path
    return f"{base}?{urlencode(query)}"


def take_link_in() -> None:
    """``/board?class=CODE`` (a student link) or ``&t=TOKEN`` (the teacher link): join once
    per link, so a later Leave is not undone by the URL still showing it."""
    qp = st.query_params
    code, token = qp.get("class"), qp.get("t")
    if not code or st.session_state.get(SEEN_QUERY) == (code, token):
        return
    st.session_state[SEEN_QUERY] = (code, token)
    try:
        join(code, token)
    except BoardError as e:
        st.warning(f"This class link does not work: {e}")
    if token:
        # Out of the address bar once taken in: a projected board must not show it.
        del st.query_params["t"]
        st.session_state[SEEN_QUERY] = (code, None)


# Actions run as button callbacks (before the rerun draws the page); what they have to say
# waits in FLASH for the page to show it.
FLASH = "board_flash"


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, text))


def show_flash() -> None:
    for kind, text in st.session_state.pop(FLASH, []):
        getattr(st, kind)(text)


def _do_join() -> None:
    try:
        join(st.session_state.get("board_join_code", ""))
    except BoardError as e:
        flash("error", str(e))


def _do_create() -> None:
    ss = st.session_state
    try:
        info, token = get_board().create_class(
            ss.get("board_new_title", ""), ss.get("board_new_challenge", ""),
            ss.get("board_new_sparsity", 0.0), ss.get("board_new_settings", ""))
    except BoardError as e:
        flash("error", str(e))
        return
    st.session_state[CLASS] = info.code
    st.session_state[TEACHER] = token
    st.session_state[JUST_CREATED] = True


def _do_publish(code: str) -> None:
    nick = st.session_state.get("board_nickname", "")
    _, model = current_model()
    try:
        get_board().publish_run(code, session_id(), nick, model, get_data())
    except BoardError as e:
        flash("warning", str(e))
    else:
        flash("success", f"Published as {md_escape(nick.strip()[:NICKNAME_MAX])}.")


def _moderate(action: str, *args) -> None:
    board = get_board()
    code, token = st.session_state.get(CLASS), st.session_state.get(TEACHER)
    try:
        getattr(board, action)(code, token, *args)
    except (BoardError, NotTeacher) as e:
        flash("error", str(e))


def start_or_join() -> None:
    left, right = st.columns(2, gap="large")
    with left.container(border=True):
        st.markdown("#### Join a class")
        st.text_input("Class code", max_chars=12, key="board_join_code",
                             placeholder="e.g. K7QX2M",
                             help="The six characters your teacher shows.")
        st.button("Join", key="board_join", type="primary", icon=":material/login:",
                  on_click=_do_join)
    with right.container(border=True):
        st.markdown("#### Start a class (teacher)")
        st.text_input("Class name", max_chars=TITLE_MAX, key="board_new_title",
                              placeholder="e.g. Stats 101, Tuesday")
        st.number_input("Challenge: at least this many zero weights (%)", 0.0,
                                 100.0, 0.0, step=10.0, format="%.0f", key="board_new_sparsity",
                                 help="The board marks the most accurate run among those "
                                      "with at least this share of weights exactly zero "
                                      "(0: simply the most accurate run).")
        st.text_input("Challenge text (optional)", max_chars=CHALLENGE_MAX,
                                  key="board_new_challenge",
                                  placeholder="e.g. Highest test accuracy with at least 90% "
                                              "zero weights")
        st.text_input("Train settings for the class (optional)", max_chars=400,
                                 key="board_new_settings",
                                 placeholder="a Train page link, or penalty=l1&C=0.1",
                                 help="Passed on in the join link: the Train page opens "
                                      "with these settings.")
        st.button("Create the class", key="board_create", icon=":material/add:",
                  on_click=_do_create)


def class_header(info, token: str | None) -> None:
    st.subheader(md_escape(info.title))
    st.markdown(f"**Challenge:** {md_escape(info.challenge)}")
    cols = st.columns([1, 2], vertical_alignment="center")
    with cols[0]:
        st.metric("Join code", info.code)
        if info.closed:
            st.badge("closed: accepts nothing new", icon=":material/lock:", color="red")
        else:
            st.badge("open", icon=":material/lock_open:", color="green")
    with cols[1]:
        settings = settings_params(info.settings_query)
        if settings:
            st.page_link("pages/train.py", label="Train with the class's settings",
                         icon=":material/model_training:", query_params=settings)
            st.caption(" · ".join(f"{k}={md_escape(v)}" for k, v in settings.items()))
        st.button("Leave this class", key="board_leave", on_click=leave,
                  icon=":material/logout:")
    if token:
        # Open right after the class was made; later it only takes room on the projector.
        with st.expander("Links to share (teacher)",
                         expanded=st.session_state.pop(JUST_CREATED, False)):
            st.caption("Student link: joins the class (and opens Train with its settings "
                       "from the board).")
            st.code(page_url(join_query(info)), language=None)
            st.caption("Your teacher link: **keep it private**, it lets anyone moderate.")
            st.code(page_url(join_query(info, token)), language=None)


def publish_box(info) -> None:
    rid, model = current_model()
    with st.container(border=True):
        st.markdown("**Publish your current model**")
        st.caption(model_label(rid, model))
        if info.closed:
            st.info("This class is closed: it accepts no new runs.")
            return
        row = st.container(horizontal=True, vertical_alignment="bottom")
        row.text_input("Nickname", max_chars=NICKNAME_MAX, key="board_nickname",
                       placeholder="shown to the class")
        row.button("Publish", key="board_publish", type="primary", icon=":material/publish:",
                   on_click=_do_publish, args=(info.code,))
        show_flash()
        runs_n, draws_n = get_board().session_counts(info.code, session_id())
        st.caption(f"You have published {runs_n} of {RUNS_PER_SESSION} runs and added "
                   f"{draws_n} of {DRAWINGS_PER_SESSION} digits (Draw page) to this class.")


@st.fragment(run_every=POLL_S)
def watch(code: str) -> None:
    """Every few seconds: one integer read; a rerun of this page only when it changed."""
    board = board_or_none()
    try:
        v = board.version(code) if board is not None else None
    except BoardError:
        v = None
    if v is not None and st.session_state.get(SHOWN) != (code, v):
        st.rerun()


def _table(snap, teacher: bool) -> pd.DataFrame:
    rows = []
    for r in snap.rows:
        rows.append({
            "#": r.id,
            "best": "★" if r.id == snap.best_id else "",
            "nickname": r.nickname,
            "penalty": PENALTY_NAMES.get(r.penalty, r.penalty),
            "C": r.C,
            "training digits": r.train_size,
            "zero weights %": round(r.sparsity, 1),
            "MNIST test accuracy": r.test_accuracy,
            "our digits accuracy": r.class_accuracy,
            **({"hidden": r.hidden} if teacher else {}),
        })
    df = pd.DataFrame(rows)
    if df["our digits accuracy"].isna().all():  # no class digits yet: no empty column
        df = df.drop(columns="our digits accuracy")
    return df


def board_view(code: str, token: str | None) -> None:
    board = get_board()
    v = board.version(code)
    snap = cached_snapshot(code, v, token is not None, get_data())
    st.session_state[SHOWN] = (code, v)
    for note in snap.notes:
        st.warning(md_escape(note))
    n_hidden = sum(r.hidden for r in snap.rows)
    st.markdown(f"### Runs ({len(snap.rows)})" + (f" · {n_hidden} hidden" if n_hidden else ""))
    if not snap.rows:
        st.info("No run published yet. Train a model (Train page), then publish it above.")
    else:
        best = next((r for r in snap.rows if r.id == snap.best_id), None)
        if best is not None:
            st.markdown(f"★ **Best for the challenge:** {md_escape(best.nickname)} "
                        f"(#{best.id}): test accuracy {labels.pct(best.test_accuracy)}, "
                        f"{best.sparsity:.1f}% zero weights")
        else:
            st.caption("No run meets the challenge yet.")
        df = _table(snap, token is not None)
        event = st.dataframe(
            df, hide_index=True, width="stretch", key="board_table", on_select="rerun",
            selection_mode="multi-row" if token else "single-row",
            column_config={
                "MNIST test accuracy": st.column_config.NumberColumn(format="percent"),
                "our digits accuracy": st.column_config.NumberColumn(format="percent"),
                "C": st.column_config.NumberColumn(format="%g"),
            })
        st.caption("Select a row, or click a point of the chart, to see its weights"
                   + (" (two rows: side by side)." if token else "."))
        chart = st.plotly_chart(board_chart(snap.rows, snap.best_id, snap.info.min_sparsity),
                                width="stretch", key="board_chart", on_select="rerun",
                                selection_mode="points")
        known = {r.id for r in snap.rows}
        picked = [int(df.iloc[i]["#"]) for i in event.selection.rows if i < len(df)]
        for point in (chart.selection.points if chart else []) or []:
            eid = point.get("customdata")
            eid = eid[0] if isinstance(eid, list) else eid
            if isinstance(eid, (int, float)) and int(eid) in known and int(eid) not in picked:
                picked.append(int(eid))
        picked = picked[:2 if token else 1]
        if picked:
            show_weights(picked)
    class_digits(snap, token)
    if token:
        moderation(snap, token)


def show_weights(ids: list[int]) -> None:
    cols = st.columns(len(ids))
    for col, eid in zip(cols, ids):
        with col:
            try:
                m = get_board().model(eid)
            except (BoardError, ValueError) as e:
                st.warning(f"Entry #{eid} cannot be shown: {md_escape(str(e))}")
                continue
            st.markdown(f"**Weights of #{eid}**: {model_label(f'#{eid}', m)}")
            st.plotly_chart(weight_images(m.coef_, m.classes,
                                          ncols=5 if len(ids) == 1 else 4),
                            width="stretch", key=f"board_weights_{eid}")


def class_digits(snap, token: str | None) -> None:
    n = len(snap.drawing_labels)
    st.markdown(f"### Our own digits ({n})")
    if n == 0:
        st.info("No digits yet: on the Draw page, draw one and add it with the digit you "
                "meant.")
        return
    counts = np.bincount(snap.drawing_labels, minlength=10)
    st.caption("Per digit: " + ", ".join(f"{d}: {c}" for d, c in enumerate(counts)))
    show = min(n, 60)
    st.image(tiles(snap.drawing_images[-show:], 2),
             caption=[str(int(x)) for x in snap.drawing_labels[-show:]])
    if n > show:
        st.caption(f"The latest {show} of {n} digits.")
    scored = [r for r in snap.rows if r.class_accuracy is not None]
    if not scored:
        return
    st.markdown("**MNIST test accuracy vs accuracy on our digits**")
    st.plotly_chart(class_vs_mnist(scored, n), width="stretch", key="board_vs_mnist")
    ids = [r.id for r in scored]
    names = {r.id: f"#{r.id} {r.nickname}" for r in scored}
    default = snap.best_id if snap.best_id in ids else ids[-1]
    eid = st.selectbox("Confusion matrix on our digits of", ids, index=ids.index(default),
                       format_func=names.get, key="board_confusion_of")
    st.plotly_chart(confusion_heatmap(snap.confusions[eid], np.arange(10)),
                    width="stretch", key="board_confusion")


def moderation(snap, token: str) -> None:
    st.markdown("### Moderation (teacher)")
    board, code = get_board(), snap.info.code
    c1, c2 = st.columns(2, gap="large")
    with c1:
        ids = [r.id for r in snap.rows]
        names = {r.id: f"#{r.id} {r.nickname}" + (" (hidden)" if r.hidden else "")
                 for r in snap.rows}
        if ids:
            eid = st.selectbox("Entry", ids, format_func=names.get, key="board_mod_entry")
            row = st.container(horizontal=True)
            hidden = next(r.hidden for r in snap.rows if r.id == eid)
            row.button("Show again" if hidden else "Hide", key="board_hide",
                       icon=":material/visibility:" if hidden else ":material/visibility_off:",
                       on_click=_moderate, args=("hide", eid, not hidden))
            row.button("Delete", key="board_delete", icon=":material/delete:",
                       on_click=_moderate, args=("delete_entry", eid))
        if len(snap.drawing_ids):
            did = st.selectbox("Digit", [int(i) for i in snap.drawing_ids][::-1],
                               key="board_mod_drawing",
                               format_func=lambda i: f"digit #{i} (a "
                               f"{int(snap.drawing_labels[list(snap.drawing_ids).index(i)])})")
            st.button("Delete this digit", key="board_delete_drawing", on_click=_moderate,
                      args=("delete_drawing", did))
    with c2:
        closed = snap.info.closed
        st.button("Reopen the class" if closed else "Close the class", key="board_close",
                  icon=":material/lock_open:" if closed else ":material/lock:",
                  on_click=_moderate, args=("close", not closed))
        data = get_data()
        # A callable: the CSV is made when the button is clicked, not on every rerun.
        st.download_button("Download the runs (CSV)", key="board_csv",
                           data=lambda: board.export_csv(code, token, data),
                           file_name=f"class-{code}.csv", mime="text/csv",
                           icon=":material/download:", on_click="ignore")


def run() -> None:
    st.header("Class board")
    take_link_in()
    if board_or_none() is None:
        st.error("The class board is not available on this server: it needs a writable data "
                 "directory (LR_DATA_DIR) or a reachable database (LR_BOARD_DB).")
        st.caption(md_escape(st.session_state.pop(BOARD_ERROR, "")))
        return
    info = joined()
    if info is None:
        st.write("Compare what everyone in the class found: publish your runs, add your own "
                 "handwriting, see whose model wins the teacher's challenge.")
        show_flash()
        start_or_join()
    else:
        token = teacher_token()
        class_header(info, token)
        publish_box(info)
        board_view(info.code, token)
        watch(info.code)


if __name__ == "__main__":  # Streamlit runs each page as __main__
    run()
