"""Shared fixtures: a database in a real file for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import crm


@pytest.fixture
def db(tmp_path: Path) -> Iterator[crm.Crm]:
    yield crm.Crm(tmp_path / "test.db")


@pytest.fixture
def plugins_dir() -> Path:
    """Where scripts/test.sh built the wasm32-wasip2 plugins."""
    here = Path(__file__).resolve().parents[3]
    default = here / "plugins" / "target" / "wasm32-wasip2" / "release"
    path = Path(os.environ.get("CRM_PLUGINS_DIR", default))
    if not (path / "crm_plugin_fixture.wasm").is_file():
        pytest.fail(f"build the plugins first (scripts/test.sh does); looked in {path}")
    return path
