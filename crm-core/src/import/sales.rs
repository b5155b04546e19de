//! Import rows for products, orders (one row per line), opportunities and
//! cases.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use crate::Error;
use crate::import::rows::{Context, cell_error, in_column, parse_date, parse_time_in, party_ref};
use crate::import::source::Record;
use crate::model::{
    CaseStatus, CaseType, Channel, ChurnReason, CloseReason, Currency, Decimal, FxRate, Money,
    NewCase, NewLine, NewOpportunity, NewOrder, NewProduct, OpportunityStatus, OrderId,
    OrderStatus, PartyId, Priority,
};
use crate::store::{Tx, Upserted};

pub(crate) const PRODUCT_COLUMNS: &[&str] =
    &["sku", "name_en", "name", "name_zh", "category", "unit_cost", "cost_currency", "price.*"];
pub(crate) const ORDER_COLUMNS: &[&str] = &[
    "order",
    "party",
    "currency",
    "ordered_at",
    "status",
    "owner",
    "price_list",
    "line",
    "sku",
    "quantity",
    "unit_price",
    "discount",
];
pub(crate) const OPPORTUNITY_COLUMNS: &[&str] = &[
    "external_id",
    "party",
    "pipeline",
    "title",
    "amount",
    "currency",
    "expected_close",
    "owner",
    "stage",
    "status",
    "reason",
];
pub(crate) const CASE_COLUMNS: &[&str] = &[
    "external_id",
    "party",
    "type",
    "priority",
    "channel",
    "subject",
    "description",
    "category",
    "assignee",
    "sla_policy",
    "tier",
    "opened_at",
    "status",
    "first_response_at",
    "satisfaction",
    "churn_reason",
];

pub(crate) const FX_COLUMNS: &[&str] = &["base", "quote", "date", "rate"];

pub(crate) fn fx_rate_from_record(record: &Record) -> crate::Result<FxRate> {
    let rate = FxRate::new(
        currency_in(record, "base")?,
        currency_in(record, "quote")?,
        parse_date(required(record, "date")?, "date")?,
        Decimal::parse(required(record, "rate")?).map_err(in_column("rate"))?,
    );
    rate.validate().map_err(|e| match e {
        Error::Invalid { at, reason } => cell_error(at.column.as_deref().unwrap_or("rate"), reason),
        other => other,
    })?;
    Ok(rate)
}

/// What an order import remembers between rows.
#[derive(Default)]
pub(crate) struct OrderRun {
    /// Orders this import created: lines may be added whatever their status.
    created: RefCell<HashSet<OrderId>>,
    /// Rows seen per order, numbering lines when the file has no `line`.
    rows_seen: RefCell<HashMap<String, u32>>,
}

fn required<'r>(record: &'r Record, column: &str) -> crate::Result<&'r str> {
    record.get(column).ok_or_else(|| cell_error(column, "is required"))
}

fn currency_in(record: &Record, column: &str) -> crate::Result<Currency> {
    Currency::new(required(record, column)?).map_err(in_column(column))
}

fn money_in(record: &Record, column: &str, currency: Currency) -> crate::Result<Option<Money>> {
    record
        .get(column)
        .map(|text| Money::parse(text, currency).map_err(in_column(column)))
        .transpose()
}

fn required_party(tx: &Tx<'_>, record: &Record, column: &str) -> crate::Result<PartyId> {
    party_ref(tx, record, column)?.ok_or_else(|| cell_error(column, "is required"))
}

pub(crate) fn product_from_record(record: &Record) -> crate::Result<NewProduct> {
    let sku = required(record, "sku")?;
    let name = record
        .get("name_en")
        .or_else(|| record.get("name"))
        .ok_or_else(|| cell_error("name_en", "is required"))?;
    let mut product = NewProduct::new(sku, name);
    product.name_zh = record.get("name_zh").map(str::to_owned);
    product.category = record.get("category").map(str::to_owned);
    if record.get("unit_cost").is_some() {
        let currency = currency_in(record, "cost_currency")?;
        product.unit_cost = money_in(record, "unit_cost", currency)?;
    }
    for (code, value) in record.with_prefix("price.") {
        let column = format!("price.{code}");
        let currency = Currency::new(code).map_err(in_column(&column))?;
        product = product.with_price(Money::parse(value, currency).map_err(in_column(&column))?);
    }
    product.validate()?;
    Ok(product)
}

/// A discount in percent (`5`, `12.5`) as basis points.
fn discount_bp(text: &str) -> crate::Result<u32> {
    let percent = Decimal::parse(text).map_err(in_column("discount"))?;
    let bad = || {
        cell_error(
            "discount",
            format!("`{text}` is not a percentage from 0 to 100 with at most two decimals"),
        )
    };
    if percent.is_negative() || percent.scale() > 2 {
        return Err(bad());
    }
    let bp = percent.mantissa() * 10i128.pow(2 - percent.scale());
    u32::try_from(bp).ok().filter(|bp| *bp <= 10_000).ok_or_else(bad)
}

fn line_from_record(record: &Record, currency: Currency) -> crate::Result<NewLine> {
    let sku = required(record, "sku")?;
    let quantity_text = required(record, "quantity")?;
    let quantity: i64 = quantity_text
        .parse()
        .map_err(|_| cell_error("quantity", format!("`{quantity_text}` is not a whole number")))?;
    let mut line = NewLine::new(sku, quantity);
    line.unit_price = money_in(record, "unit_price", currency)?;
    if let Some(discount) = record.get("discount") {
        line.discount_bp = discount_bp(discount)?;
    }
    line.validate().map_err(|e| match e {
        Error::Invalid { at, reason } => {
            let column = match at.column.as_deref() {
                Some("discount") => "discount",
                _ => "quantity",
            };
            cell_error(column, reason)
        }
        other => other,
    })?;
    Ok(line)
}

pub(crate) fn apply_order_row(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    record: &Record,
) -> crate::Result<Upserted> {
    let key = required(record, "order")?;
    let party = required_party(tx, record, "party")?;
    let currency = currency_in(record, "currency")?;
    let line = line_from_record(record, currency)?;
    if tx.find_product_by_sku(&line.sku)?.is_none() {
        return Err(cell_error("sku", format!("no product with SKU `{}`", line.sku)));
    }
    let line_no = match record.get("line") {
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| cell_error("line", format!("`{text}` is not a line number")))?,
        None => {
            let mut seen = context.orders.rows_seen.borrow_mut();
            let n = seen.entry(key.to_owned()).or_default();
            *n += 1;
            *n
        }
    };
    match tx.find_order_by_external_id(key)? {
        None => {
            let ordered_at = parse_time_in(required(record, "ordered_at")?, "ordered_at")?;
            let mut order = NewOrder::new(party, currency, ordered_at).with_external_id(key);
            order.status = match record.get("status") {
                Some(code) => OrderStatus::from_code(code).map_err(in_column("status"))?,
                None => OrderStatus::Confirmed,
            };
            order.owner = party_ref(tx, record, "owner")?;
            order.price_list = record.get("price_list").map(str::to_owned);
            let created = if line_no == 1 {
                tx.create_order(order.with_line(line))?
            } else {
                let created = tx.create_order(order)?;
                tx.append_order_line(&created, line, Some(line_no))?;
                created
            };
            context.orders.created.borrow_mut().insert(created.id);
            Ok(Upserted::Created)
        }
        Some(order) => {
            if order.party_id != party || order.currency != currency {
                return Err(cell_error(
                    "order",
                    format!("order {key} is for another party or currency than this row names"),
                ));
            }
            if let Some(stored) = order.lines.iter().find(|l| l.line_no == line_no) {
                let same = stored.sku == line.sku
                    && stored.quantity == line.quantity
                    && stored.discount_bp == line.discount_bp
                    && line.unit_price.is_none_or(|p| p == stored.unit_price);
                return if same {
                    Ok(Upserted::Unchanged)
                } else {
                    Err(cell_error(
                        "line",
                        format!(
                            "line {line_no} of order {key} differs from the stored line; change orders through the API"
                        ),
                    ))
                };
            }
            let ours = context.orders.created.borrow().contains(&order.id);
            if !ours && !matches!(order.status, OrderStatus::Draft | OrderStatus::Confirmed) {
                return Err(cell_error(
                    "order",
                    format!("order {key} is {}; lines cannot be added to it", order.status),
                ));
            }
            tx.append_order_line(&order, line, Some(line_no))?;
            Ok(Upserted::Created)
        }
    }
}

pub(crate) fn opportunity_from_record(
    tx: &Tx<'_>,
    record: &Record,
) -> crate::Result<NewOpportunity> {
    let party = required_party(tx, record, "party")?;
    let currency = currency_in(record, "currency")?;
    let amount =
        money_in(record, "amount", currency)?.ok_or_else(|| cell_error("amount", "is required"))?;
    let close = parse_date(required(record, "expected_close")?, "expected_close")?;
    let mut new = NewOpportunity::new(
        party,
        required(record, "pipeline")?,
        required(record, "title")?,
        amount,
        close,
    );
    new.owner = party_ref(tx, record, "owner")?;
    new.stage = record.get("stage").map(str::to_owned);
    new.external_id = record.get("external_id").map(str::to_owned);
    Ok(new)
}

/// The `status` and `reason` columns of an opportunity row.
fn close_columns(
    record: &Record,
) -> crate::Result<Option<(OpportunityStatus, Option<CloseReason>)>> {
    let Some(code) = record.get("status") else { return Ok(None) };
    let status = OpportunityStatus::from_code(code).map_err(in_column("status"))?;
    let reason = record
        .get("reason")
        .map(CloseReason::from_code)
        .transpose()
        .map_err(in_column("reason"))?;
    Ok(Some((status, reason)))
}

/// Applies the close status of an opportunity row after the upsert.
fn close_from_record(
    tx: &mut Tx<'_>,
    record: &Record,
    opportunity: &crate::model::Opportunity,
) -> crate::Result<bool> {
    let Some((status, reason)) = close_columns(record)? else { return Ok(false) };
    if status == opportunity.status {
        return Ok(false);
    }
    match (opportunity.status, status) {
        (OpportunityStatus::Open, OpportunityStatus::Won) => {
            tx.win_opportunity(opportunity.id, reason)?
        }
        (OpportunityStatus::Open, OpportunityStatus::Lost) => tx.lose_opportunity(
            opportunity.id,
            reason.ok_or_else(|| cell_error("reason", "is required for a lost opportunity"))?,
        )?,
        (from, to) => {
            return Err(cell_error(
                "status",
                format!("the opportunity is {from}; it cannot become {to}"),
            ));
        }
    };
    Ok(true)
}

pub(crate) fn apply_opportunity_row(tx: &mut Tx<'_>, record: &Record) -> crate::Result<Upserted> {
    // Check the status columns before the first write.
    if let Some((OpportunityStatus::Lost, None)) = close_columns(record)? {
        return Err(cell_error("reason", "is required for a lost opportunity"));
    }
    let (opportunity, outcome) = tx.upsert_opportunity(opportunity_from_record(tx, record)?)?;
    let closed = close_from_record(tx, record, &opportunity)?;
    Ok(if closed && outcome == Upserted::Unchanged { Upserted::Updated } else { outcome })
}

fn case_from_record(tx: &Tx<'_>, record: &Record) -> crate::Result<NewCase> {
    let party = required_party(tx, record, "party")?;
    let case_type = CaseType::from_code(required(record, "type")?).map_err(in_column("type"))?;
    let priority = match record.get("priority") {
        Some(code) => Priority::from_code(code).map_err(in_column("priority"))?,
        None => Priority::Normal,
    };
    let channel = Channel::from_code(required(record, "channel")?).map_err(in_column("channel"))?;
    let mut new = NewCase::new(party, case_type, priority, channel, required(record, "subject")?);
    new.description = record.get_raw("description").map(str::to_owned);
    new.category = record.get("category").map(str::to_owned);
    new.assignee = party_ref(tx, record, "assignee")?;
    new.sla_policy = record.get("sla_policy").map(str::to_owned);
    new.tier = record.get("tier").map(str::to_owned);
    new.opened_at = record.get("opened_at").map(|t| parse_time_in(t, "opened_at")).transpose()?;
    new.external_id = record.get("external_id").map(str::to_owned);
    Ok(new)
}

/// The shortest walk through the case status machine.
fn status_path(from: CaseStatus, to: CaseStatus) -> Option<Vec<CaseStatus>> {
    let mut queue = VecDeque::from([(from, Vec::new())]);
    let mut seen = HashSet::from([from]);
    while let Some((status, path)) = queue.pop_front() {
        if status == to {
            return Some(path);
        }
        for next in status.next() {
            if seen.insert(*next) {
                let mut longer = path.clone();
                longer.push(*next);
                queue.push_back((*next, longer));
            }
        }
    }
    None
}

pub(crate) fn apply_case_row(tx: &mut Tx<'_>, record: &Record) -> crate::Result<Upserted> {
    let new = case_from_record(tx, record)?;
    let status =
        record.get("status").map(CaseStatus::from_code).transpose().map_err(in_column("status"))?;
    let responded = record
        .get("first_response_at")
        .map(|t| parse_time_in(t, "first_response_at"))
        .transpose()?;
    let satisfaction = record
        .get("satisfaction")
        .map(|t| {
            t.parse::<u8>().ok().filter(|s| (1..=5).contains(s)).ok_or_else(|| {
                cell_error("satisfaction", format!("`{t}` is not a rating from 1 to 5"))
            })
        })
        .transpose()?;
    let churn = record
        .get("churn_reason")
        .map(ChurnReason::from_code)
        .transpose()
        .map_err(in_column("churn_reason"))?;
    let existing_status = match &new.external_id {
        Some(id) => tx.find_case_by_external_id(id)?.map(|c| c.status),
        None => None,
    };
    let path = match status {
        None => Vec::new(),
        Some(to) => {
            let from = existing_status.unwrap_or(CaseStatus::New);
            status_path(from, to).ok_or_else(|| {
                cell_error("status", format!("a case that is {from} cannot become {to}"))
            })?
        }
    };
    let (case, mut outcome) = tx.upsert_case(new)?;
    let mut changed = false;
    if let Some(at) = responded
        && case.first_response_at.is_none()
    {
        tx.respond_to_case(case.id, Some(at))?;
        changed = true;
    }
    for step in path {
        tx.set_case_status(case.id, step, Some("import"))?;
        changed = true;
    }
    if (satisfaction.is_some() && satisfaction != case.satisfaction)
        || (churn.is_some() && churn != case.churn_reason)
    {
        tx.rate_case(case.id, satisfaction, churn)?;
        changed = true;
    }
    if changed && outcome == Upserted::Unchanged {
        outcome = Upserted::Updated;
    }
    Ok(outcome)
}
