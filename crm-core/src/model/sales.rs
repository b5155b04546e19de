//! Commerce: products and price lists, quotes, orders, shipments, returns.

use chrono::{DateTime, NaiveDate, Utc};

use crate::Error;
use crate::model::{Currency, Lang, Money, OrderId, PartyId, ProductId, QuoteId, ShipmentId};

/// A product to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// Stock-keeping unit, unique (e.g. `AC-1200`).
    pub sku: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Chinese.
    pub name_zh: Option<String>,
    /// Category code, e.g. `air-conditioner`.
    pub category: Option<String>,
    /// What one unit costs the business (for margins).
    pub unit_cost: Option<Money>,
    /// List price per currency (at most one per currency).
    pub prices: Vec<Money>,
}

impl NewProduct {
    /// A product with a SKU and an English name.
    pub fn new(sku: impl Into<String>, name_en: impl Into<String>) -> NewProduct {
        NewProduct {
            sku: sku.into(),
            name_en: name_en.into(),
            name_zh: None,
            category: None,
            unit_cost: None,
            prices: Vec::new(),
        }
    }

    /// Sets the Chinese name.
    #[must_use]
    pub fn with_name_zh(mut self, name: impl Into<String>) -> NewProduct {
        self.name_zh = Some(name.into());
        self
    }

    /// Sets the category.
    #[must_use]
    pub fn with_category(mut self, category: impl Into<String>) -> NewProduct {
        self.category = Some(category.into());
        self
    }

    /// Sets the unit cost.
    #[must_use]
    pub fn with_cost(mut self, cost: Money) -> NewProduct {
        self.unit_cost = Some(cost);
        self
    }

    /// Adds (or replaces) the list price in the price's currency.
    #[must_use]
    pub fn with_price(mut self, price: Money) -> NewProduct {
        self.prices.retain(|p| p.currency() != price.currency());
        self.prices.push(price);
        self
    }

    /// Checks the fields that need no lookup.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> crate::Result<()> {
        if self.sku.trim().is_empty() {
            return Err(Error::invalid("sku", "a product needs a SKU"));
        }
        if self.name_en.trim().is_empty() {
            return Err(Error::invalid("name_en", format!("product {} needs a name", self.sku)));
        }
        if let Some(cost) = self.unit_cost
            && cost.is_negative()
        {
            return Err(Error::invalid("unit_cost", format!("{cost} is negative")));
        }
        for (i, price) in self.prices.iter().enumerate() {
            if price.is_negative() {
                return Err(Error::invalid("price", format!("{price} is negative")));
            }
            if self.prices[..i].iter().any(|p| p.currency() == price.currency()) {
                return Err(Error::invalid(
                    "price",
                    format!("two prices in {} for {}", price.currency(), self.sku),
                ));
            }
        }
        Ok(())
    }
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    /// Id.
    pub id: ProductId,
    /// Unique SKU.
    pub sku: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Category code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Unit cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_cost: Option<Money>,
    /// List prices, one per currency, ordered by currency code.
    pub prices: Vec<Money>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// The name in a language (the English name when there is no Chinese one).
    pub fn name(&self, lang: Lang) -> &str {
        match (lang, &self.name_zh) {
            (Lang::ZhCn, Some(name)) => name,
            _ => &self.name_en,
        }
    }

    /// The list price in a currency.
    pub fn price_in(&self, currency: Currency) -> Option<Money> {
        self.prices.iter().copied().find(|p| p.currency() == currency)
    }
}

/// A price list: prices in one currency that override the products' list
/// prices while it is valid (a distributor list, a promotion, …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PriceList {
    /// Stable code, e.g. `distributor-2026`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The currency of every price on it.
    pub currency: Currency,
    /// First valid day.
    pub valid_from: Option<NaiveDate>,
    /// Last valid day.
    pub valid_until: Option<NaiveDate>,
    /// Prices by SKU, ordered by SKU.
    pub prices: Vec<(String, Money)>,
}

impl PriceList {
    /// An empty price list valid without limits.
    pub fn new(code: impl Into<String>, name: impl Into<String>, currency: Currency) -> PriceList {
        PriceList {
            code: code.into(),
            name: name.into(),
            currency,
            valid_from: None,
            valid_until: None,
            prices: Vec::new(),
        }
    }

    /// Limits the days it is valid.
    #[must_use]
    pub fn valid(mut self, from: Option<NaiveDate>, until: Option<NaiveDate>) -> PriceList {
        self.valid_from = from;
        self.valid_until = until;
        self
    }

    /// Adds a price for a SKU.
    #[must_use]
    pub fn with_price(mut self, sku: impl Into<String>, price: Money) -> PriceList {
        self.prices.push((sku.into(), price));
        self
    }

    /// True when the list applies on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date)
            && self.valid_until.is_none_or(|until| date <= until)
    }

    /// Checks codes, dates and that every price is in the list's currency.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> crate::Result<()> {
        if self.code.trim().is_empty() {
            return Err(Error::invalid("code", "a price list needs a code"));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && until < from
        {
            return Err(Error::invalid("valid_until", format!("{until} is before {from}")));
        }
        for (sku, price) in &self.prices {
            if price.currency() != self.currency {
                return Err(Error::invalid(
                    "price",
                    format!(
                        "price list {} is in {}, the price of {sku} is {price}",
                        self.code, self.currency
                    ),
                ));
            }
            if price.is_negative() {
                return Err(Error::invalid("price", format!("{sku}: {price} is negative")));
            }
        }
        Ok(())
    }
}

/// A line to be put on a quote or order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// The product's SKU.
    pub sku: String,
    /// Units (positive; negative only on returns, which
    /// [`Tx::return_items`](crate::Tx::return_items) creates).
    pub quantity: i64,
    /// Unit price; `None` takes it from the price list or the product.
    pub unit_price: Option<Money>,
    /// Discount in basis points of the line (500 = 5 %).
    pub discount_bp: u32,
}

impl NewLine {
    /// `quantity` units of a product at its list price.
    pub fn new(sku: impl Into<String>, quantity: i64) -> NewLine {
        NewLine { sku: sku.into(), quantity, unit_price: None, discount_bp: 0 }
    }

    /// Sets the unit price.
    #[must_use]
    pub fn at(mut self, unit_price: Money) -> NewLine {
        self.unit_price = Some(unit_price);
        self
    }

    /// Sets the discount in basis points (500 = 5 %).
    #[must_use]
    pub fn with_discount_bp(mut self, discount_bp: u32) -> NewLine {
        self.discount_bp = discount_bp;
        self
    }

    /// Checks quantity and discount.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on `quantity` (not positive) or `discount` (over 100 %).
    pub fn validate(&self) -> crate::Result<()> {
        if self.quantity <= 0 {
            return Err(Error::invalid(
                "quantity",
                format!(
                    "{} for {} must be positive (returns are recorded with return_items)",
                    self.quantity, self.sku
                ),
            ));
        }
        if self.discount_bp > 10_000 {
            return Err(Error::invalid(
                "discount",
                format!("{} basis points is more than 100 %", self.discount_bp),
            ));
        }
        Ok(())
    }
}

/// A stored quote or order line, with prices and cost fixed when it was
/// written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    /// 1-based line number within the quote or order.
    pub line_no: u32,
    /// Product.
    pub product_id: ProductId,
    /// Its SKU.
    pub sku: String,
    /// Units; negative on a return line.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price: Money,
    /// Discount in basis points.
    pub discount_bp: u32,
    /// Cost of one unit, captured when the line was written.
    pub unit_cost: Money,
    /// `quantity × unit_price` less the discount, rounded half-even.
    pub net: Money,
    /// `quantity × unit_cost`.
    pub cost: Money,
    /// Units shipped so far (orders only).
    pub shipped: i64,
    /// On a return line: the line it returns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returns_line: Option<u32>,
}

impl Line {
    /// `net − cost`.
    pub fn margin(&self) -> Money {
        Money::new(self.net.minor().saturating_sub(self.cost.minor()), self.net.currency())
    }
}

/// The net amount of a line: `quantity × unit_price × (1 − discount)`,
/// rounded half-even to the minor unit.
pub(crate) fn line_net(quantity: i64, unit_price: Money, discount_bp: u32) -> crate::Result<Money> {
    let gross = i128::from(quantity) * i128::from(unit_price.minor());
    let net = crate::model::money::div_round(
        gross * i128::from(10_000 - i64::from(discount_bp.min(10_000))),
        10_000,
        crate::model::RoundingMode::HalfEven,
    )
    .and_then(|n| i64::try_from(n).ok())
    .ok_or_else(|| Error::invalid("quantity", format!("{quantity} × {unit_price} overflows")))?;
    Ok(Money::new(net, unit_price.currency()))
}

code_enum! {
    /// Where a quote stands.
    pub enum QuoteStatus as "status" {
        /// Sent, waiting for an answer.
        Open = ("open", "Open", "待确认"),
        /// Accepted; an order was made from it.
        Accepted = ("accepted", "Accepted", "已接受"),
        /// Turned down.
        Rejected = ("rejected", "Rejected", "已拒绝"),
    }
}

/// A quote to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuote {
    /// The customer.
    pub party_id: PartyId,
    /// The salesperson.
    pub owner: Option<PartyId>,
    /// Currency of every line.
    pub currency: Currency,
    /// Last day it can be accepted.
    pub valid_until: NaiveDate,
    /// Price list to take prices from (else the products' list prices).
    pub price_list: Option<String>,
    /// Lines.
    pub lines: Vec<NewLine>,
}

impl NewQuote {
    /// A quote with no lines yet.
    pub fn new(party_id: PartyId, currency: Currency, valid_until: NaiveDate) -> NewQuote {
        NewQuote {
            party_id,
            owner: None,
            currency,
            valid_until,
            price_list: None,
            lines: Vec::new(),
        }
    }

    /// Adds a line.
    #[must_use]
    pub fn with_line(mut self, line: NewLine) -> NewQuote {
        self.lines.push(line);
        self
    }

    /// Sets the salesperson.
    #[must_use]
    pub fn with_owner(mut self, owner: PartyId) -> NewQuote {
        self.owner = Some(owner);
        self
    }

    /// Takes prices from a price list.
    #[must_use]
    pub fn with_price_list(mut self, code: impl Into<String>) -> NewQuote {
        self.price_list = Some(code.into());
        self
    }
}

/// A stored quote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quote {
    /// Id.
    pub id: QuoteId,
    /// The customer.
    pub party_id: PartyId,
    /// The salesperson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartyId>,
    /// Currency.
    pub currency: Currency,
    /// Status.
    pub status: QuoteStatus,
    /// Last day it can be accepted.
    pub valid_until: NaiveDate,
    /// Lines.
    pub lines: Vec<Line>,
    /// Sum of the lines' net amounts.
    pub total: Money,
    /// The order made from it, once accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    /// When it was accepted or rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

code_enum! {
    /// Where an order stands. See [`OrderStatus::can_become`] for the
    /// status machine.
    pub enum OrderStatus as "status" {
        /// Being put together; not yet revenue.
        Draft = ("draft", "Draft", "草稿"),
        /// Confirmed by the customer.
        Confirmed = ("confirmed", "Confirmed", "已确认"),
        /// Some units shipped.
        PartiallyShipped = ("partially-shipped", "Partially shipped", "部分发货"),
        /// Every unit shipped.
        Shipped = ("shipped", "Shipped", "已发货"),
        /// Received by the customer.
        Delivered = ("delivered", "Delivered", "已签收"),
        /// Cancelled before shipping.
        Cancelled = ("cancelled", "Cancelled", "已取消"),
        /// Every unit came back.
        Returned = ("returned", "Returned", "已退货"),
    }
}

impl OrderStatus {
    /// The statuses an order may move to from this one:
    ///
    /// | from | to |
    /// |---|---|
    /// | draft | confirmed, cancelled |
    /// | confirmed | partially shipped, shipped, cancelled |
    /// | partially shipped | partially shipped, shipped |
    /// | shipped | delivered, returned |
    /// | delivered | returned |
    /// | cancelled, returned | — |
    pub fn next(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Draft => &[Confirmed, Cancelled],
            Confirmed => &[PartiallyShipped, Shipped, Cancelled],
            PartiallyShipped => &[PartiallyShipped, Shipped],
            Shipped => &[Delivered, Returned],
            Delivered => &[Returned],
            Cancelled | Returned => &[],
        }
    }

    /// True when the status machine allows `self → to`.
    pub fn can_become(self, to: OrderStatus) -> bool {
        self.next().contains(&to)
    }

    /// True when the order counts as revenue (not draft, not cancelled).
    pub fn is_revenue(self) -> bool {
        !matches!(self, OrderStatus::Draft | OrderStatus::Cancelled)
    }
}

/// An order to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The customer.
    pub party_id: PartyId,
    /// The salesperson.
    pub owner: Option<PartyId>,
    /// Currency of every line.
    pub currency: Currency,
    /// When it was placed.
    pub ordered_at: DateTime<Utc>,
    /// Initial status: draft (default) or confirmed.
    pub status: OrderStatus,
    /// Price list to take prices from.
    pub price_list: Option<String>,
    /// Id in the source system (ERP order number); makes imports idempotent.
    pub external_id: Option<String>,
    /// Lines.
    pub lines: Vec<NewLine>,
}

impl NewOrder {
    /// A draft order with no lines yet.
    pub fn new(party_id: PartyId, currency: Currency, ordered_at: DateTime<Utc>) -> NewOrder {
        NewOrder {
            party_id,
            owner: None,
            currency,
            ordered_at,
            status: OrderStatus::Draft,
            price_list: None,
            external_id: None,
            lines: Vec::new(),
        }
    }

    /// Adds a line.
    #[must_use]
    pub fn with_line(mut self, line: NewLine) -> NewOrder {
        self.lines.push(line);
        self
    }

    /// Sets the salesperson.
    #[must_use]
    pub fn with_owner(mut self, owner: PartyId) -> NewOrder {
        self.owner = Some(owner);
        self
    }

    /// Creates the order already confirmed.
    #[must_use]
    pub fn confirmed(mut self) -> NewOrder {
        self.status = OrderStatus::Confirmed;
        self
    }

    /// Sets the id in the source system.
    #[must_use]
    pub fn with_external_id(mut self, id: impl Into<String>) -> NewOrder {
        self.external_id = Some(id.into());
        self
    }

    /// Takes prices from a price list.
    #[must_use]
    pub fn with_price_list(mut self, code: impl Into<String>) -> NewOrder {
        self.price_list = Some(code.into());
        self
    }
}

/// A stored order with its lines and totals.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    /// Id.
    pub id: OrderId,
    /// Id in the source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The customer.
    pub party_id: PartyId,
    /// The salesperson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartyId>,
    /// Currency.
    pub currency: Currency,
    /// Status.
    pub status: OrderStatus,
    /// When it was placed.
    pub ordered_at: DateTime<Utc>,
    /// The quote it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<QuoteId>,
    /// Lines, return lines last.
    pub lines: Vec<Line>,
    /// Net revenue (returns subtracted).
    pub revenue: Money,
    /// Cost of goods (returns subtracted).
    pub cost: Money,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// `revenue − cost`.
    pub fn margin(&self) -> Money {
        Money::new(self.revenue.minor().saturating_sub(self.cost.minor()), self.currency)
    }
}

/// A shipment to be recorded against an order's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    /// The order.
    pub order_id: OrderId,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
    /// `(line number, units)` shipped.
    pub lines: Vec<(u32, i64)>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking: Option<String>,
}

impl NewShipment {
    /// A shipment with no lines yet.
    pub fn new(order_id: OrderId, shipped_at: DateTime<Utc>) -> NewShipment {
        NewShipment { order_id, shipped_at, lines: Vec::new(), carrier: None, tracking: None }
    }

    /// Ships `quantity` units of line `line_no`.
    #[must_use]
    pub fn with_line(mut self, line_no: u32, quantity: i64) -> NewShipment {
        self.lines.push((line_no, quantity));
        self
    }

    /// Sets carrier and tracking number.
    #[must_use]
    pub fn via(mut self, carrier: impl Into<String>, tracking: impl Into<String>) -> NewShipment {
        self.carrier = Some(carrier.into());
        self.tracking = Some(tracking.into());
        self
    }
}

/// A stored shipment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shipment {
    /// Id.
    pub id: ShipmentId,
    /// The order.
    pub order_id: OrderId,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
    /// `(line number, units)`.
    pub lines: Vec<(u32, i64)>,
    /// Carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Tracking number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
}

/// Revenue, cost and margin of a group of orders in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Profit {
    /// Orders counted.
    pub orders: u64,
    /// Net revenue.
    pub revenue: Money,
    /// Cost of goods.
    pub cost: Money,
}

impl Profit {
    /// Nothing, in a currency.
    pub fn zero(currency: Currency) -> Profit {
        Profit { orders: 0, revenue: Money::zero(currency), cost: Money::zero(currency) }
    }

    /// `revenue − cost`.
    pub fn margin(&self) -> Money {
        Money::new(self.revenue.minor().saturating_sub(self.cost.minor()), self.revenue.currency())
    }

    /// Adds another group's figures.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the currencies differ or on overflow.
    pub fn checked_add(self, other: Profit) -> crate::Result<Profit> {
        Ok(Profit {
            orders: self.orders + other.orders,
            revenue: self.revenue.checked_add(other.revenue)?,
            cost: self.cost.checked_add(other.cost)?,
        })
    }
}

/// A party's profit in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PartyProfit {
    /// The customer.
    pub party_id: PartyId,
    /// Its figures.
    pub profit: Profit,
}
