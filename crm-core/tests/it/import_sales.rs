//! Importing products, orders (one row per line), opportunities and cases.

use crm_core::{
    CaseStatus, Crm, Currency, ImportFormat, ImportKind, ImportOptions, ImportReport, Money,
    NewParty, OpportunityStatus, OrderStatus, Pipeline, PipelineStage, Priority, SlaPolicy,
    WorkingCalendar,
};

use crate::support::{crm, fingerprint};

fn csv(crm: &Crm, kind: ImportKind, text: &str) -> ImportReport {
    crm.import_reader(
        kind,
        text.as_bytes(),
        ImportFormat::Csv,
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap()
}

fn errors(report: &ImportReport) -> Vec<String> {
    report.errors.iter().map(ToString::to_string).collect()
}

const PRODUCTS: &str = "\
sku,name_en,name_zh,category,unit_cost,cost_currency,price.CNY,price.usd
AC-1200,Air conditioner,空调,hvac,1800,CNY,2999,429
FILTER,Filter,滤网,parts,12.50,CNY,39.90,
";

const ORDERS: &str = "\
order,party,currency,ordered_at,status,owner,sku,quantity,unit_price,discount
SO-1,erp:c1,CNY,2026-03-01 10:00,delivered,erp:s1,AC-1200,2,,5
SO-1,erp:c1,CNY,2026-03-01 10:00,delivered,erp:s1,FILTER,4,,
SO-2,erp:c2,USD,2026-03-02T08:00:00Z,confirmed,,AC-1200,1,400,
";

fn parties(crm: &Crm) {
    crm.write(|tx| {
        tx.create_party(NewParty::organization("华东电器").with_external_id("erp", "c1"))?;
        tx.create_party(NewParty::organization("Acme").with_external_id("erp", "c2"))?;
        tx.create_party(NewParty::person("王芳").with_external_id("erp", "s1"))?;
        tx.set_fx_rate(crm_core::FxRate::new(
            Currency::USD,
            Currency::CNY,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            crm_core::Decimal::parse("7.2")?,
        ))
    })
    .unwrap();
}

#[test]
fn products_then_orders_one_row_per_line_and_reimport_is_a_no_op() {
    let crm = crm();
    parties(&crm);
    let report = csv(&crm, ImportKind::Products, PRODUCTS);
    assert_eq!((errors(&report), report.created), (Vec::<String>::new(), 2));
    let ac = crm.read(|tx| tx.product_by_sku("AC-1200")).unwrap();
    assert_eq!(ac.prices.len(), 2);
    assert_eq!(ac.price_in(Currency::USD), Some(Money::new(42_900, Currency::USD)));
    let report = csv(&crm, ImportKind::Orders, ORDERS);
    assert_eq!(errors(&report), Vec::<String>::new());
    assert_eq!(report.created, 3);
    let order = crm.read(|tx| tx.find_order_by_external_id("SO-1")).unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Delivered);
    assert_eq!(order.lines.len(), 2);
    // 2 × 2999 × 0.95 + 4 × 39.90
    assert_eq!(order.revenue, Money::parse("5857.70", Currency::CNY).unwrap());
    assert!(order.lines.iter().all(|l| l.shipped == l.quantity));
    let usd = crm.read(|tx| tx.find_order_by_external_id("SO-2")).unwrap().unwrap();
    // Cost captured in USD: 1800 / 7.2 = 250.00.
    assert_eq!(usd.cost, Money::parse("250", Currency::USD).unwrap());
    let before = fingerprint(&crm);
    let again = csv(&crm, ImportKind::Orders, ORDERS);
    assert_eq!((again.created, again.unchanged), (0, 3));
    assert_eq!(fingerprint(&crm), before);
    let again = csv(&crm, ImportKind::Products, PRODUCTS);
    assert_eq!(again.unchanged, 2);
}

#[test]
fn bad_order_rows_name_line_and_column_and_write_nothing() {
    let crm = crm();
    parties(&crm);
    csv(&crm, ImportKind::Products, PRODUCTS);
    let before = fingerprint(&crm);
    let report = csv(
        &crm,
        ImportKind::Orders,
        "order,party,currency,ordered_at,sku,quantity,discount\n\
         SO-9,erp:c1,CNY,2026-03-01,AC-1200,-2,\n\
         SO-9,erp:nobody,CNY,2026-03-01,AC-1200,1,\n\
         SO-9,erp:c1,CNY,2026-03-01,NOPE,1,\n\
         SO-9,erp:c1,CNY,2026-03-01,AC-1200,1,120\n\
         SO-9,erp:c1,XX,2026-03-01,AC-1200,1,\n",
    );
    assert!(!report.committed);
    assert_eq!(
        errors(&report),
        [
            "line 2, column quantity: -2 for AC-1200 must be positive (returns are recorded with return_items)",
            "line 3, column party: no party with id or external id `erp:nobody`",
            "line 4, column sku: no product with SKU `NOPE`",
            "line 5, column discount: `120` is not a percentage from 0 to 100 with at most two decimals",
            "line 6, column currency: `XX` is not an ISO 4217 code (three letters)",
        ]
    );
    assert_eq!(fingerprint(&crm), before);
}

#[test]
fn opportunities_and_cases_import_with_status() {
    let crm = crm();
    parties(&crm);
    crm.write(|tx| {
        tx.save_pipeline(
            Pipeline::new("b2b", "B2B")
                .with_stage(PipelineStage::new("qualify", "Qualify", "资格确认", 10))
                .with_stage(PipelineStage::new("propose", "Propose", "方案报价", 50)),
        )?;
        tx.save_calendar(
            WorkingCalendar::new("cn", "Asia/Shanghai")?.with_weekdays(&["09:00-18:00"])?,
        )?;
        tx.save_sla_policy(SlaPolicy::new("default", "Std", "cn").with_target(
            Priority::High,
            None,
            Some(60),
            Some(480),
        ))
    })
    .unwrap();
    let report = csv(
        &crm,
        ImportKind::Opportunities,
        "external_id,party,pipeline,title,amount,currency,expected_close,owner,stage,status,reason\n\
         OP-1,erp:c1,b2b,Chiller,800000,CNY,2026-09-30,erp:s1,propose,,\n\
         OP-2,erp:c2,b2b,Pumps,12000,USD,2026-08-31,,qualify,lost,price\n\
         OP-3,erp:c2,b2b,Fans,1000,USD,2026-08-31,,qualify,lost,\n",
    );
    assert_eq!(errors(&report), ["line 4, column reason: is required for a lost opportunity"]);
    let report = crm
        .import_reader(
            ImportKind::Opportunities,
            "external_id,party,pipeline,title,amount,currency,expected_close,stage,status,reason\n\
             OP-1,erp:c1,b2b,Chiller,800000,CNY,2026-09-30,propose,,\n\
             OP-2,erp:c2,b2b,Pumps,12000,USD,2026-08-31,qualify,lost,price\n"
                .as_bytes(),
            ImportFormat::Csv,
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((report.created, errors(&report)), (2, Vec::<String>::new()));
    let lost = crm.read(|tx| tx.find_opportunity_by_external_id("OP-2")).unwrap().unwrap();
    assert_eq!(lost.status, OpportunityStatus::Lost);
    let report = csv(
        &crm,
        ImportKind::Cases,
        "external_id,party,type,priority,channel,subject,opened_at,status,satisfaction,churn_reason\n\
         CS-1,erp:c1,complaint,high,wechat,噪音大,2026-03-02 01:00,closed,2,service-quality\n\
         CS-2,erp:c2,inquiry,high,email,Manual?,2026-03-02 01:00,,,\n\
         CS-3,erp:c2,inquiry,high,pigeon,?,2026-03-02 01:00,,,\n",
    );
    assert_eq!(
        errors(&report),
        [
            "line 4, column channel: unknown code `pigeon`, expected one of: phone, fax, email, web, call-centre, wechat, sms, visit, meeting, letter, other"
        ]
    );
    let report = csv(
        &crm,
        ImportKind::Cases,
        "external_id,party,type,priority,channel,subject,opened_at,status,satisfaction,churn_reason\n\
         CS-1,erp:c1,complaint,high,wechat,噪音大,2026-03-02 01:00,closed,2,service-quality\n\
         CS-2,erp:c2,inquiry,high,email,Manual?,2026-03-02 01:00,,,\n",
    );
    assert_eq!(report.created, 2);
    let closed = crm.read(|tx| tx.find_case_by_external_id("CS-1")).unwrap().unwrap();
    assert_eq!((closed.status, closed.satisfaction), (CaseStatus::Closed, Some(2)));
    assert_eq!(closed.sla_policy.as_deref(), Some("default"));
    let history: Vec<CaseStatus> =
        crm.read(|tx| tx.case_history(closed.id)).unwrap().into_iter().map(|h| h.to).collect();
    assert_eq!(history, [CaseStatus::New, CaseStatus::Resolved, CaseStatus::Closed]);
}
