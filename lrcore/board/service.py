"""The class board's API: classes, publishing, drawings, moderation, scores, CSV.

Trust: everything a visitor sends is data to check, never an instruction.
- A model is stored as the pickle-free ``.npz`` file of :mod:`lrcore.persist`, loaded back
  with its validating loader before it is accepted, and scored here, on the data in use:
  the metrics the file carries are dropped (a student cannot claim 99%). Scores are cached
  per (entry, data fingerprint) in the database, so viewers and app processes share them.
- A stored entry that no longer loads (a corrupt row, a file from a future format) is
  skipped with a note; the rest of the board is drawn as usual.
- Nicknames, titles and challenges are plain text: control and format characters removed,
  whitespace collapsed, length capped. The page renders them as text, never as HTML.
- The join code lets a session publish; moderation (hide, delete, close, CSV) needs the
  teacher token, of which only a SHA-256 hash is stored, compared in constant time.
- Per-session and per-class caps bound what one visitor or one class can store; a closed
  class accepts nothing.

Every change increments the class's ``version``: a viewer polls that one integer
(:meth:`Board.version`) and rebuilds its :class:`Snapshot` only when it moved.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import math
import re
import secrets
import threading
import unicodedata
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker

from lrcore.board.db import make_engine
from lrcore.board.models import BoardClass, Drawing, Entry, EntryScore
from lrcore.config import QUERY_FIELDS
from lrcore.metrics import sparsity as zero_share
from lrcore.train import TrainedModel

# Join codes: no 0/O, 1/I/L, so a code read off a projector is typed right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NICKNAME_MAX = 24
TITLE_MAX = 80
CHALLENGE_MAX = 200
SETTINGS_MAX = 400
RUNS_PER_SESSION = 10
DRAWINGS_PER_SESSION = 30
ENTRIES_PER_CLASS = 300
DRAWINGS_PER_CLASS = 1500
MODEL_MAX_BYTES = 2_000_000  # a 10x784 model is ~70 KB; snapshots are not stored
N_PIXELS = 784
CLASSES = np.arange(10)


class BoardError(ValueError):
    """Something the visitor asked cannot be done; the message says why, for the page."""


class ClassNotFound(BoardError):
    pass


class ClassClosed(BoardError):
    pass


class LimitReached(BoardError):
    pass


class NotTeacher(PermissionError):
    """Moderation without the class's teacher token."""


@dataclass(frozen=True)
class ClassInfo:
    code: str
    title: str
    challenge: str
    min_sparsity: float
    settings_query: str
    closed: bool
    version: int


@dataclass(frozen=True)
class EntryRow:
    """One published run as the board shows it; scores computed here, never read from the
    file. ``class_accuracy`` is None while the class has no digits."""

    id: int
    nickname: str
    penalty: str
    C: float | None
    l1_ratio: float | None
    train_size: int
    preprocess: str
    test_accuracy: float
    test_size: int
    sparsity: float
    hidden: bool
    created_at: dt.datetime
    class_accuracy: float | None = None
    class_correct: int = 0


@dataclass
class Snapshot:
    """Everything the board page draws, built once per class version and data set."""

    info: ClassInfo
    rows: list[EntryRow]
    notes: list[str]
    best_id: int | None
    drawing_ids: np.ndarray  # (n,)
    drawing_labels: np.ndarray  # (n,) int
    drawing_images: np.ndarray  # (n, 28, 28) uint8
    # entry id -> confusion (10, 10) on the class's digits: [true, predicted]
    confusions: dict[int, np.ndarray] = field(default_factory=dict)


# ----------------------------------------------------------------------------- text
def clean_text(value: Any, max_len: int) -> str:
    """Plain one-line text: control/format characters out, whitespace collapsed, capped."""
    s = "".join(ch if not unicodedata.category(ch).startswith("C") else " "
                for ch in str(value or ""))
    s = re.sub(r"\s+", " ", s).strip()
    return s[:max_len].strip()


def normalize_code(code: Any) -> str:
    """What a student typed ("abc-23k ") as a code ("ABC23K")."""
    return re.sub(r"[^A-Z0-9]", "", str(code or "").upper())


def clean_settings(query: Any) -> str:
    """A Train-settings query string to pass through a join link, keeping known names only
    (a pasted link ``https://host/train?C=0.1&penalty=l1`` or just ``C=0.1&penalty=l1``).
    The Train page validates the values itself when it opens the link."""
    text = str(query or "").strip()
    if "?" in text:
        text = urlsplit(text).query
    pairs = [(k, v[:40]) for k, v in parse_qsl(text, keep_blank_values=False)
             if k in QUERY_FIELDS]
    last = dict(pairs)  # a repeated name counts once: its last value
    out = urlencode([(k, last[k]) for k in QUERY_FIELDS if k in last])
    return out if len(out) <= SETTINGS_MAX else ""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session_key(session_id: str) -> str:
    if not session_id:
        raise BoardError("no session")
    return hashlib.blake2b(session_id.encode(), digest_size=16).hexdigest()


def best_entry(rows: list[EntryRow], min_sparsity: float) -> int | None:
    """Id of the visible run with the highest test accuracy among those with at least
    ``min_sparsity`` percent zero weights (the earliest on a tie); None if none qualifies."""
    ok = [r for r in rows if not r.hidden and r.sparsity >= min_sparsity - 1e-9]
    if not ok:
        return None
    return max(ok, key=lambda r: (r.test_accuracy, -r.created_at.timestamp(), -r.id)).id


def default_challenge(min_sparsity: float) -> str:
    if min_sparsity > 0:
        return f"Highest test accuracy with at least {min_sparsity:g}% zero weights"
    return "Highest test accuracy"


def _penalty_name(model: TrainedModel) -> str:
    p = model.config.penalty
    return "none" if p is None else str(p)


def _as_uint8(pixels: Any) -> np.ndarray:
    """784 pixels as uint8: floats in [0, 1] (lrcore.preprocess.canvas_to_mnist) are
    scaled to 0-255; integers must already be 0-255."""
    a = np.asarray(pixels)
    if a.size != N_PIXELS or not np.issubdtype(a.dtype, np.number):
        raise BoardError("a drawing must be 28x28 = 784 pixels")
    a = a.reshape(N_PIXELS)
    if not np.all(np.isfinite(a)):
        raise BoardError("a drawing's pixels must be finite")
    if np.issubdtype(a.dtype, np.floating):
        if a.min() < 0 or a.max() > 1:
            raise BoardError("float pixels must lie in [0, 1]")
        return np.rint(a * 255).astype(np.uint8)
    if a.min() < 0 or a.max() > 255:
        raise BoardError("integer pixels must lie in 0-255")
    return a.astype(np.uint8)


# ----------------------------------------------------------------------------- board
class Board:
    """The board over one database (see :mod:`lrcore.board.db` for the URL)."""

    MODEL_CACHE = 256  # loaded models kept per process (about 70 KB each)

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._models: OrderedDict[tuple, TrainedModel] = OrderedDict()
        self._preds: dict[tuple, dict[int, int]] = {}  # model key -> {drawing id: answer}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str | None = None) -> "Board":
        """The board at ``url`` (default: LR_BOARD_DB, else SQLite in the data directory),
        its schema migrated to the latest revision."""
        return cls(make_engine(url))

    def close_engine(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ classes
    def _class(self, s: Session, code: str, *, lock: bool = False) -> BoardClass:
        q = select(BoardClass).where(BoardClass.code == normalize_code(code))
        if lock:
            q = q.with_for_update()  # PostgreSQL: caps and version under a row lock
        c = s.scalars(q).first()
        if c is None:
            raise ClassNotFound("No class has this code. Check it with your teacher.")
        return c

    @staticmethod
    def _info(c: BoardClass) -> ClassInfo:
        return ClassInfo(code=c.code, title=c.title, challenge=c.challenge,
                         min_sparsity=float(c.min_sparsity), settings_query=c.settings_query,
                         closed=bool(c.closed), version=int(c.version))

    def create_class(self, title: str, challenge: str = "", min_sparsity: float = 0.0,
                     settings: str = "") -> tuple[ClassInfo, str]:
        """A new class; returns (its info, the teacher token). The token is shown once to
        the teacher (in the teacher link) and stored only as a hash."""
        title = clean_text(title, TITLE_MAX) or "Our class"
        try:
            min_sparsity = float(min_sparsity)
        except (TypeError, ValueError):
            raise BoardError("the sparsity threshold must be a number from 0 to 100") from None
        if not (0.0 <= min_sparsity <= 100.0):
            raise BoardError("the sparsity threshold must be a number from 0 to 100")
        challenge = clean_text(challenge, CHALLENGE_MAX) or default_challenge(min_sparsity)
        token = secrets.token_urlsafe(24)
        for _ in range(20):  # 31**6 ~ 9e8 codes: a collision is rare, retry it
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._sessions.begin() as s:
                    c = BoardClass(code=code, title=title, challenge=challenge,
                                   min_sparsity=min_sparsity,
                                   settings_query=clean_settings(settings),
                                   teacher_hash=_hash(token), closed=False, version=1)
                    s.add(c)
                    s.flush()
                    return self._info(c), token
            except IntegrityError:
                continue
        raise BoardError("could not find a free class code; try again")

    def join(self, code: str) -> ClassInfo:
        """The class of a join code (ClassNotFound if none). Joining stores nothing."""
        with self._sessions() as s:
            return self._info(self._class(s, code))

    info = join

    def version(self, code: str) -> int:
        """The class's change counter: one indexed integer read, for polling viewers."""
        with self.engine.connect() as conn:
            v = conn.execute(select(BoardClass.version)
                             .where(BoardClass.code == normalize_code(code))).scalar()
        if v is None:
            raise ClassNotFound("No class has this code.")
        return int(v)

    def is_teacher(self, code: str, token: str | None) -> bool:
        if not token:
            return False
        try:
            with self._sessions() as s:
                c = self._class(s, code)
                return hmac.compare_digest(c.teacher_hash, _hash(str(token)))
        except ClassNotFound:
            return False

    def _teacher_class(self, s: Session, code: str, token: str | None) -> BoardClass:
        c = self._class(s, code, lock=True)
        if not token or not hmac.compare_digest(c.teacher_hash, _hash(str(token))):
            raise NotTeacher("Only the teacher link can moderate this class.")
        return c

    # ------------------------------------------------------------------ publishing
    def publish_run(self, code: str, session_id: str, nickname: str,
                    model: TrainedModel | bytes, data: Any) -> int:
        """Publish a model under a nickname; returns the entry's id.

        ``model`` (a TrainedModel, or the bytes of a model file) is stored slim (no weight
        snapshots or history) and only after it loads back through the validating loader
        as a 10-class model of 784 pixels; its test metrics are computed here on ``data``
        (an :class:`lrcore.data.MnistData`) and whatever the file claims is ignored.
        """
        nick = clean_text(nickname, NICKNAME_MAX)
        if not nick:
            raise BoardError("Choose a nickname first.")
        blob = self._slim_bytes(model)
        loaded = self._validated(blob)
        score = _test_scores(loaded, data)
        sk = _session_key(session_id)
        c = loaded.config
        with self._sessions.begin() as s:
            bc = self._class(s, code, lock=True)
            if bc.closed:
                raise ClassClosed("This class is closed: it accepts no new runs.")
            mine = s.scalar(select(func.count()).select_from(Entry)
                            .where(Entry.class_id == bc.id, Entry.session == sk))
            if mine >= RUNS_PER_SESSION:
                raise LimitReached(f"You have published {RUNS_PER_SESSION} runs in this "
                                   "class: that is the limit per visitor.")
            total = s.scalar(select(func.count()).select_from(Entry)
                             .where(Entry.class_id == bc.id))
            if total >= ENTRIES_PER_CLASS:
                raise LimitReached(f"This class has {ENTRIES_PER_CLASS} runs: it is full.")
            e = Entry(class_id=bc.id, nickname=nick, session=sk, model_npz=blob,
                      penalty=_penalty_name(loaded),
                      C=None if c.penalty is None else float(c.C),
                      l1_ratio=float(c.l1_ratio) if c.penalty == "elasticnet" else None,
                      train_size=int(c.train_size), preprocess=str(c.preprocess),
                      hidden=False)
            s.add(e)
            s.flush()
            s.add(EntryScore(entry_id=e.id, data_fp=score["data_fp"],
                             test_accuracy=score["test_accuracy"],
                             test_size=score["test_size"], sparsity=score["sparsity"]))
            _bump(bc)
            return e.id

    @staticmethod
    def _slim_bytes(model: TrainedModel | bytes) -> bytes:
        if isinstance(model, (bytes, bytearray, memoryview)):
            blob = bytes(model)
            if len(blob) > MODEL_MAX_BYTES:
                raise BoardError("This model file is too large for the board.")
            try:
                model = TrainedModel.load(blob)
            except ValueError as e:
                raise BoardError(f"Not a valid model file: {e}") from None
        slim = dataclasses.replace(
            model, history=[], summary={}, snapshot_iters=np.zeros(0, dtype=np.int64),
            snapshot_coef=np.zeros((0, 0, 0), np.float32))
        blob = slim.to_bytes()
        if len(blob) > MODEL_MAX_BYTES:
            raise BoardError("This model is too large for the board.")
        return blob

    @staticmethod
    def _validated(blob: bytes) -> TrainedModel:
        try:
            m = TrainedModel.load(blob)
        except ValueError as e:
            raise BoardError(f"Not a valid model file: {e}") from None
        coef = np.asarray(m.coef_)
        if coef.shape != (len(CLASSES), N_PIXELS) or \
                not np.array_equal(np.asarray(m.classes), CLASSES):
            raise BoardError("Only models of the ten digits on 28x28 pixels can be published.")
        if not np.all(np.isfinite(coef)):
            raise BoardError("This model has non-finite weights.")
        return m

    def add_drawing(self, code: str, session_id: str, pixels: Any, label: int) -> int:
        """Add a digit to the class's set: 784 pixels (floats in [0, 1] or uint8), the digit
        its author meant. Returns the drawing's id."""
        try:
            label = int(label)
        except (TypeError, ValueError):
            raise BoardError("the label must be a digit 0-9") from None
        if not 0 <= label <= 9:
            raise BoardError("the label must be a digit 0-9")
        img = _as_uint8(pixels)
        if not img.any():
            raise BoardError("This drawing is empty.")
        sk = _session_key(session_id)
        with self._sessions.begin() as s:
            bc = self._class(s, code, lock=True)
            if bc.closed:
                raise ClassClosed("This class is closed: it accepts no new digits.")
            mine = s.scalar(select(func.count()).select_from(Drawing)
                            .where(Drawing.class_id == bc.id, Drawing.session == sk))
            if mine >= DRAWINGS_PER_SESSION:
                raise LimitReached(f"You have added {DRAWINGS_PER_SESSION} digits to this "
                                   "class: that is the limit per visitor.")
            total = s.scalar(select(func.count()).select_from(Drawing)
                             .where(Drawing.class_id == bc.id))
            if total >= DRAWINGS_PER_CLASS:
                raise LimitReached(f"This class has {DRAWINGS_PER_CLASS} digits: it is full.")
            d = Drawing(class_id=bc.id, label=label, pixels=img.tobytes(), session=sk)
            s.add(d)
            s.flush()
            _bump(bc)
            return d.id

    def session_counts(self, code: str, session_id: str) -> tuple[int, int]:
        """(runs, drawings) this session has put into the class."""
        sk = _session_key(session_id)
        with self._sessions() as s:
            bc = self._class(s, code)
            runs = s.scalar(select(func.count()).select_from(Entry)
                            .where(Entry.class_id == bc.id, Entry.session == sk))
            draws = s.scalar(select(func.count()).select_from(Drawing)
                             .where(Drawing.class_id == bc.id, Drawing.session == sk))
            return int(runs), int(draws)

    # ------------------------------------------------------------------ moderation
    def hide(self, code: str, token: str | None, entry_id: int, hidden: bool = True) -> None:
        with self._sessions.begin() as s:
            bc = self._teacher_class(s, code, token)
            e = s.get(Entry, int(entry_id))
            if e is None or e.class_id != bc.id:
                raise BoardError("no such entry in this class")
            e.hidden = bool(hidden)
            _bump(bc)

    def delete_entry(self, code: str, token: str | None, entry_id: int) -> None:
        with self._sessions.begin() as s:
            bc = self._teacher_class(s, code, token)
            e = s.get(Entry, int(entry_id))
            if e is None or e.class_id != bc.id:
                raise BoardError("no such entry in this class")
            for sc in s.scalars(select(EntryScore).where(EntryScore.entry_id == e.id)):
                s.delete(sc)
            s.delete(e)
            _bump(bc)

    def delete_drawing(self, code: str, token: str | None, drawing_id: int) -> None:
        with self._sessions.begin() as s:
            bc = self._teacher_class(s, code, token)
            d = s.get(Drawing, int(drawing_id))
            if d is None or d.class_id != bc.id:
                raise BoardError("no such drawing in this class")
            s.delete(d)
            _bump(bc)

    def close(self, code: str, token: str | None, closed: bool = True) -> None:
        """Close (or reopen) the class: closed, it accepts no runs and no digits."""
        with self._sessions.begin() as s:
            bc = self._teacher_class(s, code, token)
            bc.closed = bool(closed)
            _bump(bc)

    # ------------------------------------------------------------------ reading
    def model(self, entry_id: int) -> TrainedModel:
        """The stored model of an entry (ValueError if it does not load)."""
        with self._sessions() as s:
            e = s.get(Entry, int(entry_id))
            if e is None:
                raise BoardError("no such entry")
            return self._load_cached(e)

    def _load_cached(self, e: Entry) -> TrainedModel:
        """The entry's model, loaded once per process (``model_npz`` is a deferred column:
        it is read from the database only here, on a cache miss)."""
        key = (e.id, e.created_at)
        with self._lock:
            m = self._models.get(key)
            if m is not None:
                self._models.move_to_end(key)
                return m
        m = self._validated(e.model_npz)
        with self._lock:
            self._models[key] = m
            self._preds.pop(key, None)
            while len(self._models) > self.MODEL_CACHE:
                old, _ = self._models.popitem(last=False)
                self._preds.pop(old, None)
        return m

    def _class_predictions(self, e: Entry, m: TrainedModel, ids: np.ndarray,
                           images: np.ndarray) -> np.ndarray:
        """The model's answers on the class's digits, remembered per drawing: a new digit
        costs one prediction per run, a new run one pass over the digits."""
        key = (e.id, e.created_at)
        with self._lock:
            known = dict(self._preds.get(key, {}))
        todo = [i for i, d in enumerate(ids) if int(d) not in known]
        if todo:
            X = images[todo].reshape(len(todo), N_PIXELS).astype(np.float64)
            pred = np.asarray(m.classes)[np.argmax(m.predict_proba_pixels(X), axis=1)]
            known.update({int(ids[i]): int(p) for i, p in zip(todo, pred)})
            with self._lock:
                if key in self._models:  # only for models still cached
                    self._preds[key] = known
        return np.array([known[int(d)] for d in ids], dtype=np.int64)

    def snapshot(self, code: str, data: Any, *, include_hidden: bool = False) -> Snapshot:
        """The whole board of a class on ``data``: rows with scores computed from the model
        files (cached per data fingerprint), the class's digits and every run's accuracy
        and confusion matrix on them, notes on skipped entries, the challenge's best run."""
        fp = data_fingerprint(data)
        rows: list[EntryRow] = []
        notes: list[str] = []
        confusions: dict[int, np.ndarray] = {}
        new_scores: list[EntryScore] = []
        with self._sessions() as s:
            bc = self._class(s, code)
            info = self._info(bc)
            q = (select(Entry).options(defer(Entry.model_npz))
                 .where(Entry.class_id == bc.id).order_by(Entry.id))
            if not include_hidden:
                q = q.where(Entry.hidden.is_(False))
            entries = list(s.scalars(q))
            drawings = [d for d in s.scalars(select(Drawing).where(Drawing.class_id == bc.id)
                                             .order_by(Drawing.id))
                        if len(d.pixels) == N_PIXELS]  # a damaged row is left out
            cached = {sc.entry_id: sc for sc in s.scalars(
                select(EntryScore).where(EntryScore.data_fp == fp,
                                         EntryScore.entry_id.in_([e.id for e in entries])))}
            ids = np.array([d.id for d in drawings], dtype=np.int64)
            labels = np.array([d.label for d in drawings], dtype=np.int64)
            images = (np.stack([np.frombuffer(d.pixels, dtype=np.uint8) for d in drawings])
                      .reshape(-1, 28, 28) if drawings else np.zeros((0, 28, 28), np.uint8))
            for e in entries:
                try:
                    m = self._load_cached(e)
                except (ValueError, TypeError) as err:
                    notes.append(f"Entry #{e.id} ({clean_text(e.nickname, NICKNAME_MAX)}) "
                                 f"was skipped: its stored model does not load "
                                 f"({str(err)[:120]}).")
                    continue
                sc = cached.get(e.id)
                if sc is None:
                    r = _test_scores(m, data)
                    sc = EntryScore(entry_id=e.id, data_fp=fp,
                                    test_accuracy=r["test_accuracy"],
                                    test_size=r["test_size"], sparsity=r["sparsity"])
                    new_scores.append(sc)
                class_acc, correct = None, 0
                if len(labels):
                    pred = self._class_predictions(e, m, ids, images)
                    cm = np.zeros((10, 10), dtype=np.int64)
                    np.add.at(cm, (labels, pred), 1)
                    confusions[e.id] = cm
                    correct = int(np.trace(cm))
                    class_acc = correct / len(labels)
                rows.append(EntryRow(
                    id=e.id, nickname=e.nickname, penalty=e.penalty, C=e.C,
                    l1_ratio=e.l1_ratio, train_size=e.train_size, preprocess=e.preprocess,
                    test_accuracy=float(sc.test_accuracy), test_size=int(sc.test_size),
                    sparsity=float(sc.sparsity), hidden=bool(e.hidden),
                    created_at=e.created_at, class_accuracy=class_acc,
                    class_correct=correct))
        if new_scores:
            self._store_scores(new_scores)
        return Snapshot(info=info, rows=rows, notes=notes,
                        best_id=best_entry(rows, info.min_sparsity),
                        drawing_ids=ids, drawing_labels=labels, drawing_images=images,
                        confusions=confusions)

    def _store_scores(self, scores: list[EntryScore]) -> None:
        for sc in scores:  # one by one: another process may have stored some meanwhile
            try:
                with self._sessions.begin() as s:
                    s.add(EntryScore(entry_id=sc.entry_id, data_fp=sc.data_fp,
                                     test_accuracy=sc.test_accuracy, test_size=sc.test_size,
                                     sparsity=sc.sparsity))
            except IntegrityError:
                pass

    def export_csv(self, code: str, token: str | None, data: Any) -> str:
        """The class's runs (hidden ones too, marked) as CSV, for the teacher only."""
        with self._sessions() as s:
            self._teacher_class(s, code, token)
        snap = self.snapshot(code, data, include_hidden=True)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["id", "nickname", "penalty", "C", "l1_ratio", "train_size", "preprocess",
                    "test_accuracy", "test_size", "sparsity_percent", "class_digits_accuracy",
                    "class_digits", "hidden", "best_for_challenge", "published_utc"])
        n = len(snap.drawing_labels)
        for r in snap.rows:
            w.writerow([r.id, _csv_safe(r.nickname), r.penalty, "" if r.C is None else r.C,
                        "" if r.l1_ratio is None else r.l1_ratio, r.train_size, r.preprocess,
                        f"{r.test_accuracy:.4f}", r.test_size, f"{r.sparsity:.2f}",
                        "" if r.class_accuracy is None else f"{r.class_accuracy:.4f}", n,
                        int(r.hidden), int(r.id == snap.best_id),
                        r.created_at.strftime("%Y-%m-%d %H:%M:%S")])
        for note in snap.notes:
            w.writerow(["", _csv_safe(note)])
        return buf.getvalue()


def _bump(bc: BoardClass) -> None:
    """Count a change of the class, in its transaction. ``version = version + 1`` in SQL,
    not a value computed here: two app processes changing the class at once must give two
    increments, or a viewer could keep a board that misses one of the changes."""
    bc.version = BoardClass.version + 1


def _csv_safe(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: quote it as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_FINGERPRINTS: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def data_fingerprint(data: Any) -> str:
    """A short hash telling two data sets apart (sizes, every label, a strided sample of
    the pixels), the key of the cached scores; computed once per data object."""
    try:
        return _FINGERPRINTS[data]
    except (KeyError, TypeError):
        pass
    h = hashlib.blake2b(digest_size=12)
    for arr in (data.y_train, data.y_test, data.X_train.ravel()[::997],
                data.X_test.ravel()[::997]):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(f"{len(data.y_train)},{len(data.y_test)}".encode())
    fp = h.hexdigest()
    try:
        _FINGERPRINTS[data] = fp
    except TypeError:  # not weak-referenceable: simply not remembered
        pass
    return fp


def _test_scores(model: TrainedModel, data: Any) -> dict[str, Any]:
    """Test accuracy on every test digit of ``data`` and the share of zero weights, computed
    from the model itself (one test set for all runs, so they compare)."""
    X, y = data.X_test, data.y_test
    pred = np.empty(len(y), dtype=np.int64)
    classes = np.asarray(model.classes)
    for lo in range(0, len(y), 2048):  # 2,048 x 784 float64 features at a time
        p = model.predict_proba_pixels(X[lo:lo + 2048])
        pred[lo:lo + 2048] = classes[np.argmax(p, axis=1)]
    acc = float(np.mean(pred == np.asarray(y))) if len(y) else math.nan
    return {"test_accuracy": acc, "test_size": int(len(y)),
            "sparsity": zero_share(model.coef_), "data_fp": data_fingerprint(data)}


def join_query(info: ClassInfo, teacher_token: str | None = None) -> dict[str, str]:
    """Query parameters of a join link (``/board?class=CODE`` + the class's Train settings)
    or, with the token, of the teacher link."""
    q: dict[str, str] = {"class": info.code}
    if teacher_token:
        q["t"] = teacher_token
    q.update(dict(parse_qsl(info.settings_query)))
    return q


def settings_params(query: str | Mapping[str, str]) -> dict[str, str]:
    """The Train settings of a link (names of lrcore.config.QUERY_FIELDS only)."""
    items = parse_qsl(query) if isinstance(query, str) else list(query.items())
    return {k: str(v) for k, v in items if k in QUERY_FIELDS}
