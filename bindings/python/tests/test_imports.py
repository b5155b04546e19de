"""Imports from files and from columns (dicts of lists, numpy arrays, pandas
DataFrames), with the Rust API's error reports, progress, and the GIL
released while they run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crm

CSV = """external_id,name,email,roles
erp:1,Li Lei,li.lei@example.com,customer
erp:2,Han Meimei,not-an-email,customer
erp:3,韩梅梅,han@example.com,prospect
"""


def test_a_csv_file_is_all_or_nothing_with_row_errors(db: crm.Crm, tmp_path: Path) -> None:
    path = tmp_path / "parties.csv"
    path.write_text(CSV, encoding="utf-8")
    report = db.import_file("parties", path)
    assert report.record_type == "ImportReport" and report.committed is False
    assert report.errors == [
        {
            "line": 3,
            "column": "email",
            "reason": "`not-an-email` is not an e-mail address: no @",
            "record": ["erp:2", "Han Meimei", "not-an-email", "customer"],
        }
    ]
    assert db.count_parties() == 0
    seen: list[tuple[int, int]] = []
    report = db.import_file("parties", str(path), skip_invalid=True, progress=lambda r, c: seen.append((r, c)))
    assert (report.created, report.rows_read, report.committed) == (2, 3, True)
    assert seen and seen[-1] == (3, 2)


def test_json_lines_and_column_maps(db: crm.Crm, tmp_path: Path) -> None:
    path = tmp_path / "parties.jsonl"
    path.write_text('{"id": "x:1", "full_name": "Ada"}\n{"id": "x:2", "full_name": "Grace"}\n', encoding="utf-8")
    report = db.import_file("parties", path, column_map={"id": "external_id", "full_name": "name"})
    assert report.created == 2
    assert db.get_party("x:2").name == "Grace"


@pytest.mark.parametrize("shape", ["dict", "numpy", "pandas"])
def test_columns_import_like_the_file_with_rows_numbered_from_one(db: crm.Crm, shape: str) -> None:
    columns = {
        "external_id": ["erp:1", "erp:2", "erp:3"],
        "name": ["Li Lei", "Han Meimei", "韩梅梅"],
        "email": ["li.lei@example.com", "not-an-email", None],
    }
    data: object = columns
    if shape == "numpy":
        data = {k: np.array(v, dtype=object) for k, v in columns.items()}
    elif shape == "pandas":
        data = pd.DataFrame(columns)
    report = db.import_columns("parties", data)
    assert not report.committed
    assert [(e["line"], e["column"]) for e in report.errors] == [(2, "email")]
    report = db.import_columns("parties", data, skip_invalid=True)
    assert report.created == 2 and db.get_party("erp:3").name == "韩梅梅"


def test_numbers_and_missing_cells_in_columns(db: crm.Crm) -> None:
    db.define_field("score", "decimal")
    frame = pd.DataFrame({"name": ["A", "B"], "field.score": [1.5, float("nan")]})
    assert db.import_columns("parties", frame).created == 2
    scores = sorted(str(p.fields.get("score")) for p in db.list_parties())
    assert scores == ["1.5", "None"]


def test_bad_columns_are_refused_before_any_row(db: crm.Crm) -> None:
    with pytest.raises(crm.ValidationError, match="did you mean `email`") as caught:
        db.import_columns("parties", {"name": ["A"], "emial": ["a@example.com"]})
    assert caught.value.field == "emial" and caught.value.row == 1
    with pytest.raises(crm.ValidationError, match="equally long"):
        db.import_columns("parties", {"name": ["A", "B"], "email": ["a@example.com"]})
    with pytest.raises(crm.ValidationError, match="not an import kind"):
        db.import_columns("people", {"name": ["A"]})
    assert db.count_parties() == 0


def test_a_long_import_releases_the_gil(db: crm.Crm) -> None:
    n = 30_000
    columns = {"name": [f"Customer {i}" for i in range(n)], "email": [f"c{i}@example.com" for i in range(n)]}
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    report = db.import_columns("parties", columns)
    elapsed = time.perf_counter() - started
    done.set()
    counter.join()
    assert report.created == n
    # Python code ran while Rust imported: far more than the handful of
    # switches a held GIL would allow.
    assert ticks > 10, (ticks, elapsed)
