"""What Python's garbage collector costs a server process (a probe for bench/classroom.py).

Put this folder first on PYTHONPATH and set LR_GC_LOG=<file>: every Python process started
so (the Streamlit server) then appends one JSON line per ``LR_GC_EVERY`` seconds (default 5)
to that file: collections and seconds spent per generation since the start, objects tracked
by the collector (young generations and all, frozen excluded), objects in the permanent
(frozen) generation, and the process's RSS. Nothing happens when LR_GC_LOG is unset.
"""
import os

if os.environ.get("LR_GC_LOG"):
    import gc
    import json
    import threading
    import time

    _path = os.environ["LR_GC_LOG"]
    _every = float(os.environ.get("LR_GC_EVERY", "5"))
    _stats = {g: [0, 0.0] for g in range(3)}  # generation -> [collections, seconds]
    _started: dict[int, float] = {}

    def _callback(phase, info):
        gen = info["generation"]
        if phase == "start":
            _started[gen] = time.perf_counter()
        elif gen in _started:
            _stats[gen][0] += 1
            _stats[gen][1] += time.perf_counter() - _started.pop(gen)

    gc.callbacks.append(_callback)

    def _rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _loop():
        while True:
            time.sleep(_every)
            line = {"t": time.time(), "pid": os.getpid(), "rss_mb": round(_rss_mb(), 1),
                    "tracked": len(gc.get_objects()), "frozen": gc.get_freeze_count(),
                    "counts": gc.get_count(),
                    "collections": {g: _stats[g][0] for g in _stats},
                    "gc_seconds": {g: round(_stats[g][1], 4) for g in _stats}}
            with open(_path, "a") as fh:
                fh.write(json.dumps(line) + "\n")

    threading.Thread(target=_loop, name="gc-probe", daemon=True).start()
