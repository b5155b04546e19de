//! The models on the published data sets: CDNOW (BG/NBD, Pareto/NBD,
//! MBG/NBD, Gamma-Gamma) and the donations panel (BG/BB).

use chrono::NaiveDate;
use crm_core::analytics::{
    BgBb, BgNbd, FitOptions, GammaGamma, MbgNbd, ParetoNbd, TimeUnit, Transactions, clv, summarize,
};

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y%m%d").unwrap()
}

/// The CDNOW log: customer (sample id), day, amount.
pub(crate) fn cdnow() -> Transactions {
    let text = std::fs::read_to_string(data("cdnow/CDNOW_sample.txt")).unwrap();
    let mut log = Transactions::default();
    for line in text.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        log.push(cells[1].parse().unwrap(), date(cells[2]), cells[4].parse().unwrap());
    }
    log
}

fn calibration() -> crm_core::analytics::Summary {
    summarize(&cdnow(), TimeUnit::Week, date("19970930"), Some(date("19980630"))).unwrap()
}

/// Rounds to `digits` decimals, the way the papers print.
fn printed(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

#[test]
fn the_summary_matches_the_published_calibration_file() {
    let summary = calibration();
    assert_eq!(summary.len(), 2357);
    let text = std::fs::read_to_string(data("cdnow/cdnow_customers_summary.csv")).unwrap();
    for (i, line) in text.lines().skip(1).enumerate() {
        let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        assert_eq!(summary.customer[i], cells[0] as u64);
        assert_eq!(summary.frequency[i], cells[1]);
        assert!((summary.recency[i] - cells[2]).abs() < 0.006, "customer {}", cells[0]);
        assert!((summary.t[i] - cells[3]).abs() < 0.006, "customer {}", cells[0]);
    }
    assert!((summary.holdout_length - 39.0).abs() < 1e-9);
}

#[test]
fn bg_nbd_reproduces_fader_hardie_lee_2005() {
    let s = calibration();
    let (m, info) =
        BgNbd::fit(&s.frequency, &s.recency, &s.t, None, &FitOptions::default()).unwrap();
    assert!(info.converged, "{info:?}");
    assert_eq!(
        (printed(m.r, 3), printed(m.alpha, 3), printed(m.a, 3), printed(m.b, 3)),
        (0.243, 4.414, 0.793, 2.426),
        "{m:?}"
    );
    assert_eq!(printed(info.log_likelihood, 1), -9582.4);
    // The reference implementation (Python lifetimes 0.11) gives, on the
    // same summary: r 0.242593, α 4.413532, a 0.792886, b 2.425752.
    for (ours, theirs) in [(m.r, 0.242593), (m.alpha, 4.413532), (m.a, 0.792886), (m.b, 2.425752)] {
        assert!(((ours - theirs) / theirs).abs() < 1e-4, "{ours} vs {theirs}");
    }
    // Holdout: predicted vs actual repeat purchases over the 39 weeks.
    let mut predicted = 0.0;
    let mut actual = 0.0;
    for i in 0..s.len() {
        predicted += m.expected_purchases(39.0, s.frequency[i], s.recency[i], s.t[i]).unwrap();
        actual += s.holdout_frequency[i];
    }
    // Python lifetimes gives 1,653.4 on the same model; 1,882 happened.
    assert!((predicted - 1653.4).abs() < 0.5, "{predicted}");
    assert_eq!(actual, 1882.0);
}

#[test]
fn gamma_gamma_reproduces_the_published_spend_model() {
    let s = calibration();
    let (m, info) =
        GammaGamma::fit(&s.frequency, &s.monetary, None, &FitOptions::default()).unwrap();
    assert!(info.converged, "{info:?}");
    assert_eq!(
        (printed(m.p, 2), printed(m.q, 2), printed(m.gamma, 2)),
        (6.25, 3.74, 15.44),
        "{m:?}"
    );
    assert_eq!(info.customers, 946.0);
}

#[test]
fn pareto_nbd_reproduces_the_published_estimates() {
    let s = calibration();
    let (m, info) =
        ParetoNbd::fit(&s.frequency, &s.recency, &s.t, None, &FitOptions::default()).unwrap();
    assert!(info.converged, "{info:?}");
    assert_eq!(
        (printed(m.r, 2), printed(m.alpha, 2), printed(m.s, 2), printed(m.beta, 2)),
        (0.55, 10.58, 0.61, 11.67),
        "{m:?}"
    );
    assert_eq!(printed(info.log_likelihood, 1), -9595.0);
    let p = m.p_alive(2.0, 30.43, 38.86).unwrap();
    assert!(p > 0.0 && p < 1.0);
}

#[test]
fn mbg_nbd_fits_cdnow() {
    let s = calibration();
    let (m, info) =
        MbgNbd::fit(&s.frequency, &s.recency, &s.t, None, &FitOptions::default()).unwrap();
    assert!(info.converged, "{info:?}");
    // MBG/NBD nests a dropout at time zero; on CDNOW its likelihood is
    // close to BG/NBD's.
    assert!((info.log_likelihood + 9582.4).abs() < 20.0, "{}", info.log_likelihood);
    let new = m.expected_purchases_new(39.0).unwrap();
    assert!(new > 0.0 && new < 5.0, "{new} {m:?}");
}

#[test]
fn bg_bb_reproduces_fader_hardie_shang_2010() {
    let text = std::fs::read_to_string(data("donations/donations.csv")).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|c| c.parse().unwrap()).collect()).collect();
    let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
    let (x, tx, n, w) = (column(0), column(1), column(2), column(3));
    let (m, info) = BgBb::fit(&x, &tx, &n, Some(&w), &FitOptions::default()).unwrap();
    assert!(info.converged, "{info:?}");
    assert_eq!(
        (printed(m.alpha, 3), printed(m.beta, 3), printed(m.gamma, 3), printed(m.delta, 3)),
        (1.204, 0.750, 0.657, 2.783),
        "{m:?}"
    );
    assert_eq!(printed(info.log_likelihood, 1), -33225.6);
    assert_eq!(info.customers, 11104.0);
    let e = m.expected_purchases(5.0, 6.0, 6.0, 6.0);
    assert!(e > 0.0 && e <= 5.0, "{e}");
}

#[test]
fn clv_discounts_expected_purchases() {
    let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    let undiscounted = clv(&m, (2.0, 30.43, 38.86), 35.0, 1.0, 12, 4.345, 0.0).unwrap();
    let expected = m.expected_purchases(12.0 * 4.345, 2.0, 30.43, 38.86).unwrap() * 35.0;
    assert!((undiscounted - expected).abs() < 1e-9);
    let discounted = clv(&m, (2.0, 30.43, 38.86), 35.0, 1.0, 12, 4.345, 0.01).unwrap();
    assert!(discounted < undiscounted);
}

#[test]
fn bad_inputs_are_errors_not_nans() {
    let options = FitOptions::default();
    assert!(BgNbd::fit(&[], &[], &[], None, &options).is_err());
    assert!(BgNbd::fit(&[0.0, 0.0], &[0.0, 0.0], &[5.0, 6.0], None, &options).is_err());
    assert!(BgNbd::fit(&[1.0], &[7.0], &[5.0], None, &options).is_err()); // recency > T
    assert!(BgNbd::fit(&[f64::NAN], &[0.0], &[5.0], None, &options).is_err());
    assert!(GammaGamma::fit(&[1.0], &[10.0], None, &options).is_err()); // one repeat customer
    assert!(BgBb::fit(&[2.0], &[1.0], &[6.0], None, &options).is_err()); // x > tₓ
    let mut log = Transactions::default();
    log.push(1, date("19970105"), 10.0);
    log.push(1, date("19980105"), 10.0);
    let error =
        summarize(&log, TimeUnit::Week, date("19970930"), Some(date("19971231"))).unwrap_err();
    assert!(error.to_string().contains("after the observation end"), "{error}");
    assert!(summarize(&Transactions::default(), TimeUnit::Week, date("19970930"), None).is_err());
    log.push(2, date("19970106"), f64::INFINITY);
    assert!(summarize(&log, TimeUnit::Day, date("19980930"), None).is_err());
}

/// The published summary file, as Python `lifetimes` reads it.
fn summary_file() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(data("cdnow/cdnow_customers_summary.csv")).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|c| c.parse().unwrap()).collect()).collect();
    (
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
    )
}

fn close(ours: f64, theirs: f64, tolerance: f64) {
    assert!(((ours - theirs) / theirs).abs() < tolerance, "{ours} vs {theirs}");
}

/// Parameters and predictions of Python `lifetimes` 0.11.3 (numpy 2.4,
/// scipy 1.17) on the same inputs, printed by `benches/lifetimes/reference.py`.
#[test]
fn agrees_with_python_lifetimes() {
    let (x, tx, t) = summary_file();
    let options = FitOptions::default();
    let (bg, _) = BgNbd::fit(&x, &tx, &t, None, &options).unwrap();
    for (ours, theirs) in [
        (bg.r, 0.24259292827982182),
        (bg.alpha, 4.413532265271819),
        (bg.a, 0.7928859664406882),
        (bg.b, 2.42575238262586),
    ] {
        close(ours, theirs, 1e-4);
    }
    let lt = BgNbd {
        r: 0.24259292827982182,
        alpha: 4.413532265271819,
        a: 0.7928859664406882,
        b: 2.42575238262586,
    };
    close(lt.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap(), 1.2259104241743999, 1e-9);
    close(lt.p_alive(2.0, 30.43, 38.86), 0.72660914, 1e-7);
    close(lt.expected_purchases_new(39.0).unwrap(), 1.1950162284461952, 1e-9);

    let (mbg, _) = MbgNbd::fit(&x, &tx, &t, None, &options).unwrap();
    for (ours, theirs) in [
        (mbg.r, 0.524837725567698),
        (mbg.alpha, 6.182988479134173),
        (mbg.a, 0.8913562809310741),
        (mbg.b, 1.6140000256718765),
    ] {
        close(ours, theirs, 1e-4);
    }
    let lt = MbgNbd {
        r: 0.524837725567698,
        alpha: 6.182988479134173,
        a: 0.8913562809310741,
        b: 1.6140000256718765,
    };
    close(lt.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap(), 1.2626707787139582, 1e-9);
    close(lt.p_alive(2.0, 30.43, 38.86), 0.70612626, 1e-7);
    close(lt.expected_purchases_new(39.0).unwrap(), 1.1822837952882774, 1e-9);

    let (pareto, _) = ParetoNbd::fit(&x, &tx, &t, None, &options).unwrap();
    for (ours, theirs) in [
        (pareto.r, 0.5532768468963849),
        (pareto.alpha, 10.577778997595214),
        (pareto.s, 0.6062185737571701),
        (pareto.beta, 11.668036613830454),
    ] {
        close(ours, theirs, 1e-4);
    }
    let lt = ParetoNbd {
        r: 0.5532768468963849,
        alpha: 10.577778997595214,
        s: 0.6062185737571701,
        beta: 11.668036613830454,
    };
    close(lt.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap(), 1.4551062273035484, 1e-9);
    close(lt.p_alive(2.0, 30.43, 38.86).unwrap(), 0.8691181443832968, 1e-9);

    let lt = BgBb {
        alpha: 1.2035223936080932,
        beta: 0.7497163581757806,
        gamma: 0.6567181695498799,
        delta: 2.7834419828871533,
    };
    close(lt.expected_purchases(5.0, 3.0, 5.0, 6.0), 1.80470296, 1e-7);

    let lt = GammaGamma { p: 6.249572277633243, q: 3.744224674758692, gamma: 15.443521018371015 };
    close(lt.expected_spend(2.0, 10.0), 14.531357407640304, 1e-12);
    let s = calibration();
    let (gg, _) = GammaGamma::fit(&s.frequency, &s.monetary, None, &options).unwrap();
    for (ours, theirs) in [(gg.p, lt.p), (gg.q, lt.q), (gg.gamma, lt.gamma)] {
        close(ours, theirs, 1e-4);
    }
}

/// The L2 penalty has the meaning it has in Python `lifetimes`
/// (`penalizer_coef × Σ θ²` added to the mean negative log-likelihood).
#[test]
fn penalised_fits_agree_with_python_lifetimes() {
    let (x, tx, t) = summary_file();
    for (penalizer, want) in [
        (0.1, [0.23094701386573419, 4.2192875236191, 0.12865474020745912, 0.26712679605041983]),
        (0.001, [0.2427762678803234, 4.405278055812616, 0.49844648746934267, 1.3232442257029946]),
    ] {
        let (m, info) =
            BgNbd::fit(&x, &tx, &t, None, &FitOptions::default().penalizer(penalizer)).unwrap();
        assert!(info.converged, "{info:?}");
        for (ours, theirs) in [m.r, m.alpha, m.a, m.b].into_iter().zip(want) {
            close(ours, theirs, 1e-3);
        }
    }
    assert!(BgNbd::fit(&x, &tx, &t, None, &FitOptions::default().penalizer(-1.0)).is_err());
}
