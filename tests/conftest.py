"""Shared fixtures: where the real MNIST is, and a rule that CI never skips for it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The app keeps files (the default model shared by its processes) in LR_DATA_DIR: the
# tests, and the servers they start, get a fresh one, never the checkout's data/.
os.environ.setdefault("LR_DATA_DIR", tempfile.mkdtemp(prefix="lr-test-data-"))


def need(reason: str) -> None:
    """Skip locally, but fail in CI: there nothing may be skipped for a missing tool."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus) -> None:
    """In CI a skipped test fails the run, whatever skipped it (need() already fails
    instead of skipping; this also catches a skip from a plugin or a future test)."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; nothing may skip in CI",
                            red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Folder with the four genuine MNIST IDX files, from the MNIST_DIR environment variable."""
    value = os.environ.get("MNIST_DIR")
    if not value:
        need("set MNIST_DIR to a folder with the four MNIST IDX files")
    path = Path(value)
    if not path.is_dir():
        need(f"MNIST_DIR={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The full genuine MNIST (60,000 + 10,000), loaded once per test session."""
    from lrcore.data import load_mnist

    return load_mnist("idx", mnist_dir)
