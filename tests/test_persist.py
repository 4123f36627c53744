"""Tests for lrcore.persist: exact round trips, and every bad file refused without running it."""
from __future__ import annotations

import ast
import io
import json
import pickle  # only to *write* hostile files; nothing here or in lrcore unpickles
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import lrcore
from lrcore import persist
from lrcore.config import TrainConfig
from lrcore.persist import FORMAT_VERSION, ModelFile, load_model, save_model


def model_to_bytes(**kwargs) -> bytes:
    """The bytes save_model writes (the model file a download offers)."""
    buf = io.BytesIO()
    save_model(buf, **kwargs)
    return buf.getvalue()


def make_kwargs(n_classes: int = 10, n_features: int = 784, n_rows: int | None = None,
                seed: int = 0) -> dict:
    """Keyword arguments of save_model for a plausible trained model."""
    rng = np.random.default_rng(seed)
    rows = n_classes if n_rows is None else n_rows
    coef = rng.normal(size=(rows, n_features))
    coef[:, ::7] = 0.0
    config = TrainConfig(penalty=None, preprocess="standardize", train_size=500)
    return dict(
        coef=coef,
        intercept=rng.normal(size=rows),
        classes=np.arange(n_classes),
        model_params=config.model_params(),  # C = inf: needs JSON's Infinity
        preprocess_mode="standardize",
        preprocess_state={
            "n_samples": np.array(500, dtype=np.int64),
            "mean": rng.uniform(0, 255, size=n_features),
            "scale": rng.uniform(1, 100, size=n_features),
        },
        config=config.to_dict(),
        metrics={"accuracy": 0.9123456789012345, "roc_auc": None, "n": 3},
        extra_arrays={
            "history_loss": rng.normal(size=17).astype(np.float32),
            "history_iter": np.arange(17, dtype=np.int32),
            "mask": rng.normal(size=(2, 3)) > 0,
        },
        extra_meta={"note": "Zürich ✓", "nested": {"a": [1, 2.5, None], "b": True}},
    )


def assert_same(loaded: ModelFile, kwargs: dict) -> None:
    """Bitwise-equal arrays with the same dtypes, and equal dicts."""
    def same(a, b):
        b = np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()

    same(loaded.coef, np.asarray(kwargs["coef"], dtype=np.float64))
    same(loaded.intercept, np.asarray(kwargs["intercept"], dtype=np.float64))
    same(loaded.classes, np.asarray(kwargs["classes"], dtype=np.int64))
    for name in ("preprocess_state", "extra_arrays"):
        got, want = getattr(loaded, name), kwargs.get(name) or {}
        assert list(got) == list(want)
        for key in want:
            same(got[key], want[key])
    assert loaded.model_params == kwargs["model_params"]
    assert loaded.preprocess_mode == kwargs["preprocess_mode"]
    assert loaded.config == kwargs.get("config")
    assert loaded.metrics == kwargs.get("metrics")
    assert loaded.extra_meta == (kwargs.get("extra_meta") or {})


# ----------------------------------------------------------------------------- round trip


def test_round_trip_path(tmp_path):
    kwargs = make_kwargs()
    path = tmp_path / "model.npz"
    save_model(path, **kwargs)
    loaded = load_model(path)
    assert_same(loaded, kwargs)
    assert loaded.model_params["C"] == float("inf")
    assert loaded.n_features == 784 and loaded.n_classes == 10
    assert loaded.format_version == FORMAT_VERSION
    assert loaded.versions == {
        "numpy": np.__version__,
        "scipy": loaded.versions["scipy"],
        "sklearn": loaded.versions["sklearn"],
        "lrcore": lrcore.__version__,
        "python": loaded.versions["python"],
    }
    assert all(isinstance(v, str) and v for v in loaded.versions.values())
    assert datetime.fromisoformat(loaded.created_at).tzinfo is not None
    assert TrainConfig.from_dict(loaded.config) == TrainConfig.from_dict(kwargs["config"])
    assert load_model(str(path)).coef.tobytes() == loaded.coef.tobytes()


def test_round_trip_bytesio_and_bytes():
    kwargs = make_kwargs()
    buf = io.BytesIO()
    save_model(buf, **kwargs)
    buf.seek(0)
    assert_same(load_model(buf), kwargs)
    data = model_to_bytes(**kwargs)
    assert isinstance(data, bytes)
    assert_same(load_model(data), kwargs)
    assert_same(load_model(bytearray(data)), kwargs)
    assert_same(load_model(io.BytesIO(data)), kwargs)


def test_path_is_written_as_given(tmp_path):
    # np.savez_compressed would have written "model.bin.npz".
    path = tmp_path / "model.bin"
    save_model(path, **make_kwargs())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    load_model(path)


@pytest.mark.parametrize("n_rows", [1, 2])
def test_round_trip_binary(n_rows):
    kwargs = make_kwargs(n_classes=2, n_rows=n_rows)
    kwargs["classes"] = np.array([3, 8])
    loaded = load_model(model_to_bytes(**kwargs))
    assert_same(loaded, kwargs)
    assert loaded.coef.shape == (n_rows, 784)


def test_optional_parts_and_float32_coef():
    kwargs = make_kwargs()
    kwargs["coef"] = kwargs["coef"].astype(np.float32)
    for name in ("config", "metrics", "extra_arrays", "extra_meta"):
        kwargs[name] = None
    kwargs["preprocess_mode"], kwargs["preprocess_state"] = "unit", {}
    loaded = load_model(model_to_bytes(**kwargs))
    assert loaded.coef.dtype == np.float64
    np.testing.assert_array_equal(loaded.coef, kwargs["coef"])  # float32 -> 64 is exact
    assert loaded.config is None and loaded.metrics is None
    assert loaded.extra_arrays == {} and loaded.extra_meta == {}
    assert loaded.preprocess_state == {}


def test_numpy_scalars_in_metadata_are_plain_json():
    kwargs = make_kwargs()
    kwargs["metrics"] = {"accuracy": np.float32(0.5), "n": np.int64(3)}
    loaded = load_model(model_to_bytes(**kwargs))
    assert loaded.metrics == {"accuracy": 0.5, "n": 3}
    assert type(loaded.metrics["n"]) is int


def test_file_holds_only_numeric_arrays_and_json():
    data = model_to_bytes(**make_kwargs())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
    assert names == sorted([
        "coef.npy", "intercept.npy", "classes.npy", "meta_json.npy",
        "preprocess/n_samples.npy", "preprocess/mean.npy", "preprocess/scale.npy",
        "extra/history_loss.npy", "extra/history_iter.npy", "extra/mask.npy",
    ])
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        for key in npz.files:
            assert npz[key].dtype.kind in "biuf", key
        meta = json.loads(npz["meta_json"].tobytes().decode("utf-8"))
    assert meta["format"] == "lrcore-model" and meta["format_version"] == 1
    assert set(meta["versions"]) == {"numpy", "scipy", "sklearn", "lrcore", "python"}


def test_persist_never_unpickles():
    source = Path(persist.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert not imported & {"pickle", "joblib", "dill", "cloudpickle", "shelve", "marshal"}
    assert "allow_pickle=True" not in source and "allow_pickle=False" in source


# --------------------------------------------------------------------------- hostile files


class Hostile:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL, 2])
def test_pickle_file_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(Hostile(marker), protocol=protocol))
    with pytest.raises(ValueError, match="this is a pickle file; model files are .npz and "
                       "pickles are refused because they can run code"):
        load_model(path)
    assert not marker.exists()


def test_old_protocol_pickle_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps(Hostile(marker), protocol=0)
    with pytest.raises(ValueError, match="not a model file"):
        load_model(data)
    assert not marker.exists()


def test_object_array_inside_npz_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    good = _arrays(model_to_bytes(**make_kwargs()))
    hostile = np.empty(1, dtype=object)
    hostile[0] = Hostile(marker)
    buf = io.BytesIO()
    np.savez(buf, **good, **{"extra/evil": hostile})  # numpy pickles object arrays on save
    with pytest.raises(ValueError, match="pickled .*refused because it can run code"):
        load_model(buf.getvalue())
    assert not marker.exists()


def _arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(arrays: dict[str, np.ndarray], meta: dict | None = None) -> bytes:
    arrays = dict(arrays)
    if meta is not None:
        arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _meta(arrays: dict[str, np.ndarray]) -> dict:
    return json.loads(arrays["meta_json"].tobytes().decode("utf-8"))


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, fraction):
    data = model_to_bytes(**make_kwargs())
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(path)


def test_tiny_zip_prefix():
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(b"PK\x03\x04garbage")


def test_corrupted_compressed_data():
    data = bytearray(model_to_bytes(**make_kwargs()))
    middle = len(data) // 3
    data[middle:middle + 64] = bytes(64)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(bytes(data))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_model(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the weights you are looking for\n")
    with pytest.raises(ValueError, match="not a model file.*not a zip archive"):
        load_model(path)


def test_npy_file():
    buf = io.BytesIO()
    np.save(buf, np.zeros((10, 784)))
    with pytest.raises(ValueError, match="single .npy array"):
        load_model(buf.getvalue())


def test_zip_that_is_not_an_npz():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("coef.npy", "hello")
    with pytest.raises(ValueError, match="not a numpy array"):
        load_model(buf.getvalue())


def test_other_npz():
    buf = io.BytesIO()
    np.savez(buf, weights=np.zeros(3))
    with pytest.raises(ValueError, match="missing coef, intercept, classes, meta_json"):
        load_model(buf.getvalue())


def test_directory_and_wrong_type(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="expected a path, bytes"):
        load_model(3.5)


def test_decompression_limit(monkeypatch):
    data = model_to_bytes(**make_kwargs())
    monkeypatch.setattr(persist, "MAX_UNCOMPRESSED_BYTES", 1000)
    with pytest.raises(ValueError, match="over the .* limit"):
        load_model(data)


# ------------------------------------------------------------------- tampered valid files


@pytest.fixture
def good() -> dict[str, np.ndarray]:
    return _arrays(model_to_bytes(**make_kwargs()))


@pytest.mark.parametrize("key", ["coef", "intercept", "classes", "meta_json"])
def test_missing_core_key(good, key):
    del good[key]
    with pytest.raises(ValueError, match=f"missing {key}"):
        load_model(_rewrite(good))


def test_missing_and_unexpected_arrays(good):
    arrays = dict(good)
    del arrays["preprocess/mean"]
    with pytest.raises(ValueError, match="missing arrays: preprocess/mean"):
        load_model(_rewrite(arrays))
    arrays = dict(good, surprise=np.zeros(2))
    with pytest.raises(ValueError, match="unexpected entries: surprise"):
        load_model(_rewrite(arrays))


@pytest.mark.parametrize("field", ["versions", "model_params", "created_at"])
def test_missing_meta_field(good, field):
    meta = _meta(good)
    del meta[field]
    with pytest.raises(ValueError, match=f"metadata is missing: {field}"):
        load_model(_rewrite(good, meta))


def test_newer_format_version(good):
    meta = dict(_meta(good), format_version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="format version 2, newer than this lrcore"):
        load_model(_rewrite(good, meta))


@pytest.mark.parametrize("version", [0, "1", 1.5, True, None])
def test_invalid_format_version(good, version):
    meta = dict(_meta(good), format_version=version)
    with pytest.raises(ValueError, match="invalid format_version"):
        load_model(_rewrite(good, meta))


def test_wrong_format_name(good):
    meta = dict(_meta(good), format="someone-elses-model")
    with pytest.raises(ValueError, match="not an lrcore model file"):
        load_model(_rewrite(good, meta))


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]"])
def test_bad_json(good, raw):
    arrays = dict(good, meta_json=np.frombuffer(raw, dtype=np.uint8))
    with pytest.raises(ValueError, match="metadata"):
        load_model(_rewrite(arrays))


def test_meta_json_wrong_dtype(good):
    arrays = dict(good, meta_json=np.zeros(5))
    with pytest.raises(ValueError, match="meta_json must be a 1-D uint8 array"):
        load_model(_rewrite(arrays))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(coef=np.zeros((9, 784))), "coef has 9 rows but there are 10 classes"),
        (dict(coef=np.zeros(784)), "coef must be 2-D"),
        (dict(intercept=np.zeros(9)), r"intercept must have shape \(10,\)"),
        (dict(coef=np.zeros((10, 783))), "coef has 783 features but this app's models take 784"),
        (dict(classes=np.arange(10)[::-1].copy()), "unique and increasing"),
        (dict(classes=np.array([0])), "at least 2 labels"),
        (dict(coef=np.zeros((10, 784), dtype=np.float32)), "coef must have dtype float64"),
        (dict(classes=np.arange(10, dtype=np.int32)), "classes must have dtype int64"),
        (dict(coef=np.full((10, 784), np.nan)), "coef contains NaN"),
        (dict(intercept=np.full(10, np.inf)), "intercept contains NaN or infinite"),
        ({"preprocess/scale": np.full(784, np.nan)}, r"preprocess_state\['scale'\] contains NaN"),
        ({"preprocess/mean": np.zeros(100)}, r"preprocess_state\['mean'\] has shape \(100,\)"),
    ],
)
def test_tampered_arrays(good, change, message):
    with pytest.raises(ValueError, match=message):
        load_model(_rewrite(dict(good, **change)))


def test_three_class_model_with_one_row(good):
    arrays = dict(good, classes=np.arange(3), coef=np.zeros((1, 784)), intercept=np.zeros(1))
    with pytest.raises(ValueError, match="coef has 1 rows but there are 3 classes; expected 3"):
        load_model(_rewrite(arrays))


def test_nan_coef_in_one_entry(good):
    coef = good["coef"].copy()
    coef[3, 100] = np.nan
    with pytest.raises(ValueError, match="coef contains NaN"):
        load_model(_rewrite(dict(good, coef=coef)))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(preprocess_mode="sharpen"), "preprocess_mode must be one of"),
        (dict(config={"C": -1}), "config is not a valid training config: C must be greater"),
        (dict(model_params=[1, 2]), "model_params must be a dict"),
        (dict(preprocess_state_keys=["../x"]), "preprocess_state names must be"),
    ],
)
def test_tampered_meta(good, change, message):
    meta = dict(_meta(good), **change)
    with pytest.raises(ValueError, match=message):
        load_model(_rewrite(good, meta))


def test_feature_count_check_can_be_relaxed():
    kwargs = make_kwargs(n_features=64)
    data = model_to_bytes(**kwargs)
    with pytest.raises(ValueError, match="coef has 64 features but this app's models take 784"):
        load_model(data)
    assert_same(load_model(data, n_features=None), kwargs)
    assert load_model(data, n_features=64).n_features == 64


# ----------------------------------------------------------------------- refused on save


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(coef=np.zeros((9, 784))), "coef has 9 rows but there are 10 classes"),
        (dict(intercept=np.zeros(3)), "intercept must have shape"),
        (dict(coef=np.full((10, 784), np.nan)), "coef contains NaN"),
        (dict(classes=np.array(["a", "b"])), "classes must be a numeric array"),
        (dict(classes=np.linspace(0, 9, 10)), "classes must be integers"),
        (dict(preprocess_mode="sharpen"), "preprocess_mode must be one of"),
        (dict(config=TrainConfig().to_dict() | {"C": 0}), "config is not a valid training"),
        (dict(model_params={"C": {1, 2}}), "not JSON-serializable"),
        (dict(metrics={"curve": np.zeros(3)}), "use extra_arrays"),
        (dict(extra_arrays={"names": np.array(["x", "y"])}), "must be a numeric array"),
        (dict(extra_arrays={"obj": np.array([None, 1], dtype=object)}), "numeric array"),
        (dict(extra_arrays={"../escape": np.zeros(2)}), "extra_arrays names must be"),
        (dict(preprocess_state={"mean": np.zeros(5)}), r"has shape \(5,\)"),
        (dict(extra_meta="note"), "extra_meta must be a dict"),
    ],
)
def test_save_refuses_bad_input(tmp_path, change, message):
    kwargs = dict(make_kwargs(), **change)
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match=message):
        save_model(path, **kwargs)
    assert not any(tmp_path.iterdir())  # nothing half-written left behind
