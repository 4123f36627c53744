"""The one BLAS/OpenMP thread limit of lrcore's heavy work (experiments in any process,
trainings and experiments on the engine's workers).

One thread: on a busy 2-core machine OpenBLAS's two spinning threads made a 5,000-digit
L-BFGS fit 6-15x slower than one thread (measured: 12.9 s vs 0.9 s); the GEMMs here are
too small to gain from a second thread that has to wait for a free core, and parallelism
comes from running several fits side by side (one per engine worker).
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

BLAS_THREADS = 1

_lock = threading.Lock()
_controller = None
_modules_seen = -1


@contextmanager
def limit_blas() -> Iterator[None]:
    """BLAS/OpenMP threads limited to :data:`BLAS_THREADS` inside the block.

    Cheap enough to wrap every solver iteration: the controller (which lists the loaded
    BLAS/OpenMP libraries) is made once and made again only after new modules were
    imported, since those may have loaded a library of their own (scikit-learn's OpenMP).
    """
    global _controller, _modules_seen
    with _lock:
        if _controller is None or len(sys.modules) != _modules_seen:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
            _modules_seen = len(sys.modules)
        controller = _controller
    with controller.limit(limits=BLAS_THREADS):
        yield


def limit_process_blas() -> bool:
    """The same limit for a whole process, for good (the web app's own GEMMs: scoring a
    stroke, rescoring an upload). OpenBLAS threads busy-wait for work: in a server they
    compete with other sessions and, on a laptop, with the browser redrawing the live
    chart; measured on 2 shared cores, a 5,000-digit training took 85-109 s with
    OpenBLAS's 2 threads and 7-12 s with 1. An explicit ``OPENBLAS_NUM_THREADS``,
    ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` wins. Returns whether it limited."""
    if any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                       "MKL_NUM_THREADS")):
        return False
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=BLAS_THREADS, user_api="blas")
    return True
