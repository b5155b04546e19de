"""Each kind of Rust error arrives as its own exception class, with the
details as attributes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import crm
from crm import exceptions


def test_the_hierarchy() -> None:
    for name in exceptions.__all__:
        cls = getattr(crm, name)
        assert issubclass(cls, crm.CrmError) and cls.__module__ == "crm.exceptions"
    assert issubclass(crm.NotFoundError, KeyError)
    assert issubclass(crm.ValidationError, ValueError)
    assert issubclass(crm.InputError, OSError)


def test_not_found(db: crm.Crm) -> None:
    with pytest.raises(crm.NotFoundError) as caught:
        db.get_party("erp:nobody")
    assert (caught.value.entity, caught.value.id) == ("party", "erp:nobody")
    assert str(caught.value) == "party not found: erp:nobody"
    with pytest.raises(KeyError):
        db.get_party("erp:nobody")


def test_validation(db: crm.Crm) -> None:
    with pytest.raises(crm.ValidationError) as caught:
        db.create_party("   ")
    assert (caught.value.field, caught.value.row) == ("name", None)
    assert "must not be empty" in caught.value.reason
    with pytest.raises(crm.ValidationError, match="role"):
        db.create_party("A", roles=["king"])
    with pytest.raises(crm.ValidationError, match="not a date"):
        db.relate("a", "knows", "b", since="yesterday")


def test_conflict(db: crm.Crm) -> None:
    db.create_party("A", external_ids=["erp:1"])
    with pytest.raises(crm.ConflictError) as caught:
        db.create_party("B", external_ids=["erp:1"])
    assert "erp:1" in caught.value.reason
    with pytest.raises(crm.ValidationError, match="into itself"):
        a = db.get_party("erp:1")
        db.merge(a.id, a.id)


def test_incompatible_version(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    crm.Crm(path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(crm.IncompatibleVersionError) as caught:
        crm.Crm(path)
    assert (caught.value.found, caught.value.supported) == (999, crm.SCHEMA_VERSION)


def test_corrupt_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is certainly not an sqlite file, it is just text ....")
    with pytest.raises(crm.CorruptDatabaseError) as caught:
        crm.Crm(path)
    assert caught.value.path == str(path)


def test_input_error(db: crm.Crm, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(crm.InputError) as caught:
        db.import_file("parties", missing)
    assert caught.value.path == str(missing)
    assert isinstance(caught.value, OSError)
    with pytest.raises(crm.NotFoundError):
        crm.Crm(tmp_path / "absent.db", must_exist=True)


HOLD_THE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.rollback()
"""


def test_storage_error_when_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = crm.Crm(path, busy_timeout=0.2)
    # Another process: SQLite's locks are per process.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(crm.StorageError) as caught:
            db.create_party("Blocked")
        assert caught.value.busy is True
    finally:
        holder.communicate("")
    assert db.create_party("Later").name == "Later"


def test_plugin_error(db: crm.Crm, plugins_dir: Path) -> None:
    wasm = (plugins_dir / "crm_plugin_fixture.wasm").read_bytes()
    manifest = 'name = "fixture"\nversion = "0.1.0"\nwit = "0.1.0"\nsha256 = "' + "0" * 64 + '"\n'
    with pytest.raises(crm.PluginError) as caught:
        db.install_plugin(wasm, manifest)
    assert caught.value.kind == "hash_mismatch" and caught.value.plugin is None
