"""Tests for lrcore.data: IDX parsing and its failure messages, the OpenML path (faked, and
through a fake on-disk scikit-learn cache), the bundled sample, the real MNIST, subsets."""
from __future__ import annotations

import gzip
import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import sklearn.datasets
from sklearn.utils import Bunch

from lrcore import data as data_mod
from lrcore.data import (
    SAMPLE_SOURCE,
    MnistData,
    MnistDataError,
    OpenMLUnavailableError,
    load_mnist,
    openml_cached,
    read_idx,
    select_subset,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# ----------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, *, dtype_byte: int = 0x08) -> bytes:
    """Serialize an array as an IDX file: 0, 0, dtype, ndim, big-endian dims, payload."""
    header = bytes([0, 0, dtype_byte, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    payload = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def make_idx_folder(folder: Path, *, n_train=30, n_test=12, gz=False, dotted=False, seed=0):
    """Write four small valid IDX files; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / (name.replace("-idx", ".idx") if dotted else name), array, gz=gz)
    return arrays


def small_data(n_train=300, n_test=50, seed=0) -> MnistData:
    rng = np.random.default_rng(seed)
    return MnistData(
        X_train=rng.integers(0, 256, (n_train, 784), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train),
        X_test=rng.integers(0, 256, (n_test, 784), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test),
        source="synthetic",
        kind="idx",
    )


def write_fake_openml_cache(data_home: Path, X: np.ndarray, y: np.ndarray) -> Path:
    """Lay out what fetch_openml("mnist_784", version=1) caches, for a few fake rows."""
    root = data_home / "openml" / "openml.org"
    did, file_id = 554, 52667
    lines = ["@RELATION mnist_784", ""]
    lines += [f"@ATTRIBUTE pixel{i + 1} NUMERIC" for i in range(784)]
    lines += ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "", "@DATA"]
    lines += [",".join(map(str, r)) + f",{c}" for r, c in zip(X.tolist(), y.tolist())]
    arff = ("\n".join(lines) + "\n").encode()

    def put(rel: str, content) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        path.write_bytes(gzip.compress(raw))

    put(
        "api/v1/json/data/list/data_name/mnist_784/limit/2/data_version/1.gz",
        {"data": {"dataset": [{"did": did, "name": "mnist_784", "version": 1,
                               "status": "active", "format": "ARFF"}]}},
    )
    put(f"api/v1/json/data/{did}.gz", {"data_set_description": {
        "id": str(did), "name": "mnist_784", "version": "1", "format": "ARFF",
        "status": "active", "file_id": str(file_id), "description": "fake",
        "url": f"https://api.openml.org/data/v1/download/{file_id}/mnist_784.arff",
        "default_target_attribute": "class", "md5_checksum": hashlib.md5(arff).hexdigest(),
    }})
    common = {"is_ignore": "false", "is_row_identifier": "false",
              "number_of_missing_values": "0"}
    features = [{"index": str(i), "name": f"pixel{i + 1}", "data_type": "numeric",
                 "is_target": "false", **common} for i in range(784)]
    features.append({"index": "784", "name": "class", "data_type": "nominal",
                     "nominal_value": [str(c) for c in range(10)], "is_target": "true",
                     **common})
    put(f"api/v1/json/data/features/{did}.gz", {"data_features": {"feature": features}})
    put(f"api/v1/json/data/qualities/{did}.gz", {"data_qualities": {"quality": [
        {"name": "NumberOfInstances", "value": f"{len(y)}.0"},
        {"name": "NumberOfFeatures", "value": "785.0"},
    ]}})
    put(f"data/v1/download/{file_id}/mnist_784.arff.gz", arff)
    return root


@pytest.fixture
def no_network(monkeypatch):
    """Make every OpenML request fail at once, as on a machine without network."""
    import sklearn.datasets._openml as openml_impl

    def refuse(*args, **kwargs):
        raise URLError("network disabled by the test")

    monkeypatch.setattr(openml_impl, "urlopen", refuse)


@pytest.fixture(scope="module")
def sample() -> MnistData:
    return load_mnist("sample")


def fake_openml_bunch() -> Bunch:
    """70,000 rows shaped like fetch_openml's answer; pixel 0 encodes the row number."""
    X = np.zeros((70_000, 784), dtype=np.uint8)
    X[:, 0] = np.arange(70_000) % 251
    X[:, 1] = np.arange(70_000) // 251 % 256
    y = (np.arange(70_000) % 10).astype(str).astype(object)
    return Bunch(data=X, target=y)


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dotted", [False, True], ids=["dash", "dot"])
def test_idx_round_trip(tmp_path, gz, dotted):
    arrays = make_idx_folder(tmp_path, gz=gz, dotted=dotted)
    data = load_mnist("idx", tmp_path)
    assert data.kind == "idx"
    assert data.source == "MNIST, 42 digits from IDX files"
    assert data.location == str(tmp_path) and str(tmp_path) not in data.source
    assert (data.n_train, data.n_test, data.is_full) == (30, 12, False)
    assert data.X_train.shape == (30, 784) and data.X_test.shape == (12, 784)
    for X in (data.X_train, data.X_test):
        assert X.dtype == np.uint8 and not X.flags.writeable
    for y in (data.y_train, data.y_test):
        assert y.dtype == np.int64 and not y.flags.writeable
    np.testing.assert_array_equal(
        data.X_train, arrays["train-images-idx3-ubyte"].reshape(30, 784)
    )
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(data.X_test, arrays["t10k-images-idx3-ubyte"].reshape(12, 784))
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_read_idx_shapes_and_gzip_detected_by_content(tmp_path):
    images = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "img", images)
    # gzip content under a name without .gz is still recognised
    (tmp_path / "lab").write_bytes(gzip.compress(idx_bytes(np.array([3, 7], np.uint8))))
    out = read_idx(tmp_path / "img")
    assert out.shape == (2, 28, 28) and out.dtype == np.uint8 and not out.flags.writeable
    np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lab", ndim=1), [3, 7])


def _corrupt(kind: str) -> bytes:
    images = np.zeros((3, 28, 28), np.uint8)
    good = idx_bytes(images)
    if kind == "bad magic":
        return b"\x12\x34" + good[2:]
    if kind == "bad dtype":
        return idx_bytes(images, dtype_byte=0x0D)
    if kind == "bad ndim":
        return idx_bytes(images.reshape(3, 28, 28, 1))
    if kind == "truncated payload":
        return good[:-5]
    if kind == "extra bytes":
        return good + b"\x00\x00"
    if kind == "wrong dims":
        return idx_bytes(np.zeros((3, 13, 13), np.uint8))
    if kind == "empty":
        return b""
    if kind == "truncated header":
        return good[:9]
    if kind == "labels not images":
        return idx_bytes(np.zeros(3, np.uint8))
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind, words",
    [
        ("bad magic", "not an IDX file"),
        ("bad dtype", "data type 0x0D"),
        ("bad ndim", "4 dimensions"),
        ("truncated payload", "truncated"),
        ("extra bytes", "unexpected bytes"),
        ("wrong dims", "13x13"),
        ("empty", "too short"),
        ("truncated header", "truncated inside the header"),
        ("labels not images", "expected an image file"),
    ],
)
def test_corrupt_images_file_named_in_error(tmp_path, kind, words):
    make_idx_folder(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_corrupt(kind))
    with pytest.raises(ValueError, match=words) as info:
        load_mnist("idx", tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value)
    assert isinstance(info.value, MnistDataError)


@pytest.mark.parametrize("damage", ["garbage", "cut short", "bad crc"])
def test_bad_gzip(tmp_path, damage):
    make_idx_folder(tmp_path, gz=True)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    blob = path.read_bytes()
    if damage == "garbage":
        blob = b"this is not gzip at all"
    elif damage == "cut short":
        blob = blob[: len(blob) // 2]
    else:  # flip a byte of the stored CRC-32 (8 bytes from the end)
        blob = blob[:-8] + bytes([blob[-8] ^ 0xFF]) + blob[-7:]
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: not a valid gzip"):
        load_mnist("idx", tmp_path)


def test_image_label_count_mismatch(tmp_path):
    make_idx_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(29, np.uint8))
    with pytest.raises(ValueError, match="30 images but train-labels-idx1-ubyte holds 29"):
        load_mnist("idx", tmp_path)


def test_labels_above_nine(tmp_path):
    make_idx_folder(tmp_path)
    labels = np.zeros(12, np.uint8)
    labels[5] = 10
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    message = r"t10k-labels-idx1-ubyte: labels must be 0-9; label 10 at position 5"
    with pytest.raises(ValueError, match=message):
        load_mnist("idx", tmp_path)


def test_missing_files_listed(tmp_path):
    make_idx_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(ValueError) as info:
        load_mnist("idx", tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and "t10k-images-idx3-ubyte" in message
    assert "train-images" not in message and "t10k-labels" not in message


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(ValueError, match="MNIST folder not found"):
        load_mnist("idx", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="nope.*file not found"):
        read_idx(tmp_path / "nope")


def test_idx_without_path_uses_env_or_explains(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(ValueError, match="pass path or set MNIST_DIR"):
        load_mnist("idx")
    make_idx_folder(tmp_path)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert load_mnist("idx").n_train == 30


@pytest.mark.parametrize("source", ["mnist", "IDX", "", None])
def test_unknown_source(source):
    with pytest.raises(ValueError, match="source must be one of auto, idx, openml, sample"):
        load_mnist(source)


@pytest.mark.parametrize("timeout", [0, -1, "10", True])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError, match="timeout"):
        load_mnist("sample", timeout=timeout)


# ----------------------------------------------------------------------------- OpenML


def test_openml_split_and_source(monkeypatch, tmp_path):
    calls = []

    def fake_fetch(name, **kwargs):
        calls.append((name, kwargs, socket.getdefaulttimeout()))
        return fake_openml_bunch()

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fake_fetch)
    before = socket.getdefaulttimeout()
    data = load_mnist("openml", data_home=tmp_path, timeout=3.5)
    assert socket.getdefaulttimeout() == before  # restored

    (name, kwargs, timeout_during), = calls
    assert name == "mnist_784" and timeout_during == 3.5
    assert kwargs["version"] == 1 and kwargs["as_frame"] is False
    assert kwargs["parser"] == "liac-arff" and kwargs["data_home"] == tmp_path

    assert data.kind == "openml" and data.source == "OpenML mnist_784 (downloaded)"
    assert data.is_full and data.notes == ()
    rows = np.arange(70_000)
    np.testing.assert_array_equal(data.X_train[:, 0], rows[:60_000] % 251)
    np.testing.assert_array_equal(data.X_test[:, 0], rows[60_000:] % 251)
    np.testing.assert_array_equal(data.X_test[:, 1], rows[60_000:] // 251 % 256)
    np.testing.assert_array_equal(data.y_train, rows[:60_000] % 10)
    np.testing.assert_array_equal(data.y_test, rows[60_000:] % 10)
    assert data.X_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert not data.X_train.flags.writeable and not data.y_test.flags.writeable


@pytest.mark.parametrize(
    "error, reason",
    [
        (URLError("[Errno -2] Name or service not known"), "Name or service not known"),
        (TimeoutError("timed out"), "TimeoutError: timed out"),
        (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
    ],
)
def test_openml_network_failure_is_clear(monkeypatch, tmp_path, error, reason):
    def failing_fetch(name, **kwargs):
        raise error

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", failing_fetch)
    before = socket.getdefaulttimeout()
    with pytest.raises(ConnectionError, match="could not download MNIST from OpenML") as info:
        load_mnist("openml", data_home=tmp_path)
    assert isinstance(info.value, OpenMLUnavailableError)
    assert reason in str(info.value)
    assert socket.getdefaulttimeout() == before


def test_openml_bad_data(monkeypatch, tmp_path):
    monkeypatch.setattr(
        sklearn.datasets, "fetch_openml",
        lambda name, **kw: Bunch(data=np.zeros((10, 784)), target=np.zeros(10).astype(str)),
    )
    with pytest.raises(ValueError, match=r"shape \(10, 784\)"):
        load_mnist("openml", data_home=tmp_path)


def test_openml_non_integer_pixels_and_bad_labels(monkeypatch, tmp_path):
    monkeypatch.setattr(data_mod, "FULL_TRAIN", 8)
    monkeypatch.setattr(data_mod, "FULL_TEST", 2)
    X = np.zeros((10, 784))
    X[3, 5] = 0.5
    y = np.array(list("0123456789"), dtype=object)
    monkeypatch.setattr(
        sklearn.datasets, "fetch_openml", lambda name, **kw: Bunch(data=X, target=y)
    )
    with pytest.raises(MnistDataError, match="not whole numbers"):
        load_mnist("openml", data_home=tmp_path)
    X[3, 5] = 0
    y[4] = "x"
    with pytest.raises(MnistDataError, match="labels are not digits"):
        load_mnist("openml", data_home=tmp_path)


def test_auto_falls_back_to_the_real_sample(monkeypatch, tmp_path):
    def failing_fetch(name, **kwargs):
        raise URLError(OSError("[Errno -3] Temporary failure in name resolution"))

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", failing_fetch)
    data = load_mnist("auto", data_home=tmp_path)
    assert data.kind == "sample"
    assert data.source == SAMPLE_SOURCE
    # The visitor reads a plain explanation; the technical reason is for the operator.
    assert data.location == "OpenML unreachable: [Errno -3] Temporary failure in name resolution"
    (note,) = data.notes
    assert "Errno" not in note and "bundled sample" in note
    assert "come from MNIST's training set" in note and "MNIST_DIR" in note
    assert (data.n_train, data.n_test) == (4000, 1000)


def test_auto_falls_back_when_openml_data_unusable(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(
        sklearn.datasets, "fetch_openml",
        lambda name, **kw: Bunch(data=np.zeros((5, 784)), target=np.zeros(5).astype(str)),
    )
    data = load_mnist(data_home=tmp_path)
    assert data.kind == "sample" and "OpenML data unusable" in data.location


def test_auto_without_network_for_real(monkeypatch, tmp_path, no_network):
    """The whole chain with the real fetch_openml: empty cache, refused download, sample."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.warns(UserWarning, match="Retrying"):  # scikit-learn's own retry notice
        data = load_mnist(data_home=tmp_path)
    assert data.kind == "sample"
    assert data.source == SAMPLE_SOURCE
    assert data.location == "OpenML unreachable: network disabled by the test"


def test_auto_prefers_mnist_dir(monkeypatch, tmp_path):
    def must_not_fetch(name, **kwargs):
        raise AssertionError("auto must not go to OpenML when MNIST_DIR is set")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", must_not_fetch)
    make_idx_folder(tmp_path / "mnist", gz=True)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "mnist"))
    data = load_mnist()
    assert data.kind == "idx" and data.n_train == 30
    # a broken MNIST_DIR is a configuration error, not a reason to silently fall back
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="MNIST folder not found"):
        load_mnist()


def test_openml_cached_detects_the_cache(tmp_path):
    assert openml_cached(tmp_path) is False
    X = np.zeros((4, 784), np.uint8)
    root = write_fake_openml_cache(tmp_path, X, np.arange(4))
    assert openml_cached(tmp_path) is True
    (root / "api/v1/json/data/qualities/554.gz").unlink()
    assert openml_cached(tmp_path) is False
    write_fake_openml_cache(tmp_path, X, np.arange(4))
    (root / "data/v1/download/52667/mnist_784.arff.gz").unlink()
    assert openml_cached(tmp_path) is False
    (root / "api/v1/json/data/554.gz").write_bytes(b"not gzip")
    assert openml_cached(tmp_path) is False


@pytest.mark.filterwarnings("error")  # an "Invalid cache, redownloading" warning would fail
def test_openml_loads_from_a_fake_cache_offline(monkeypatch, tmp_path, no_network):
    """The real fetch_openml and ARFF parser on a tiny cache: proves the parser choice works
    with the installed scikit-learn and pandas, with no network."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(data_mod, "FULL_TRAIN", 15)
    monkeypatch.setattr(data_mod, "FULL_TEST", 5)
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (20, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 20)
    write_fake_openml_cache(tmp_path, X, y)
    for source in ("openml", "auto"):
        data = load_mnist(source, data_home=tmp_path)
        assert data.kind == "openml" and data.source == "OpenML mnist_784 (cached)"
        np.testing.assert_array_equal(data.X_train, X[:15])
        np.testing.assert_array_equal(data.X_test, X[15:])
        np.testing.assert_array_equal(data.y_train, y[:15])
        np.testing.assert_array_equal(data.y_test, y[15:])


# ----------------------------------------------------------------------------- sample


def test_sample_split(sample):
    assert sample.kind == "sample" and sample.source == SAMPLE_SOURCE
    assert (sample.n_train, sample.n_test, sample.is_full) == (4000, 1000, False)
    assert sample.X_train.shape == (4000, 784) and sample.X_test.shape == (1000, 784)
    assert sample.X_train.dtype == np.uint8 and sample.y_train.dtype == np.int64
    assert not sample.X_train.flags.writeable and not sample.y_test.flags.writeable
    np.testing.assert_array_equal(np.bincount(sample.y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(sample.y_test), [100] * 10)
    assert sample.X_train.max() == 255 and sample.X_train.min() == 0
    # no digit image is in both splits
    train_rows = {row.tobytes() for row in sample.X_train}
    assert not any(row.tobytes() in train_rows for row in sample.X_test)


def test_sample_is_deterministic(sample):
    again = load_mnist("sample")
    np.testing.assert_array_equal(again.X_train, sample.X_train)
    np.testing.assert_array_equal(again.y_test, sample.y_test)


def test_sample_does_not_import_matplotlib():
    code = (
        "import sys, lrcore.data as d\n"
        "assert 'streamlit' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "d.load_mnist('sample')\n"
        "assert 'matplotlib' not in sys.modules, 'loading the sample imported matplotlib'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_sample_comes_from_mnist_train(sample, mnist):
    """The finding documented in lrcore/data.py: the sample is the first 500 of each digit
    of MNIST's training set, so its 400/100 split is the first 400 / next 100."""
    for digit in range(10):
        genuine = mnist.X_train[mnist.y_train == digit][:500]
        np.testing.assert_array_equal(sample.X_train[sample.y_train == digit], genuine[:400])
        np.testing.assert_array_equal(sample.X_test[sample.y_test == digit], genuine[400:])


# ----------------------------------------------------------------------------- real MNIST


def test_real_mnist(mnist):
    assert mnist.kind == "idx" and mnist.source == "MNIST, 70,000 digits from IDX files"
    assert mnist.is_full
    assert mnist.X_train.shape == (60_000, 784) and mnist.X_test.shape == (10_000, 784)
    assert mnist.X_train.dtype == np.uint8 and mnist.y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(mnist.y_train), MNIST_TRAIN_COUNTS)
    assert np.bincount(mnist.y_test, minlength=10).min() > 800  # all ten digits present
    assert mnist.X_train.max() == 255
    for array in (mnist.X_train, mnist.y_train, mnist.X_test, mnist.y_test):
        assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        mnist.X_train[0, 0] = 1


# ----------------------------------------------------------------------------- MnistData


def test_mnist_data_validates_and_leaves_caller_arrays_alone():
    X = np.zeros((3, 784), np.uint8)
    y = np.array([0, 1, 2], dtype=np.int32)
    data = MnistData(X, y, X, y, source="s", kind="sample")
    assert X.flags.writeable  # the caller's array is not frozen behind its back
    assert not data.X_train.flags.writeable and data.y_train.dtype == np.int64
    assert "n_train=3" in repr(data)
    with pytest.raises(ValueError, match="uint8"):
        MnistData(X.astype(float), y, X, y, source="s", kind="sample")
    with pytest.raises(ValueError, match=r"shape \(n, 784\)"):
        MnistData(X[:, :10], y, X, y, source="s", kind="sample")
    with pytest.raises(ValueError, match="labels 0-9"):
        MnistData(X, np.array([0, 1, 10]), X, y, source="s", kind="sample")
    with pytest.raises(ValueError, match="3 rows but y_test has 2"):
        MnistData(X, y, X, y[:2], source="s", kind="sample")
    with pytest.raises(ValueError, match="kind"):
        MnistData(X, y, X, y, source="s", kind="csv")
    with pytest.raises(AttributeError):
        data.source = "other"


# ----------------------------------------------------------------------------- subsets


def test_subset_canonical_is_first_rows_as_views():
    data = small_data()
    sub = select_subset(data, 120, 30)
    assert (sub.n_train, sub.n_test) == (120, 30)
    np.testing.assert_array_equal(sub.X_train, data.X_train[:120])
    np.testing.assert_array_equal(sub.y_test, data.y_test[:30])
    np.testing.assert_array_equal(sub.train_index, np.arange(120))
    np.testing.assert_array_equal(sub.test_index, np.arange(30))
    assert np.shares_memory(sub.X_train, data.X_train)
    assert sub.X_train.dtype == np.uint8 and not sub.X_train.flags.writeable
    full = select_subset(data, 300)
    assert full.n_test == 50  # test_size None = all


def test_subset_shuffle_is_seeded_nested_and_uint8():
    data = small_data()
    a = select_subset(data, 150, 20, shuffle=True, seed=7)
    b = select_subset(data, 150, 20, shuffle=True, seed=7)
    c = select_subset(data, 150, 20, shuffle=True, seed=8)
    np.testing.assert_array_equal(a.train_index, b.train_index)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert not np.array_equal(a.train_index, c.train_index)
    bigger = select_subset(data, 250, shuffle=True, seed=7)
    assert set(a.train_index) <= set(bigger.train_index)  # growing only adds rows
    assert np.all(np.diff(a.train_index) > 0)
    np.testing.assert_array_equal(a.X_train, data.X_train[a.train_index])
    np.testing.assert_array_equal(a.y_train, data.y_train[a.train_index])
    np.testing.assert_array_equal(a.X_test, data.X_test[a.test_index])
    assert a.X_train.dtype == np.uint8 and a.train_index.dtype == np.int64
    for array in (a.X_train, a.y_train, a.X_test, a.train_index):
        assert not array.flags.writeable
    everything = select_subset(data, 300, shuffle=True, seed=7)
    np.testing.assert_array_equal(everything.train_index, np.arange(300))


@pytest.mark.parametrize(
    "train_size, test_size, message",
    [
        # lrcore.config's messages, the ones TrainConfig and the CLI give.
        (99, None, "train_size must be at least 100; got 99"),
        (301, None, "train_size must be at most 300 for this data; got 301"),
        (100, 0, "test_size must be at least 1; got 0"),
        (100, 51, "test_size must be at most 50 for this data; got 51"),
        (100.5, None, "train_size must be a whole number; got 100.5"),
        (100.0, None, "train_size must be a whole number; got 100.0"),
        ("100", None, "train_size must be a whole number; got '100'"),
        (True, None, "train_size must be a whole number"),
    ],
)
def test_subset_ranges(train_size, test_size, message):
    with pytest.raises(ValueError, match=message):
        select_subset(small_data(), train_size, test_size)


def test_subset_bad_seed_and_tiny_data():
    with pytest.raises(ValueError, match="seed must be between 0 and 2"):
        select_subset(small_data(), 100, shuffle=True, seed=-1)
    with pytest.raises(ValueError, match="seed must be a whole number"):
        select_subset(small_data(), 100, shuffle=True, seed=1.0)
    with pytest.raises(ValueError, match="at least 100 but this data has only 40"):
        select_subset(small_data(n_train=40), 100)


def test_subset_of_real_mnist(mnist):
    with pytest.raises(ValueError, match="train_size must be at most 60000 for this data; got 70000"):
        select_subset(mnist, 70_000)
    sub = select_subset(mnist, 60_000, 10_000)
    assert np.shares_memory(sub.X_train, mnist.X_train)
    sub = select_subset(mnist, 5_000, 1_000, shuffle=True, seed=0)
    assert sub.X_train.dtype == np.uint8 and sub.X_train.shape == (5_000, 784)
    # a random 5,000 has all ten digits in roughly MNIST's proportions
    assert np.bincount(sub.y_train, minlength=10).min() > 350
