//! The `crm` binary end to end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn crm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(args)
        .env_remove("CRM_DB")
        .env("CRM_PLUGIN_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/plugin-cache"))
        .output()
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let output = crm(args);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "crm {args:?} failed: {stderr}");
    stdout
}

/// The id of the party that the last merge absorbed.
fn merged_id(db: &str) -> String {
    let lines = ok(&["--db", db, "events", "--json", "--limit", "1000"]);
    lines
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["kind"] == "party.absorbed")
        .map(|e| e["entity_id"].as_str().unwrap().to_owned())
        .unwrap()
}

fn db_arg(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

#[test]
fn init_import_search_show_events_merge_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("shop.db"));
    assert!(ok(&["--db", &db, "init"]).contains("schema version"));

    let parties = dir.path().join("parties.csv");
    std::fs::write(
        &parties,
        "external_id,name,roles,email,mobile,country\n\
         erp:1,张伟,customer,zhang.wei@example.com,138 0013 8000,CN\n\
         erp:2,Zhang Wei,customer,,+86 138-0013-8000,\n\
         erp:3,Li Na,prospect,li.na@example.com,,\n",
    )
    .unwrap();
    let out = ok(&["--db", &db, "import", "parties", parties.to_str().unwrap()]);
    assert!(out.contains("3 rows read, 3 created"), "{out}");

    let out = ok(&["--db", &db, "party", "list", "--role", "customer"]);
    assert!(out.starts_with("2 parties match"), "{out}");
    let lines = ok(&["--db", &db, "party", "list", "--json", "--limit", "1", "--offset", "2"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(lines.trim()).unwrap()["name"], "Li Na");
    assert_eq!(crm(&["--db", &db, "party", "list", "--role", "buyer"]).status.code(), Some(2));
    let out = ok(&["--db", &db, "search", "伟"]);
    assert!(out.starts_with("1 results for `伟`"), "{out}");

    let out = ok(&["--db", &db, "party", "show", "erp:1"]);
    assert!(out.contains("张伟") && out.contains("138 0013 8000"), "{out}");
    let json = ok(&["--db", &db, "party", "show", "erp:1", "--json"]);
    let party: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(party["contacts"][1]["normalized"], "+8613800138000");

    let out = ok(&["--db", &db, "duplicates"]);
    assert!(out.contains("phone"), "{out}");
    let out = ok(&["--db", &db, "duplicates", "--reason", "email"]);
    assert!(out.starts_with("0 candidate pairs"), "{out}");
    assert_eq!(crm(&["--db", &db, "duplicates", "--reason", "shoe-size"]).status.code(), Some(2));

    let out = ok(&["--db", &db, "merge", "erp:1", "erp:2"]);
    assert!(out.contains("moved 1 contact points"), "{out}");

    let lines = ok(&["--db", &db, "events", "--since", "0", "--json"]);
    let kinds: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "party.created").count(), 3);
    assert!(kinds.contains(&"party.merged".to_owned()));

    let export: serde_json::Value =
        serde_json::from_str(&ok(&["--db", &db, "export-party", "erp:2"])).unwrap();
    assert_eq!(export["party"]["name"], "张伟", "erp:2 now belongs to the surviving party");

    let out = ok(&["--db", &db, "unmerge", &merged_id(&db)]);
    assert!(out.contains("Zhang Wei") && out.contains("of its own again"), "{out}");
    let export: serde_json::Value =
        serde_json::from_str(&ok(&["--db", &db, "export-party", "erp:2"])).unwrap();
    assert_eq!(export["party"]["name"], "Zhang Wei", "erp:2 is back with its own party");

    let copy = db_arg(&dir.path().join("copy.db"));
    assert!(ok(&["--db", &db, "backup", &copy]).contains("backup written"));
    assert!(ok(&["--db", &copy, "init"]).contains("3 parties"));
    assert_eq!(crm(&["--db", &db, "backup", &copy]).status.code(), Some(2), "never overwrites");
}

#[test]
fn bad_input_exits_2_with_a_readable_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("shop.db"));
    ok(&["--db", &db, "init"]);
    let parties = dir.path().join("bad.csv");
    std::fs::write(&parties, "name,email\nGood,good@example.com\nBad,bad@\n").unwrap();
    let output = crm(&["--db", &db, "import", "parties", parties.to_str().unwrap()]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("line 3, column email: `bad@` is not an e-mail address"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(ok(&["--db", &db, "init"]).contains("0 parties"));

    let errors = dir.path().join("errors.csv");
    let out = ok(&[
        "--db",
        &db,
        "import",
        "parties",
        parties.to_str().unwrap(),
        "--skip-invalid",
        "--errors",
        errors.to_str().unwrap(),
    ]);
    assert!(out.contains("1 created") && out.contains("1 invalid"), "{out}");
    assert!(std::fs::read_to_string(&errors).unwrap().contains("3,email,"));

    let output = crm(&["--db", &db, "party", "show", "erp:404"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output).1.lines().next().unwrap(), "error: party not found: erp:404");

    let output = crm(&["search", "x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--db PATH"));

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database at all, just some text to fill a page...").unwrap();
    let output = crm(&["--db", junk.to_str().unwrap(), "search", "x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("not a crm database"));

    let missing = dir.path().join("missing.db");
    let output = crm(&["--db", missing.to_str().unwrap(), "search", "x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("init"), "{}", text(&output).1);
    assert!(!missing.exists(), "a typo must not create a database");

    let output =
        crm(&["--db", &db, "import", "parties", dir.path().join("nope.csv").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("nope.csv"));
}

#[test]
fn demo_builds_a_database_and_tours_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let out = ok(&["demo", "--db", db.to_str().unwrap(), "--people", "300"]);
    for needle in [
        "imported 30",
        "A short tour",
        "Hierarchy",
        "Search `伟`",
        "Duplicates",
        "Change feed",
        "Agenda",
        "Privacy",
    ] {
        assert!(out.contains(needle), "missing {needle}: {out}");
    }
    let output = crm(&["demo", "--db", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "the demo never overwrites a given path");
    let out = ok(&["--db", db.to_str().unwrap(), "party", "show", "erp:P-00001"]);
    assert!(out.contains("erp:P-00001"));
}

#[test]
fn two_processes_import_into_one_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("shared.db"));
    ok(&["--db", &db, "init"]);
    let files: Vec<_> = ["a", "b"]
        .iter()
        .map(|prefix| {
            let path = dir.path().join(format!("{prefix}.csv"));
            let mut text = String::from("external_id,name\n");
            for n in 0..1_500 {
                text.push_str(&format!("{prefix}:{n},Party {prefix}{n}\n"));
            }
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let running: Vec<_> = files
        .iter()
        .map(|file| {
            Command::new(env!("CARGO_BIN_EXE_crm"))
                .args([
                    "--db",
                    &db,
                    "import",
                    "parties",
                    file.to_str().unwrap(),
                    "--skip-invalid",
                    "--batch-size",
                    "100",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in running {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output).1);
    }
    assert!(ok(&["--db", &db, "init"]).contains("3000 parties"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("demo.db"));
    ok(&["demo", "--db", &db, "--people", "200"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(["--db", &db, "events", "--json", "--limit", "100000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is dropped here, closing the pipe like `| head -1`.
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with('{'));
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn import_products_and_orders_then_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("sales.db"));
    ok(&["--db", &db, "init"]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let parties =
        write("p.csv", "external_id,name,roles\nerp:c1,华东电器,customer\nerp:s1,王芳,employee\n");
    ok(&["--db", &db, "import", "parties", &parties]);
    let products = write(
        "products.csv",
        "sku,name_en,name_zh,unit_cost,cost_currency,price.CNY\nAC,Air conditioner,空调,1800,CNY,2999\n",
    );
    let out = ok(&["--db", &db, "import", "products", &products]);
    assert!(out.contains("1 created"), "{out}");
    let orders = write(
        "orders.csv",
        "order,party,currency,ordered_at,owner,sku,quantity\n\
         SO-1,erp:c1,CNY,2026-03-01,erp:s1,AC,2\n\
         SO-1,erp:c1,CNY,2026-03-01,erp:s1,AC,1\n",
    );
    let out = ok(&["--db", &db, "import", "orders", &orders]);
    assert!(out.contains("2 created"), "{out}");
    let out =
        ok(&["--db", &db, "report", "kpi", "--period", "2026-Q1", "--currency", "CNY", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["rows"][0]["owner_name"], "王芳");
    assert_eq!(report["rows"][0]["revenue"]["amount"], "8997.00");
    assert_eq!(report["rows"][0]["margin"]["amount"], "3597.00");
    let out = ok(&[
        "--db",
        &db,
        "report",
        "kpi",
        "--period",
        "2026-Q1",
        "--currency",
        "CNY",
        "--lang",
        "zh-CN",
    ]);
    assert!(out.contains("销售人员绩效 2026-Q1") && out.contains("8,997.00"), "{out}");
    // Bad input: exit code 2 and a message saying what is wrong.
    let output = crm(&["--db", &db, "report", "kpi", "--period", "2026-Q1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("needs --currency"));
    let output = crm(&["--db", &db, "report", "sla", "--period", "2026-Q5"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("`2026-Q5` is not a period"), "{}", text(&output).1);
    let bad = write(
        "bad.csv",
        "order,party,currency,ordered_at,sku,quantity\nSO-2,erp:c1,CNY,2026-03-01,AC,-1\n",
    );
    let output = crm(&["--db", &db, "import", "orders", &bad]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("line 2, column quantity"), "{:?}", text(&output));
}

#[test]
fn demo_database_answers_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("demo.db"));
    let out = ok(&["--db", &db, "demo", "--people", "300"]);
    assert!(out.contains("销售漏斗 b2b"), "{out}");
    assert!(out.contains("Service levels"), "{out}");
    // The plugins are built before the tests (scripts/test.sh): the demo runs the 入伙 plugin.
    assert!(out.contains("16. Plugin 入伙 handover"), "{out}");
    for report in ["pipeline", "forecast", "sla", "rfm", "clv"] {
        let out = ok(&["--db", &db, "report", report, "--period", "2026", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }
    let out = ok(&["--db", &db, "report", "kpi", "--period", "2026", "--currency", "CNY"]);
    assert!(out.contains("Salesperson KPIs 2026 (CNY)"), "{out}");
    // The analytics reports also write a page with charts.
    for report in ["clv", "rfm", "profit", "churn"] {
        let page = dir.path().join(format!("{report}.html"));
        ok(&["--db", &db, "report", report, "--period", "2026", "--html", page.to_str().unwrap()]);
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"), "{report}");
    }
    let output = crm(&["--db", &db, "report", "sla", "--html", "x.html"]);
    assert_eq!(output.status.code(), Some(2));
    // The demo wrote the CDNOW page beside its database.
    let page = std::fs::read_to_string(dir.path().join("demo.html")).unwrap();
    assert!(
        page.contains("Fitted models against the published estimates") && page.contains("<svg")
    );
    ok(&["--db", &db, "lifecycle"]);
    assert!(ok(&["--db", &db, "score"]).contains("scored"));
    // Rules and segments.
    let out = ok(&["--db", &db, "segment", "create", "vips", "--condition", r#""vip" in tags"#]);
    assert!(out.contains("segment vips:"), "{out}");
    assert!(ok(&["--db", &db, "segment", "list"]).contains("win-back"));
    assert!(
        ok(&["--db", &db, "tick", "--now", "2026-12-01T00:00:00Z"])
            .contains("segments re-evaluated")
    );
    let output = crm(&["--db", &db, "rule", "check", "--expr", "stag == 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).1.contains("<expr>:1:1: unknown name `stag` (did you mean `stage`?)"),
        "{}",
        text(&output).1
    );
    ok(&[
        "--db",
        &db,
        "rule",
        "check",
        "--expr",
        r#"score("p_alive") < 0.5 && days_since(last_order) > 90"#,
    ]);
    let out = ok(&["--db", &db, "report", "key-accounts", "--json"]);
    let accounts: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(accounts[0]["clv"].as_f64().is_some(), "{out}");
    // Campaigns and loyalty.
    let out = ok(&["--db", &db, "campaign", "report", "win-back-spring", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(report["treatment"]["members"].as_u64().unwrap() > 0, "{out}");
    let out = ok(&[
        "--db",
        &db,
        "campaign",
        "create",
        "vip-thanks",
        "--segment",
        "vips",
        "--template",
        "Thank you {name}",
        "--variant",
        "zh:zh:谢谢{name}",
        "--control",
        "0.5",
        "--seed",
        "3",
    ]);
    assert!(out.contains("campaign vip-thanks created"), "{out}");
    assert!(ok(&["--db", &db, "campaign", "run", "vip-thanks"]).contains("enrolled"));
    assert!(ok(&["--db", &db, "campaign", "report", "vip-thanks"]).contains("uplift"));
    assert!(ok(&["--db", &db, "campaign", "list"]).contains("vip-thanks"));
    let output =
        crm(&["--db", &db, "campaign", "create", "x", "--segment", "nope", "--template", "Hi"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("segment not found: nope"), "{}", text(&output).1);
    let out = ok(&["--db", &db, "loyalty", "balance", "erp:P-00001"]);
    assert!(out.contains(" points"), "{out}");
    let out = ok(&["--db", &db, "loyalty", "history", "erp:P-00001", "--json"]);
    assert!(serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().is_some());
    let out = ok(&[
        "--db", &db, "loyalty", "create", "stamps", "--earn", "1", "--tier", "basic=0", "--tier",
        "star=10",
    ]);
    assert!(out.contains("loyalty programme stamps created"), "{out}");
    let output = crm(&["--db", &db, "loyalty", "create", "bad", "--earn", "order.total"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("use floor()"), "{}", text(&output).1);
}

/// Everything from the command line: setup, rates, opportunities and cases,
/// then converted reports.
#[test]
fn setup_rates_opportunities_and_cases_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("service.db"));
    ok(&["--db", &db, "init"]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let bad =
        write("bad.json", r#"{ "pipelines": [{ "code": "b2b", "name": "B2B", "stagse": [] }] }"#);
    let output = crm(&["--db", &db, "setup", &bad]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("unknown field `stagse`"), "{}", text(&output).1);
    let no_calendar = write(
        "no-calendar.json",
        r#"{ "pipelines": [{ "code": "b2b", "name": "B2B", "stages": [{ "code": "q", "name_en": "Q", "name_zh": "问", "probability": 10 }] }],
             "sla_policies": [{ "code": "default", "name": "Std", "calendar": "missing" }] }"#,
    );
    let output = crm(&["--db", &db, "setup", &no_calendar]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("calendar not found: missing"), "{}", text(&output).1);
    assert!(
        text(&output).1.contains("sla_policies[0] (default): calendar not found")
            && text(&output).1.contains("nothing was saved"),
        "{}",
        text(&output).1
    );
    let setup = write(
        "setup.json",
        r#"{
          "calendars": [{ "code": "cn", "time_zone": "Asia/Shanghai", "weekdays": ["09:00-12:00", "13:00-18:00"],
                          "holidays": ["2026-10-01"], "working_days": ["2026-10-10"] }],
          "sla_policies": [{ "code": "default", "name": "Std", "calendar": "cn",
                             "targets": [{ "priority": "high", "first_response_minutes": 60, "resolution_minutes": 480 }] }],
          "pipelines": [{ "code": "b2b", "name": "B2B", "stages": [
              { "code": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 10 },
              { "code": "propose", "name_en": "Propose", "name_zh": "方案报价", "probability": 50 } ] }]
        }"#,
    );
    assert!(
        ok(&["--db", &db, "setup", &setup]).contains("1 calendars, 1 SLA policies, 1 pipelines")
    );
    let parties =
        write("p.csv", "external_id,name,roles\nerp:c1,华东电器,customer\nerp:s1,王芳,employee\n");
    ok(&["--db", &db, "import", "parties", &parties]);
    let rates = write("rates.csv", "base,quote,date,rate\nUSD,CNY,2026-09-01,7.10\n");
    assert!(ok(&["--db", &db, "import", "fx-rates", &rates]).contains("1 created"));
    assert!(ok(&["--db", &db, "import", "fx-rates", &rates]).contains("1 unchanged"));
    let deals = write(
        "deals.csv",
        "external_id,party,pipeline,title,amount,currency,expected_close,owner,stage\n\
         D1,erp:c1,b2b,Chiller,100000,CNY,2026-09-30,erp:s1,propose\n\
         D2,erp:c1,b2b,Pumps,1000,USD,2026-09-15,erp:s1,qualify\n",
    );
    ok(&["--db", &db, "import", "opportunities", &deals]);
    let out = ok(&[
        "--db",
        &db,
        "report",
        "pipeline",
        "--currency",
        "CNY",
        "--as-of",
        "2026-09-05",
        "--json",
    ]);
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    // 50 % of 100,000 + 10 % of (1,000 × 7.10) at the latest rate.
    let weighted: Vec<&str> = reports[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["weighted"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(weighted, ["710.00", "50000.00"]);
    let cases = write(
        "cases.csv",
        "external_id,party,type,priority,channel,subject,opened_at,assignee\n\
         C1,erp:c1,repair,high,wechat,空调不制冷,2026-09-30 09:00,erp:s1\n",
    );
    ok(&["--db", &db, "import", "cases", &cases]);
    let out = ok(&[
        "--db",
        &db,
        "report",
        "sla",
        "--period",
        "2026-09",
        "--as-of",
        "2026-09-30",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["report"]["rows"][0]["priority"], "high");
    assert_eq!(report["report"]["rows"][0]["cases"], 1);
}

/// `crm fit` on the CDNOW log prints the published BG/NBD parameters.
#[test]
fn fit_bg_nbd_on_the_cdnow_log() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crm-core/tests/data/cdnow/CDNOW_sample.txt");
    let mut csv = String::from("customer,date,amount\n");
    for line in std::fs::read_to_string(source).unwrap().lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        csv.push_str(&format!("{},{},{}\n", cells[1], cells[2], cells[4]));
    }
    let path = dir.path().join("cdnow.csv");
    std::fs::write(&path, csv).unwrap();
    let file = path.to_str().unwrap();
    let args = [
        "fit",
        "bg-nbd",
        "--transactions",
        file,
        "--calibration-end",
        "1997-09-30",
        "--observation-end",
        "1998-06-30",
        "--json",
    ];
    let out: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(out["model"], "bg-nbd");
    assert_eq!(out["converged"], true);
    let r = out["params"]["r"].as_f64().unwrap();
    let alpha = out["params"]["alpha"].as_f64().unwrap();
    assert_eq!(((r * 1000.0).round(), (alpha * 1000.0).round()), (243.0, 4414.0));
    assert_eq!((out["log_likelihood"].as_f64().unwrap() * 10.0).round() / 10.0, -9582.4);
    // Gamma-Gamma needs amounts; without them the error says so.
    let output =
        crm(&["fit", "gamma-gamma", "--transactions", file, "--calibration-end", "1997-09-30"]);
    assert_eq!(output.status.code(), Some(2));
    let output = crm(&["fit", "bg-nbd", "--transactions", file, "--date-col", "day"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("no column `day`"), "{}", text(&output).1);
}

/// `crm plugin …` with the fixture plugin (built by scripts/test.sh).
#[test]
fn plugins_from_the_command_line() {
    let plugins = std::env::var("CRM_PLUGINS_DIR").unwrap_or_else(|_| {
        format!("{}/../plugins/target/wasm32-wasip2/release", env!("CARGO_MANIFEST_DIR"))
    });
    let wasm = format!("{plugins}/crm_plugin_fixture.wasm");
    let bytes = std::fs::read(&wasm).unwrap_or_else(|e| panic!("{wasm}: {e} (build the plugins)"));
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(&dir.path().join("plugins.db"));
    ok(&["--db", &db, "init"]);
    let manifest = dir.path().join("plugin.toml");
    std::fs::write(
        &manifest,
        format!(
            "name = \"fixture\"\nversion = \"0.1.0\"\nwit = \"0.1.0\"\nsha256 = \"{}\"\ncapabilities = [\"parties.read\", \"parties.write\", \"documents\"]\nevents = [\"party.created\"]\ncommands = [\"echo\", \"loop\", \"remember\"]\n",
            crm_wasm_host::sha256_hex(&bytes)
        ),
    )
    .unwrap();
    let m = manifest.to_str().unwrap();
    // Not granting what it imports: refused, naming the capability.
    let output =
        crm(&["--db", &db, "plugin", "install", &wasm, "--manifest", m, "--grant", "documents"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("needs capability `parties.read`"), "{}", text(&output).1);
    let out = ok(&[
        "--db",
        &db,
        "plugin",
        "install",
        &wasm,
        "--manifest",
        m,
        "--grant",
        "parties.read,parties.write,documents",
    ]);
    assert!(out.contains("installed fixture 0.1.0"), "{out}");
    assert!(ok(&["--db", &db, "plugin", "list"]).contains("parties.read"));
    assert_eq!(
        ok(&["--db", &db, "plugin", "call", "fixture", "echo", "--json", "[1,2]"]).trim(),
        "[1,2]"
    );
    assert_eq!(ok(&["--db", &db, "plugin", "call", "fixture", "remember"]).trim(), "1");
    assert_eq!(ok(&["--db", &db, "plugin", "call", "fixture", "remember"]).trim(), "2");
    // Later runs load the compiled component from the cache.
    let sha = crm_wasm_host::sha256_hex(&bytes);
    let cache = std::path::Path::new(concat!(env!("CARGO_TARGET_TMPDIR"), "/plugin-cache"));
    assert!(
        std::fs::read_dir(cache).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(&sha)),
        "no cached component in {}",
        cache.display()
    );
    let output = crm(&["--db", &db, "plugin", "call", "fixture", "loop"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("deadline"), "{}", text(&output).1);
    let output = crm(&["--db", &db, "plugin", "call", "fixture", "dance"]);
    assert_eq!(output.status.code(), Some(2));
    let output = crm(&["--db", &db, "plugin", "grant", "fixture", "everything"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("unknown capability"), "{}", text(&output).1);
    // The change feed reaches it on tick.
    ok(&["--db", &db, "import", "parties", &{
        let csv = dir.path().join("p.csv");
        std::fs::write(&csv, "name,kind\nZhou,person\n").unwrap();
        csv.to_str().unwrap().to_owned()
    }]);
    assert!(ok(&["--db", &db, "tick"]).contains("1 events delivered"));
    assert!(ok(&["--db", &db, "party", "list"]).contains("Zhou"));
    assert!(ok(&["--db", &db, "plugin", "uninstall", "fixture"]).contains("uninstalled"));
    assert_eq!(crm(&["--db", &db, "plugin", "uninstall", "fixture"]).status.code(), Some(2));
}
