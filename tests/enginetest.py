"""Helpers shared by the engine tests (tests/test_engine*.py)."""
from __future__ import annotations

import time

# Fast: converges or stops within a few seconds on 1,000 digits.
FAST = dict(train_size=1000, test_size=500, max_iter=25)
# Slow on purpose: FISTA with a weak L1 penalty and a tiny tol keeps iterating for
# minutes, so it stays running until the test stops it.
SLOW = dict(train_size=1000, test_size=500, penalty="l1", C=100.0, solver="fista",
            tol=1e-9, max_iter=100000)


def until(cond, timeout: float = 60.0, what: str = "condition") -> None:
    """Wait until ``cond()`` is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
