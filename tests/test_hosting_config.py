"""The hosting defaults in .streamlit/config.toml: real Streamlit options, fit for a class."""
from __future__ import annotations

import tomllib
from pathlib import Path

import streamlit.config as st_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_every_setting_is_a_streamlit_option():
    """A misspelt option would be silently ignored."""
    known = st_config._config_options_template
    for section, values in CONFIG.items():
        for name in values:
            assert f"{section}.{name}" in known, f"{section}.{name} is not a Streamlit option"


def test_classroom_defaults():
    # The per-rerun full collection was ~75% of a stroke's server CPU (README, Hosting).
    assert CONFIG["runner"]["postScriptGC"] is False
    # Uploads are model files of a few hundred KB, never Streamlit's 200 MB default.
    assert 1 <= CONFIG["server"]["maxUploadSize"] <= 50
    assert CONFIG["server"]["runOnSave"] is False
    assert CONFIG["server"]["fileWatcherType"] == "none"
    assert CONFIG["browser"]["gatherUsageStats"] is False
    # Tracebacks (with the server's paths) stay in the server's log.
    assert CONFIG["client"]["showErrorDetails"] in ("type", "none")


def test_a_model_file_fits_the_upload_limit(mnist):
    from lrcore.config import TrainConfig
    from lrcore.train import train

    model = train(TrainConfig(train_size=1000, test_size=500, max_iter=100), mnist)
    assert len(model.to_bytes()) < CONFIG["server"]["maxUploadSize"] * 1024 * 1024 / 10
