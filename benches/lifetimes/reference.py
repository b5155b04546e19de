"""Reference fits with Python `lifetimes` on the data the Rust tests use.

Prints each model's parameters and a few predictions, and the seconds each
fit took (every one of `--repeat` runs, and the minimum). `benches/lifetimes/compare.sh` runs it in
a virtual environment beside the Rust fits; the constants in
`crm-core/tests/it/analytics.rs` come from its output.
"""

import argparse
import contextlib
import io
import json
import pathlib
import time
import warnings

import numpy as np
import pandas as pd
from lifetimes.utils import ConvergenceError
from lifetimes import (
    BetaGeoBetaBinomFitter,
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)

warnings.filterwarnings("ignore")
DATA = pathlib.Path(__file__).resolve().parents[2] / "crm-core" / "tests" / "data"


def timed(fit, repeat):
    times = []
    model = None
    for _ in range(repeat):
        started = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - started)
    return model, times


def spend_summary():
    raw = pd.read_csv(
        DATA / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["id", "customer", "date", "cds", "amount"],
    )
    raw["date"] = pd.to_datetime(raw["date"].astype(str))
    daily = raw.groupby(["customer", "date"])["amount"].sum().reset_index()
    calibration = daily[daily["date"] <= "1997-09-30"].sort_values(["customer", "date"])
    rows = []
    for _, days in calibration.groupby("customer"):
        repeats = days.iloc[1:]
        if len(repeats):
            rows.append((len(repeats), repeats["amount"].mean()))
    return pd.DataFrame(rows, columns=["frequency", "monetary"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    s = pd.read_csv(DATA / "cdnow" / "cdnow_customers_summary.csv")
    d = pd.read_csv(DATA / "donations" / "donations.csv")
    g = spend_summary()
    out = {}
    # Tight tolerances, so that both sides stop at the same optimum (the
    # defaults stop early: Pareto/NBD's is 1e-4 with Nelder-Mead). Each fit
    # uses the tightest tolerance lifetimes converges with.
    def tightest(fit):
        def run():
            # lifetimes prints scipy's messages on failed attempts.
            with contextlib.redirect_stdout(io.StringIO()):
                for tol in (1e-10, 1e-9, 1e-8, 1e-7):
                    try:
                        return fit(tol)
                    except ConvergenceError:
                        continue
                return fit(1e-6)
        return run

    fits = {
        "bg-nbd": tightest(lambda tol: BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"], tol=tol)),
        "mbg-nbd": tightest(
            lambda tol: ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"], tol=tol)
        ),
        "pareto-nbd": tightest(
            lambda tol: ParetoNBDFitter().fit(s["frequency"], s["recency"], s["T"], maxiter=20000, tol=tol)
        ),
        "bg-bb": tightest(
            lambda tol: BetaGeoBetaBinomFitter().fit(
                d["frequency"], d["recency"], d["periods"], weights=d["weights"], tol=tol
            )
        ),
        "gamma-gamma": tightest(lambda tol: GammaGammaFitter().fit(g["frequency"], g["monetary"], tol=tol)),
    }
    for name, fit in fits.items():
        model, times = timed(fit, args.repeat)
        out[name] = {
            "params": {k: float(v) for k, v in model.params_.items()},
            "seconds": min(times),
            "runs": times,
        }
    bg = fits["bg-nbd"]()
    out["bg-nbd"]["expected_39"] = float(
        bg.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)
    )
    out["bg-nbd"]["p_alive"] = float(np.ravel(bg.conditional_probability_alive(2, 30.43, 38.86))[0])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
