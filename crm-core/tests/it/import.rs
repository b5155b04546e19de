use std::path::Path;

use crm_core::{
    Crm, Error, FieldDef, FieldType, ImportFormat, ImportKind, ImportOptions, ImportProgress,
    ImportReport, Role,
};

use crate::support::{crm, fingerprint};

fn import(
    crm: &Crm,
    kind: ImportKind,
    format: ImportFormat,
    text: &[u8],
    options: ImportOptions,
) -> ImportReport {
    crm.import_reader(kind, text, format, &options.format(format), &mut |_| {}).unwrap()
}

fn csv(crm: &Crm, kind: ImportKind, text: &str) -> ImportReport {
    import(crm, kind, ImportFormat::Csv, text.as_bytes(), ImportOptions::default())
}

fn errors(report: &ImportReport) -> Vec<String> {
    report.errors.iter().map(ToString::to_string).collect()
}

const PARTIES: &str = "\
external_id,kind,name,roles,tags,email,mobile,country,consent,field.tier,notes
erp:1,organization,华东电器,distributor;customer,vip,sales@huadong.cn,,CN,marketing,gold,Key account
erp:2,person,张伟,customer,,zhang.wei@example.com,138 0013 8000,CN,marketing;service,,
erp:3,person,Li Na,prospect,north;south,,+86 139 0000 0001,,,silver,\"Met at fair, Shanghai\"
";

fn with_tier(crm: &Crm) {
    crm.write(|tx| {
        tx.define_field(FieldDef::new(
            "tier",
            FieldType::Enum(vec!["gold".into(), "silver".into()]),
        ))
    })
    .unwrap();
}

#[test]
fn csv_parties_import_and_reimport_is_idempotent() {
    let crm = crm();
    with_tier(&crm);
    let report = csv(&crm, ImportKind::Parties, PARTIES);
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!((report.rows_read, report.created, report.committed), (3, 3, true));
    let zhang = crm.read(|tx| tx.resolve_party("erp:2")).unwrap();
    assert_eq!(zhang.contacts.len(), 2);
    assert_eq!(zhang.contacts[1].normalized, "+8613800138000");
    assert!(zhang.contacts.iter().all(|c| c.allows("marketing") && c.allows("service")));
    let li = crm.read(|tx| tx.resolve_party("erp:3")).unwrap();
    assert_eq!(li.notes.as_deref(), Some("Met at fair, Shanghai"));
    assert_eq!(li.tags, ["north", "south"]);
    assert!(li.roles.iter().any(|r| r.role == Role::Prospect));

    assert_eq!(
        crm.read(|tx| tx.search("华东", 0, 10)).unwrap().total,
        1,
        "imported rows are indexed"
    );
    assert_eq!(crm.read(|tx| tx.search("伟", 0, 10)).unwrap().total, 1);
    let seq = crm.read(|tx| tx.last_event_seq()).unwrap();
    let again = csv(&crm, ImportKind::Parties, PARTIES);
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(crm.read(|tx| tx.last_event_seq()).unwrap(), seq, "a no-op import records nothing");
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 3);
}

#[test]
fn all_or_nothing_reports_every_bad_row_and_writes_nothing() {
    let crm = crm();
    with_tier(&crm);
    let before = fingerprint(&crm);
    let text = "\
external_id,name,email,mobile,roles,field.tier,currency
erp:1,Good,good@example.com,,customer,gold,CNY
erp:2,,x@example.com,,,,
erp:3,Bad Mail,bad@,,,,
erp:4,Bad Phone,,12ab,,,
erp:5,Bad Role,,,buyer,,
erp:6,Bad Enum,,,,bronze,
erp:7,Bad Currency,,,,,RMB1
erp:1,Dup In File,,,,,
";
    let report = csv(&crm, ImportKind::Parties, text);
    assert!(!report.committed);
    assert_eq!(
        errors(&report),
        [
            "line 3, column name: is required",
            "line 4, column email: `bad@` is not an e-mail address: domain has no dot",
            "line 5, column mobile: `12ab` is not a phone number: unexpected `a`",
            "line 6, column roles: unknown code `buyer`, expected one of: customer, prospect, distributor, agent, partner, supplier, employee, contact",
            "line 7, column field.tier: `bronze` is not one of: gold, silver",
            "line 8, column currency: `RMB1` is not an ISO 4217 code (three letters)",
        ]
    );
    assert_eq!(fingerprint(&crm), before);
}

#[test]
fn skip_invalid_writes_good_rows_and_an_error_file() {
    let crm = crm();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "name,email\nA,a@example.com\nB,nope\nC,c@example.com\n").unwrap();
    let mut seen: Vec<ImportProgress> = Vec::new();
    let report = crm
        .import_file(
            ImportKind::Parties,
            &input,
            &ImportOptions::default().skip_invalid().batch_size(1),
            &mut |p| seen.push(*p),
        )
        .unwrap();
    assert!(report.committed);
    assert_eq!((report.created, report.errors.len()), (2, 1));
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 2);
    assert_eq!(seen.last().unwrap().rows_committed, 2);
    assert!(seen.windows(2).all(|w| w[0].rows_committed <= w[1].rows_committed));
    let error_file = dir.path().join("errors.csv");
    report.write_errors_csv(&error_file).unwrap();
    let written = std::fs::read_to_string(&error_file).unwrap();
    assert_eq!(
        written,
        "line,column,error,name,email\n3,email,`nope` is not an e-mail address: no @,B,nope\n"
    );
}

#[test]
fn malformed_csv_is_reported_per_row() {
    let crm = crm();
    let mut text = b"name,email\nToo,many,cells\nOk,ok@example.com\n".to_vec();
    text.extend_from_slice(b"Bad \xff UTF8,x@example.com\n\"Unclosed,quote@example.com\n");
    let report =
        import(&crm, ImportKind::Parties, ImportFormat::Csv, &text, ImportOptions::default());
    assert_eq!(
        errors(&report),
        [
            "line 2: expected 2 fields (as in the header), found 3; check quoting",
            "line 4, column name: not valid UTF-8",
            "line 5: expected 2 fields (as in the header), found 1; check quoting",
        ]
    );
    assert!(!report.committed);
}

#[test]
fn bad_headers_fail_before_anything_is_read() {
    let crm = crm();
    let header_error = |text: &str| {
        crm.import_reader(
            ImportKind::Parties,
            text.as_bytes(),
            ImportFormat::Csv,
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap_err()
    };
    let error = header_error("name,emial\nA,a@example.com\n");
    assert_eq!(
        error.to_string(),
        "invalid row 1, column emial: unknown column `emial`; did you mean `email`?"
    );
    let error = header_error("name,Name\n");
    assert!(matches!(error, Error::Invalid { .. }));
    // A column map renames headers.
    let report = import(
        &crm,
        ImportKind::Parties,
        ImportFormat::Csv,
        "Full Name,E-Mail\nA,a@example.com\n".as_bytes(),
        ImportOptions::default().map_column("Full Name", "name").map_column("e-mail", "email"),
    );
    assert_eq!((report.created, report.errors.len()), (1, 0));
}

#[test]
fn json_lines_import_parties_relationships_and_interactions() {
    let crm = crm();
    with_tier(&crm);
    let parties = br#"{"external_id":"crm:1","kind":"organization","name":"Group","roles":["customer"]}
{"external_id":"crm:2","kind":"organization","name":"Sub","fields":{"tier":"gold"},"tags":["a","b"]}

{"external_id":"crm:3","name":"Buyer","email":"buyer@example.com","phone":"010 1234 5678","country":"CN"}
{"external_id":"crm:4","name":"Broken","fields":{"tier":{"nested":true}}}
not json
"#;
    let report = import(
        &crm,
        ImportKind::Parties,
        ImportFormat::JsonLines,
        parties,
        ImportOptions::default().skip_invalid(),
    );
    assert_eq!(
        errors(&report),
        [
            "line 5, column field.tier: nested objects are allowed only under `fields`",
            "line 6: not a JSON object: expected ident at line 1 column 2",
        ]
    );
    assert_eq!(report.created, 3);
    let relationships = "from,kind,to,role,since\ncrm:2,subsidiary-of,crm:1,,2025-01-01\ncrm:3,employee-of,crm:2,buyer,\ncrm:1,subsidiary-of,crm:2,,\ncrm:9,employee-of,crm:2,,\n";
    let report = import(
        &crm,
        ImportKind::Relationships,
        ImportFormat::Csv,
        relationships.as_bytes(),
        ImportOptions::default().skip_invalid(),
    );
    assert_eq!(report.created, 2);
    assert_eq!(report.errors.len(), 2);
    assert!(report.errors[0].reason.contains("cycle"), "{:?}", report.errors[0]);
    assert_eq!(
        report.errors[1].to_string(),
        "line 5, column from: no party with id or external id `crm:9`"
    );
    let again = import(
        &crm,
        ImportKind::Relationships,
        ImportFormat::Csv,
        relationships.as_bytes(),
        ImportOptions::default().skip_invalid(),
    );
    assert_eq!((again.created, again.unchanged), (0, 2));

    let interactions = br#"{"external_id":"m1","party":"crm:3","channel":"wechat","at":"2026-02-01 10:00","subject":"Asked for a quote"}
{"external_id":"m2","party":"crm:3","channel":"telex","at":"2026-02-01T10:00:00Z","subject":"x"}
{"external_id":"m3","party":"crm:3","channel":"email","direction":"outbound","at":"yesterday","subject":"x"}
"#;
    let report = import(
        &crm,
        ImportKind::Interactions,
        ImportFormat::JsonLines,
        interactions,
        ImportOptions::default(),
    );
    assert!(!report.committed);
    assert_eq!(report.errors.len(), 2);
    assert_eq!(report.errors[0].column.as_deref(), Some("channel"));
    assert_eq!(report.errors[1].column.as_deref(), Some("at"));
    let good = &interactions[..interactions.iter().position(|b| *b == b'\n').unwrap() + 1];
    let report = import(
        &crm,
        ImportKind::Interactions,
        ImportFormat::JsonLines,
        good,
        ImportOptions::default(),
    );
    assert_eq!(report.created, 1);
    let report = import(
        &crm,
        ImportKind::Interactions,
        ImportFormat::JsonLines,
        good,
        ImportOptions::default(),
    );
    assert_eq!(report.unchanged, 1);
    assert_eq!(crm.read(|tx| tx.search("quote", 0, 10)).unwrap().total, 1);
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let crm = crm();
    let error = crm
        .import_file(
            ImportKind::Parties,
            Path::new("/nonexistent/parties.csv"),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(error, Error::Io { .. }));
    assert!(error.to_string().contains("/nonexistent/parties.csv"));
}

#[test]
fn progress_is_reported_while_streaming() {
    let crm = crm();
    let mut text = String::from("name\n");
    for n in 0..2_500 {
        text.push_str(&format!("Party {n}\n"));
    }
    let mut calls = Vec::new();
    let report = crm
        .import_reader(
            ImportKind::Parties,
            text.as_bytes(),
            ImportFormat::Csv,
            &ImportOptions::default().progress_every(1_000),
            &mut |p| calls.push(*p),
        )
        .unwrap();
    assert_eq!(report.created, 2_500);
    let reads: Vec<u64> = calls.iter().map(|p| p.rows_read).collect();
    assert_eq!(reads, [1_000, 2_000, 2_500]);
    assert_eq!(calls.last().unwrap().rows_committed, 2_500);
    assert_eq!(calls.last().unwrap().bytes_read, text.len() as u64);
}

#[test]
fn a_bad_update_row_changes_nothing_even_when_skipping() {
    let crm = crm();
    csv(&crm, ImportKind::Parties, "external_id,name,email\nerp:1,First,first@example.com\n");
    let before = crm.read(|tx| tx.resolve_party("erp:1")).unwrap();
    let seq = crm.read(|tx| tx.last_event_seq()).unwrap();
    let report = import(
        &crm,
        ImportKind::Parties,
        ImportFormat::Csv,
        "external_id,name,email,mobile\nerp:1,Renamed,first@example.com,not-a-phone\n".as_bytes(),
        ImportOptions::default().skip_invalid(),
    );
    assert_eq!(
        errors(&report),
        ["line 2, column mobile: `not-a-phone` is not a phone number: unexpected `n`"]
    );
    assert_eq!(crm.read(|tx| tx.resolve_party("erp:1")).unwrap(), before);
    assert_eq!(crm.read(|tx| tx.last_event_seq()).unwrap(), seq);
}

#[test]
fn reimporting_a_relationship_with_a_new_role_updates_it() {
    let crm = crm();
    csv(
        &crm,
        ImportKind::Parties,
        "external_id,name,kind\nerp:1,Person,person\nerp:2,Company,organization\n",
    );
    let first =
        csv(&crm, ImportKind::Relationships, "from,kind,to,role\nerp:1,employee-of,erp:2,buyer\n");
    assert_eq!(first.created, 1);
    let second = csv(
        &crm,
        ImportKind::Relationships,
        "from,kind,to,role,until\nerp:1,employee-of,erp:2,manager,2026-12-31\n",
    );
    assert_eq!((second.created, second.updated), (0, 1));
    let person = crm.read(|tx| tx.resolve_party("erp:1")).unwrap();
    let edges = crm.read(|tx| tx.relationships_of(person.id, None)).unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].role.as_deref(), Some("manager"));
    let bad = csv(
        &crm,
        ImportKind::Relationships,
        "from,kind,to,since,until\nerp:1,employee-of,erp:2,2026-05-01,2026-01-01\n",
    );
    assert_eq!(errors(&bad), ["line 2, column until: 2026-01-01 is before since 2026-05-01"]);
}

mod round_trip {
    use proptest::prelude::*;

    use super::*;

    /// Text with the characters CSV must quote, Chinese, and spaces inside.
    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z张伟李娜王芳 ,\"'\\n;é]{1,12}"
            .prop_filter("names are not blank", |s| !s.trim().is_empty())
    }

    fn tag() -> impl Strategy<Value = String> {
        "[a-z0-9张伟-]{1,8}"
    }

    #[derive(Debug, Clone)]
    struct Row {
        name: String,
        notes: String,
        tags: Vec<String>,
        email_user: String,
        organization: bool,
    }

    fn row() -> impl Strategy<Value = Row> {
        (text(), text(), prop::collection::btree_set(tag(), 0..3), "[a-z0-9]{1,8}", any::<bool>())
            .prop_map(|(name, notes, tags, email_user, organization)| Row {
                name: name.trim().to_owned(),
                notes,
                tags: tags.into_iter().collect(),
                email_user,
                organization,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

        /// Parties written as CSV by a standard writer and imported read back
        /// equal, whatever the quoting; a second import changes nothing.
        #[test]
        fn csv_written_parties_import_back_equal(rows in prop::collection::vec(row(), 1..6)) {
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(["external_id", "kind", "name", "notes", "tags", "email"]).unwrap();
            for (n, row) in rows.iter().enumerate() {
                writer.write_record([
                    format!("src:{n}"),
                    if row.organization { "organization".into() } else { "person".into() },
                    row.name.clone(),
                    row.notes.clone(),
                    row.tags.join(";"),
                    format!("{}@example.com", row.email_user),
                ]).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            let crm = crm();
            let report = import(&crm, ImportKind::Parties, ImportFormat::Csv, &bytes, ImportOptions::default());
            prop_assert_eq!(errors(&report), Vec::<String>::new());
            for (n, row) in rows.iter().enumerate() {
                let party = crm.read(|tx| tx.resolve_party(&format!("src:{n}"))).unwrap();
                prop_assert_eq!(&party.name, &row.name);
                prop_assert_eq!(party.notes.as_deref(), Some(row.notes.as_str()).filter(|n| !n.trim().is_empty()));
                prop_assert_eq!(&party.tags, &row.tags);
                prop_assert_eq!(party.kind == crm_core::PartyKind::Organization, row.organization);
                prop_assert_eq!(&party.contacts[0].normalized, &format!("{}@example.com", row.email_user));
            }
            let again = import(&crm, ImportKind::Parties, ImportFormat::Csv, &bytes, ImportOptions::default());
            prop_assert_eq!(again.unchanged, rows.len() as u64);
        }
    }
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

        /// Whatever bytes arrive, the importer reports; it never panics and
        /// never writes half a file in all-or-nothing mode.
        #[test]
        fn arbitrary_csv_bytes(body in prop::collection::vec(any::<u8>(), 0..400)) {
            let crm = crm();
            let mut input = b"external_id,name,email,mobile,roles,tags,field.x\n".to_vec();
            input.extend_from_slice(&body);
            match crm.import_reader(ImportKind::Parties, input.as_slice(), ImportFormat::Csv, &ImportOptions::default(), &mut |_| {}) {
                Ok(report) if !report.committed => prop_assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 0),
                Ok(report) => prop_assert!(report.errors.is_empty()),
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }

        #[test]
        fn arbitrary_json_lines(body in "(\\{[\"a-z:,0-9 \\[\\]{}]{0,40}\\}\n){0,5}") {
            let crm = crm();
            let result = crm.import_reader(ImportKind::Interactions, body.as_bytes(), ImportFormat::JsonLines, &ImportOptions::default().skip_invalid(), &mut |_| {});
            prop_assert!(result.is_ok());
        }
    }
}

fn columns(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(name, cells)| ((*name).to_owned(), cells.iter().map(|c| (*c).to_owned()).collect()))
        .collect()
}

#[test]
fn columns_import_like_a_file_with_rows_numbered_from_one() {
    let crm = crm();
    let data = columns(&[
        ("external_id", &["erp:1", "erp:2", "erp:3"]),
        ("name", &["李雷 Li Lei", "Han Meimei", "Wei"]),
        ("email", &["li@example.com", "not-an-email", ""]),
    ]);
    let before = fingerprint(&crm);
    let report = crm
        .import_columns(ImportKind::Parties, data.clone(), &ImportOptions::default(), &mut |_| {})
        .unwrap();
    assert!(!report.committed);
    assert_eq!(
        errors(&report),
        ["line 2, column email: `not-an-email` is not an e-mail address: no @"]
    );
    assert_eq!(fingerprint(&crm), before);
    let report = crm
        .import_columns(
            ImportKind::Parties,
            data,
            &ImportOptions::default().skip_invalid(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((report.created, report.rows_read), (2, 3));
    assert_eq!(crm.read(|tx| tx.resolve_party("erp:1")).unwrap().name, "李雷 Li Lei");
}

#[test]
fn columns_of_unequal_length_or_unknown_names_are_refused_before_any_row() {
    let crm = crm();
    let error = crm
        .import_columns(
            ImportKind::Parties,
            columns(&[("name", &["A", "B"]), ("email", &["a@example.com"])]),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(error.to_string().contains("column `email` has 1 values, `name` has 2"), "{error}");
    let error = crm
        .import_columns(
            ImportKind::Parties,
            columns(&[("name", &["A"]), ("emial", &["a@example.com"])]),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(error.to_string().contains("did you mean `email`?"), "{error}");
    assert_eq!(crm.read(|tx| tx.count_parties()).unwrap(), 0);
}
