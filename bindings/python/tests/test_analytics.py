"""Analytics from Python: the CDNOW fits (equal to the Rust library's, and
to the published values), predictions, scoring, RFM — as numpy columns."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crm


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    log = crm.load_cdnow()
    assert len(log["customer"]) == 6919 and len(set(log["customer"].tolist())) == 2357
    return crm.summarize(log["customer"], log["date"], log["amount"], "1997-09-30", observation_end="1998-06-30")


def test_summary_columns_make_a_data_frame(cdnow: dict[str, np.ndarray]) -> None:
    frame = pd.DataFrame(cdnow)
    assert list(frame.columns) == [
        "customer", "frequency", "recency", "T", "monetary_value", "frequency_holdout", "duration_holdout"
    ]
    assert len(frame) == 2357 and frame["frequency"].dtype == np.float64
    first = frame.iloc[0]
    assert (first.frequency, round(first.recency, 2), round(first["T"], 2)) == (2.0, 30.43, 38.86)


def test_summarize_accepts_numpy_dates_and_reports_bad_rows() -> None:
    dates = np.array(["2020-01-01", "2020-01-08", "2020-01-15"], dtype="datetime64[D]")
    s = crm.summarize([1, 1, 2], dates, [10.0, 20.0, 5.0], "2020-01-31", unit="day")
    assert s["frequency"].tolist() == [1.0, 0.0] and s["recency"].tolist() == [7.0, 0.0]
    with pytest.raises(crm.ValidationError) as caught:
        crm.summarize([1, 2], ["2020-01-01", "soon"], [1.0, 2.0], "2020-02-01")
    assert (caught.value.row, caught.value.field) == (2, "date")


def test_bg_nbd_on_cdnow_matches_the_published_fit(cdnow: dict[str, np.ndarray]) -> None:
    model, info = crm.BgNbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert [round(v, 3) for v in (model.r, model.alpha, model.a, model.b)] == [0.243, 4.414, 0.793, 2.426]
    assert round(info.log_likelihood, 1) == -9582.4 and info.converged
    assert model.params() == {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b}
    assert crm.BgNbd(**model.params()) == model
    predicted = model.expected_purchases(39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum()
    assert round(predicted, 1) == 1653.4
    alive = model.p_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert alive.shape == (2357,) and ((alive >= 0) & (alive <= 1)).all()
    assert model.log_likelihood(cdnow["frequency"], cdnow["recency"], cdnow["T"]).sum() == pytest.approx(
        info.log_likelihood, rel=1e-12
    )
    assert 0 < model.expected_purchases_new(39.0) and 0 < model.p_purchases(0, 39.0) < 1


def test_the_cdnow_fit_equals_the_rust_library_exactly(cdnow: dict[str, np.ndarray], tmp_path: Path) -> None:
    """The same input through the `crm` command (the Rust library) gives the
    same parameters, to the last bit."""
    binary = os.environ.get("CRM_BIN")
    if not binary:
        pytest.skip("CRM_BIN (the crm command) is not set; scripts/test.sh sets it")
    log = crm.load_cdnow()
    csv = tmp_path / "cdnow.csv"
    pd.DataFrame(log).to_csv(csv, index=False)
    out = subprocess.run(
        [binary, "fit", "bg-nbd", "--transactions", str(csv), "--amount-col", "amount",
         "--calibration-end", "1997-09-30", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    rust = json.loads(out)
    model, info = crm.BgNbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert rust["params"] == model.params()
    assert rust["log_likelihood"] == info.log_likelihood


def test_other_models_and_scoring(cdnow: dict[str, np.ndarray]) -> None:
    f, r, t, m = cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"]
    pareto, pinfo = crm.ParetoNbd.fit(f, r, t)
    assert [round(v, 2) for v in (pareto.r, pareto.alpha, pareto.s, pareto.beta)] == [0.55, 10.58, 0.61, 11.67]
    assert round(pinfo.log_likelihood, 1) == -9595.0
    mbg, _ = crm.MbgNbd.fit(f, r, t)
    assert mbg.p_alive(f, r, t).shape == (2357,)
    repeat = f > 0
    spend, ginfo = crm.GammaGamma.fit(f[repeat], m[repeat])
    assert [round(v, 2) for v in (spend.p, spend.q, spend.gamma)] == [6.25, 3.74, 15.44]
    assert ginfo.customers == 946
    assert spend.expected_spend(f[repeat], m[repeat]).shape == (946,)
    bg, _ = crm.BgNbd.fit(f, r, t)
    scores = pd.DataFrame(bg.score(f, r, t, m, spend_model=spend, margin=0.3))
    assert list(scores.columns) == ["p_alive", "expected_purchases", "expected_spend", "clv"]
    assert (scores["clv"] >= 0).all() and scores["clv"].max() > 0
    penalised, _ = crm.BgNbd.fit(f, r, t, penalizer=0.1)
    assert penalised != bg


def test_bg_bb_on_the_donations_data() -> None:
    here = Path(__file__).resolve().parents[3] / "crm-core" / "tests" / "data" / "donations"
    table = pd.read_csv(next(here.glob("*.csv")))
    columns = {c.lower(): c for c in table.columns}
    freq, rec, n = (table[columns[k]].to_numpy(dtype=float) for k in ("frequency", "recency", "periods"))
    weights = table[columns["weights"]].to_numpy(dtype=float)
    model, info = crm.BgBb.fit(freq, rec, n, weights=weights)
    assert [round(v, 3) for v in (model.alpha, model.beta, model.gamma, model.delta)] == [1.204, 0.75, 0.657, 2.783]
    assert round(info.log_likelihood, 1) == -33225.6
    assert model.p_alive(freq, rec, n).shape == freq.shape
    assert model.expected_purchases(5, freq, rec, n).shape == freq.shape


def test_rfm_and_bad_input(cdnow: dict[str, np.ndarray]) -> None:
    since_last = cdnow["T"] - cdnow["recency"]
    scores = crm.rfm(since_last, cdnow["frequency"], cdnow["monetary_value"])
    frame = pd.DataFrame(scores)
    assert set(frame["r"].unique()) <= {1, 2, 3, 4, 5} and len(frame) == 2357
    assert "champions" in set(frame["segment"])
    with pytest.raises(crm.ValidationError, match="no customers"):
        crm.rfm([], [], [])
    with pytest.raises(crm.ValidationError):
        crm.BgNbd.fit([1.0, float("nan")], [1.0, 1.0], [2.0, 2.0])
