"""The training engine: trainings and experiments on Dask distributed, outside the
web process (see :mod:`lrcore.engine.core` for the queue's rules).

    engine = get_engine()                       # LR_SCHEDULER, or an embedded cluster
    job = engine.submit_training(cfg, data, owner=session_id)
    job.state, job.position, job.eta_seconds, job.latest, job.history, job.latest_coef
    job.stop(owner=session_id); model = job.result()
    exp = engine.submit_experiment("c-path", {"Cs": [0.1, 1]}, data, owner=session_id)
    exp.state, exp.position, exp.progress, exp.rows; result = exp.result()

The worker side is :mod:`lrcore.engine.tasks`. The plain in-process path
(:class:`lrcore.train.Training`, ``SoftmaxRegression.fit``) needs none of this.
"""
from lrcore.engine.core import (
    DEFAULT_MEMORY,
    MEMORY_ENV,
    OWNER_TTL_ENV,
    SCHEDULER_ENV,
    WORKERS_ENV,
    Engine,
    EngineUnavailable,
    Job,
    config_key,
    default_workers,
    get_engine,
)
from lrcore.engine.experiment_jobs import ExperimentJob
from lrcore.engine.tasks import data_info, fingerprint

__all__ = [
    "DEFAULT_MEMORY", "MEMORY_ENV", "OWNER_TTL_ENV", "SCHEDULER_ENV", "WORKERS_ENV",
    "Engine", "EngineUnavailable", "ExperimentJob", "Job", "config_key", "data_info",
    "default_workers", "fingerprint", "get_engine",
]
