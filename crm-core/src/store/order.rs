//! Quotes, orders, shipments, returns, and profit.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::sales::line_net;
use crate::model::{
    Currency, Line, Money, NewLine, NewOrder, NewQuote, NewShipment, Order, OrderId, OrderStatus,
    PartyId, PartyProfit, Period, PeriodUnit, Product, Profit, Quote, QuoteId, QuoteStatus,
    Shipment, ShipmentId,
};
use crate::store::Tx;
use crate::store::codec::{
    collect, date_text, get, get_opt_parsed, get_opt_time, get_parsed, get_time, parse_date,
    stored_precision, time_text,
};
use crate::store::fx::Converter;

const ORDER_COLUMNS: &str = "id, external_id, party_id, owner_id, currency, status, ordered_at, quote_id, created_at, updated_at";
const LINE_COLUMNS: &str =
    "line_no, product_id, quantity, unit_price, discount_bp, unit_cost, net, cost";
/// [`LINE_COLUMNS`] qualified for a join of lines `l` with products.
const LINE_SELECT: &str =
    "l.line_no, l.product_id, l.quantity, l.unit_price, l.discount_bp, l.unit_cost, l.net, l.cost";

impl Tx<'_> {
    /// Prices new lines: validates each, looks the product up, takes the
    /// unit price (given, price list, or list price) and captures the unit
    /// cost in the document's currency (converted at `day` if the product's
    /// cost is in another currency).
    fn price_lines(
        &self,
        lines: &[NewLine],
        currency: Currency,
        price_list: Option<&str>,
        day: NaiveDate,
        first_line_no: u32,
    ) -> crate::Result<Vec<Line>> {
        let mut priced = Vec::with_capacity(lines.len());
        for (i, new) in lines.iter().enumerate() {
            let line_no = first_line_no + i as u32;
            new.validate().map_err(|e| at_line(e, line_no))?;
            let product = self.find_product_by_sku(&new.sku)?.ok_or_else(|| Error::NotFound {
                entity: "product",
                id: format!("SKU {} (line {line_no})", new.sku),
            })?;
            let unit_price = match new.unit_price {
                Some(price) if price.currency() != currency => {
                    return Err(Error::invalid(
                        "unit_price",
                        format!("line {line_no}: {price} is not in the currency {currency}"),
                    ));
                }
                Some(price) if price.is_negative() => {
                    return Err(Error::invalid(
                        "unit_price",
                        format!("line {line_no}: {price} is negative"),
                    ));
                }
                Some(price) => price,
                None => self
                    .unit_price(&product, currency, price_list, day)
                    .map_err(|e| at_line(e, line_no))?,
            };
            let unit_cost = self.unit_cost_in(&product, currency, day)?;
            priced.push(Line {
                line_no,
                product_id: product.id,
                sku: product.sku.clone(),
                quantity: new.quantity,
                unit_price,
                discount_bp: new.discount_bp,
                unit_cost,
                net: line_net(new.quantity, unit_price, new.discount_bp)?,
                cost: unit_cost.checked_mul(new.quantity)?,
                shipped: 0,
                returns_line: None,
            });
        }
        Ok(priced)
    }

    fn unit_cost_in(
        &self,
        product: &Product,
        currency: Currency,
        day: NaiveDate,
    ) -> crate::Result<Money> {
        match product.unit_cost {
            None => Ok(Money::zero(currency)),
            Some(cost) => self.convert(cost, currency, day, crate::model::RoundingMode::HalfEven),
        }
    }

    fn check_people(&self, party: PartyId, owner: Option<PartyId>) -> crate::Result<()> {
        self.require_live(party, "party")?;
        if let Some(owner) = owner {
            self.require_live(owner, "owner")?;
        }
        Ok(())
    }

    /// Creates a quote.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown party, owner, product or price list.
    /// - [`Error::Invalid`] for a quote without lines, a line with a
    ///   quantity that is not positive, a discount over 100 %, or a price in
    ///   another currency.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use crm_core::{Currency, Money, NewLine, NewParty, NewProduct, NewQuote, OrderStatus};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let order = crm.write(|tx| {
    ///     tx.create_product(NewProduct::new("AC-1200", "Air conditioner").with_price(Money::parse("2999", Currency::CNY)?))?;
    ///     let buyer = tx.create_party(NewParty::organization("华东电器"))?;
    ///     let quote = tx.create_quote(
    ///         NewQuote::new(buyer.id, Currency::CNY, NaiveDate::from_ymd_opt(2099, 1, 31).unwrap())
    ///             .with_line(NewLine::new("AC-1200", 10).with_discount_bp(500)),
    ///     )?;
    ///     assert_eq!(quote.total.to_string(), "CNY 28490.50");
    ///     tx.accept_quote(quote.id)
    /// })?;
    /// assert_eq!(order.status, OrderStatus::Confirmed);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_quote(&mut self, new: NewQuote) -> crate::Result<Quote> {
        self.check_people(new.party_id, new.owner)?;
        if new.lines.is_empty() {
            return Err(Error::invalid("lines", "a quote needs at least one line"));
        }
        let today = self.now.date_naive();
        let lines =
            self.price_lines(&new.lines, new.currency, new.price_list.as_deref(), today, 1)?;
        let id = QuoteId::new();
        self.conn.execute(
            "INSERT INTO quotes (id, party_id, owner_id, currency, status, valid_until, created_at)
             VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6)",
            params![
                id.to_string(),
                new.party_id.to_string(),
                new.owner.map(|o| o.to_string()),
                new.currency.code(),
                date_text(&new.valid_until),
                self.now_text.as_str(),
            ],
        )?;
        self.write_lines("quote_lines", "quote_id", &id.to_string(), &lines)?;
        let quote = self.get_quote(id)?;
        self.record_event(
            "quote",
            &id.to_string(),
            "quote.created",
            None,
            Some(&serde_json::to_value(&quote)?),
        )?;
        Ok(quote)
    }

    /// One quote with its lines.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_quote(&self, id: QuoteId) -> crate::Result<Quote> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, party_id, owner_id, currency, status, valid_until, order_id, decided_at, created_at
             FROM quotes WHERE id = ?1",
        )?;
        let found = stmt
            .query_row(params![id.to_string()], |row| {
                Ok((|| -> crate::Result<Quote> {
                    let currency: Currency = get_parsed(row, "currency")?;
                    Ok(Quote {
                        id: get_parsed(row, "id")?,
                        party_id: get_parsed(row, "party_id")?,
                        owner: get_opt_parsed(row, "owner_id")?,
                        currency,
                        status: get_parsed(row, "status")?,
                        valid_until: parse_date(
                            &get::<String>(row, "valid_until")?,
                            "valid_until",
                        )?,
                        lines: Vec::new(),
                        total: Money::zero(currency),
                        order_id: get_opt_parsed(row, "order_id")?,
                        decided_at: get_opt_time(row, "decided_at")?,
                        created_at: get_time(row, "created_at")?,
                    })
                })())
            })
            .optional()?;
        let mut quote = found.ok_or_else(|| Error::not_found("quote", id))??;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINE_SELECT}, 0 AS shipped, NULL AS returns_line, p.sku
             FROM quote_lines l JOIN products p ON p.id = l.product_id WHERE l.quote_id = ?1 ORDER BY l.line_no"
        ))?;
        let currency = quote.currency;
        quote.lines =
            collect(&mut stmt, params![id.to_string()], |row| line_from_row(row, currency))?;
        quote.total = Money::sum(currency, quote.lines.iter().map(|l| &l.net))?;
        Ok(quote)
    }

    /// A party's quotes, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn quotes_of(&self, party: PartyId) -> crate::Result<Vec<Quote>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM quotes WHERE party_id = ?1 ORDER BY created_at, id")?;
        let ids: Vec<QuoteId> =
            collect(&mut stmt, params![party.to_string()], |row| get_parsed(row, "id"))?;
        ids.into_iter().map(|id| self.get_quote(id)).collect()
    }

    /// Accepts an open quote that is still valid and turns it into a
    /// confirmed order with the same lines, prices and costs.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown quote.
    /// - [`Error::Invalid`] on the field `status` when the quote is not
    ///   open, and on `valid_until` when it has expired.
    pub fn accept_quote(&mut self, id: QuoteId) -> crate::Result<Order> {
        let quote = self.get_quote(id)?;
        self.check_quote_open(&quote)?;
        if self.now.date_naive() > quote.valid_until {
            return Err(Error::invalid(
                "valid_until",
                format!("quote {id} expired on {}", quote.valid_until),
            ));
        }
        self.check_people(quote.party_id, quote.owner)?;
        let order_id = OrderId::new();
        self.insert_order_row(
            order_id,
            None,
            quote.party_id,
            quote.owner,
            quote.currency,
            OrderStatus::Confirmed,
            &self.now_text.clone(),
            Some(id),
        )?;
        self.insert_order_lines(order_id, &quote.lines)?;
        self.conn.execute(
            "UPDATE quotes SET status = 'accepted', order_id = ?2, decided_at = ?3 WHERE id = ?1",
            params![id.to_string(), order_id.to_string(), self.now_text.as_str()],
        )?;
        let after = self.get_quote(id)?;
        self.record_event(
            "quote",
            &id.to_string(),
            "quote.accepted",
            Some(&serde_json::to_value(&quote)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        let order = self.get_order(order_id)?;
        self.record_event(
            "order",
            &order_id.to_string(),
            "order.created",
            None,
            Some(&serde_json::to_value(&order)?),
        )?;
        Ok(order)
    }

    /// Rejects an open quote.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown quote, [`Error::Invalid`] when it
    /// is not open.
    pub fn reject_quote(&mut self, id: QuoteId) -> crate::Result<Quote> {
        let quote = self.get_quote(id)?;
        self.check_quote_open(&quote)?;
        self.conn.execute(
            "UPDATE quotes SET status = 'rejected', decided_at = ?2 WHERE id = ?1",
            params![id.to_string(), self.now_text.as_str()],
        )?;
        let after = self.get_quote(id)?;
        self.record_event(
            "quote",
            &id.to_string(),
            "quote.rejected",
            Some(&serde_json::to_value(&quote)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok(after)
    }

    fn check_quote_open(&self, quote: &Quote) -> crate::Result<()> {
        if quote.status != QuoteStatus::Open {
            return Err(Error::invalid(
                "status",
                format!("quote {} is {}, not open", quote.id, quote.status),
            ));
        }
        Ok(())
    }

    /// Creates an order. Prices come from the lines, the price list or the
    /// products' list prices; each line's unit cost is captured now, in the
    /// order's currency.
    ///
    /// A new order is `draft` or `confirmed`. To load history, `shipped` and
    /// `delivered` are accepted too: the lines are then recorded as fully
    /// shipped.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown party, owner, product, price
    ///   list, or an FX rate needed to convert a product's cost.
    /// - [`Error::Invalid`] for a quantity that is not positive, a discount
    ///   over 100 %, a price in another currency, or another initial status.
    /// - [`Error::Conflict`] when the external id is taken.
    pub fn create_order(&mut self, new: NewOrder) -> crate::Result<Order> {
        use OrderStatus::*;
        if !matches!(new.status, Draft | Confirmed | Shipped | Delivered) {
            return Err(Error::invalid(
                "status",
                format!(
                    "a new order cannot be {}; use draft, confirmed, shipped or delivered",
                    new.status
                ),
            ));
        }
        self.check_people(new.party_id, new.owner)?;
        if let Some(external_id) = &new.external_id
            && self.find_order_by_external_id(external_id)?.is_some()
        {
            return Err(Error::conflict(format!(
                "order with external id {external_id} already exists"
            )));
        }
        let ordered_at = stored_precision(new.ordered_at);
        let mut lines = self.price_lines(
            &new.lines,
            new.currency,
            new.price_list.as_deref(),
            ordered_at.date_naive(),
            1,
        )?;
        if matches!(new.status, Shipped | Delivered) {
            for line in &mut lines {
                line.shipped = line.quantity;
            }
        }
        let id = OrderId::new();
        self.insert_order_row(
            id,
            new.external_id.as_deref(),
            new.party_id,
            new.owner,
            new.currency,
            new.status,
            &time_text(&ordered_at),
            None,
        )?;
        self.insert_order_lines(id, &lines)?;
        let order = self.get_order(id)?;
        self.record_event(
            "order",
            &id.to_string(),
            "order.created",
            None,
            Some(&serde_json::to_value(&order)?),
        )?;
        Ok(order)
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_order_row(
        &self,
        id: OrderId,
        external_id: Option<&str>,
        party: PartyId,
        owner: Option<PartyId>,
        currency: Currency,
        status: OrderStatus,
        ordered_at: &str,
        quote: Option<QuoteId>,
    ) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)"
        ))?;
        stmt.execute(params![
            id.to_string(),
            external_id,
            party.to_string(),
            owner.map(|o| o.to_string()),
            currency.code(),
            status.code(),
            ordered_at,
            quote.map(|q| q.to_string()),
            self.now_text.as_str(),
        ])?;
        Ok(())
    }

    fn insert_order_lines(&self, id: OrderId, lines: &[Line]) -> crate::Result<()> {
        self.write_lines("order_lines", "order_id", &id.to_string(), lines)
    }

    /// Inserts priced lines into `quote_lines` or `order_lines` (which also
    /// keeps units shipped and the line a return line returns).
    fn write_lines(
        &self,
        table: &str,
        key_column: &str,
        key: &str,
        lines: &[Line],
    ) -> crate::Result<()> {
        let orders = table == "order_lines";
        let sql = if orders {
            format!(
                "INSERT INTO {table} ({key_column}, {LINE_COLUMNS}, shipped, returns_line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            )
        } else {
            format!(
                "INSERT INTO {table} ({key_column}, {LINE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        for line in lines {
            let product = line.product_id.to_string();
            let amounts = [
                line.unit_price.minor(),
                line.unit_cost.minor(),
                line.net.minor(),
                line.cost.minor(),
            ];
            let values: [&dyn rusqlite::ToSql; 11] = [
                &key,
                &line.line_no,
                &product,
                &line.quantity,
                &amounts[0],
                &line.discount_bp,
                &amounts[1],
                &amounts[2],
                &amounts[3],
                &line.shipped,
                &line.returns_line,
            ];
            stmt.execute(&values[..if orders { 11 } else { 9 }])?;
        }
        Ok(())
    }

    /// Adds a line to a draft or confirmed order (numbered after the last).
    ///
    /// # Errors
    ///
    /// As [`Tx::create_order`]; [`Error::Invalid`] on `status` when the order
    /// is past confirmation.
    pub fn add_order_line(&mut self, id: OrderId, line: NewLine) -> crate::Result<Order> {
        let before = self.get_order(id)?;
        if !matches!(before.status, OrderStatus::Draft | OrderStatus::Confirmed) {
            return Err(Error::invalid(
                "status",
                format!(
                    "order {id} is {}; lines can only be added to draft or confirmed orders",
                    before.status
                ),
            ));
        }
        self.append_order_line(&before, line, None)?;
        self.get_order(id)
    }

    /// Appends a line whatever the status (used by the importer to load an
    /// order it created in the same run, one row per line).
    pub(crate) fn append_order_line(
        &mut self,
        before: &Order,
        line: NewLine,
        line_no: Option<u32>,
    ) -> crate::Result<()> {
        let next = before.lines.iter().map(|l| l.line_no).max().unwrap_or(0) + 1;
        let line_no = line_no.unwrap_or(next);
        if before.lines.iter().any(|l| l.line_no == line_no) {
            return Err(Error::conflict(format!("order {} already has line {line_no}", before.id)));
        }
        let mut lines = self.price_lines(
            std::slice::from_ref(&line),
            before.currency,
            None,
            before.ordered_at.date_naive(),
            line_no,
        )?;
        if matches!(before.status, OrderStatus::Shipped | OrderStatus::Delivered) {
            for line in &mut lines {
                line.shipped = line.quantity;
            }
        }
        self.insert_order_lines(before.id, &lines)?;
        self.touch_order(before.id)?;
        self.record_event(
            "order",
            &before.id.to_string(),
            "order.line_added",
            None,
            Some(&serde_json::to_value(&lines)?),
        )?;
        Ok(())
    }

    fn touch_order(&self, id: OrderId) -> crate::Result<()> {
        self.conn
            .prepare_cached("UPDATE orders SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![id.to_string(), self.now_text.as_str()])?;
        Ok(())
    }

    /// One order with its lines and totals.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_order(&self, id: OrderId) -> crate::Result<Order> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1"))?;
        let found =
            stmt.query_row(params![id.to_string()], |row| Ok(order_from_row(row))).optional()?;
        let order = found.ok_or_else(|| Error::not_found("order", id))??;
        self.with_lines(order)
    }

    fn with_lines(&self, mut order: Order) -> crate::Result<Order> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LINE_SELECT}, l.shipped, l.returns_line, p.sku
             FROM order_lines l JOIN products p ON p.id = l.product_id WHERE l.order_id = ?1 ORDER BY l.line_no"
        ))?;
        let currency = order.currency;
        order.lines =
            collect(&mut stmt, params![order.id.to_string()], |row| line_from_row(row, currency))?;
        order.revenue = Money::sum(currency, order.lines.iter().map(|l| &l.net))?;
        order.cost = Money::sum(currency, order.lines.iter().map(|l| &l.cost))?;
        Ok(order)
    }

    /// The order with an external id, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn find_order_by_external_id(&self, external_id: &str) -> crate::Result<Option<Order>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE external_id = ?1"
        ))?;
        let found =
            stmt.query_row(params![external_id], |row| Ok(order_from_row(row))).optional()?;
        found.map(|o| self.with_lines(o?)).transpose()
    }

    /// A party's orders, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn orders_of(&self, party: PartyId) -> crate::Result<Vec<Order>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE party_id = ?1 ORDER BY ordered_at, id"
        ))?;
        let orders = collect(&mut stmt, params![party.to_string()], order_from_row)?;
        orders.into_iter().map(|o| self.with_lines(o)).collect()
    }

    /// Moves an order along its status machine (see
    /// [`OrderStatus::can_become`]): confirm, cancel, or mark delivered.
    /// Shipping goes through [`Tx::ship`], returning through
    /// [`Tx::return_items`].
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown order.
    /// - [`Error::Invalid`] on the field `status` for a transition the
    ///   machine does not allow, or one that needs a shipment or return.
    pub fn set_order_status(&mut self, id: OrderId, to: OrderStatus) -> crate::Result<Order> {
        let before = self.get_order(id)?;
        if !before.status.can_become(to) {
            return Err(Error::invalid(
                "status",
                format!(
                    "order {id} cannot go from {} to {to} (allowed: {})",
                    before.status,
                    codes(before.status.next())
                ),
            ));
        }
        if matches!(
            to,
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Returned
        ) {
            return Err(Error::invalid(
                "status",
                format!("order {id} becomes {to} by recording a shipment or return, not directly"),
            ));
        }
        self.write_order_status(&before, to, "order.status_changed")
    }

    fn write_order_status(
        &mut self,
        before: &Order,
        to: OrderStatus,
        kind: &str,
    ) -> crate::Result<Order> {
        self.conn.execute(
            "UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![before.id.to_string(), to.code(), self.now_text.as_str()],
        )?;
        let after = self.get_order(before.id)?;
        self.record_event(
            "order",
            &before.id.to_string(),
            kind,
            Some(&serde_json::json!({ "status": before.status })),
            Some(&serde_json::json!({ "status": to })),
        )?;
        Ok(after)
    }

    /// Records a shipment against an order's lines; the order becomes
    /// `partially-shipped` or `shipped`.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown order.
    /// - [`Error::Invalid`] on `status` when the order is not confirmed or
    ///   partially shipped, on `lines` for an empty shipment or an unknown
    ///   line, and on `quantity` for a quantity that is not positive or more
    ///   than is left to ship.
    pub fn ship(&mut self, new: NewShipment) -> crate::Result<Shipment> {
        let order = self.get_order(new.order_id)?;
        if !matches!(order.status, OrderStatus::Confirmed | OrderStatus::PartiallyShipped) {
            return Err(Error::invalid(
                "status",
                format!("order {} is {}; only confirmed orders ship", order.id, order.status),
            ));
        }
        if new.lines.is_empty() {
            return Err(Error::invalid("lines", "a shipment needs at least one line"));
        }
        let mut shipped: BTreeMap<u32, i64> =
            order.lines.iter().map(|l| (l.line_no, l.shipped)).collect();
        for (line_no, quantity) in &new.lines {
            let line = order
                .lines
                .iter()
                .find(|l| l.line_no == *line_no && l.returns_line.is_none())
                .ok_or_else(|| {
                    Error::invalid("lines", format!("order {} has no line {line_no}", order.id))
                })?;
            let already = shipped.entry(*line_no).or_default();
            if *quantity <= 0 {
                return Err(Error::invalid(
                    "quantity",
                    format!("line {line_no}: {quantity} is not positive"),
                ));
            }
            if *already + quantity > line.quantity {
                return Err(Error::invalid(
                    "quantity",
                    format!(
                        "line {line_no} ({}): shipping {quantity} more than ordered ({} ordered, {} shipped)",
                        line.sku, line.quantity, already
                    ),
                ));
            }
            *already += quantity;
        }
        let id = ShipmentId::new();
        self.conn.execute(
            "INSERT INTO shipments (id, order_id, shipped_at, carrier, tracking, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_string(),
                order.id.to_string(),
                time_text(&stored_precision(new.shipped_at)),
                new.carrier,
                new.tracking,
                self.now_text.as_str()
            ],
        )?;
        for (line_no, quantity) in &new.lines {
            self.conn.execute(
                "INSERT INTO shipment_lines (shipment_id, line_no, quantity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (shipment_id, line_no) DO UPDATE SET quantity = quantity + excluded.quantity",
                params![id.to_string(), line_no, quantity],
            )?;
            self.conn.execute(
                "UPDATE order_lines SET shipped = shipped + ?3 WHERE order_id = ?1 AND line_no = ?2",
                params![order.id.to_string(), line_no, quantity],
            )?;
        }
        let complete = order
            .lines
            .iter()
            .filter(|l| l.returns_line.is_none())
            .all(|l| shipped.get(&l.line_no).copied().unwrap_or(0) >= l.quantity);
        let status = if complete { OrderStatus::Shipped } else { OrderStatus::PartiallyShipped };
        let shipment = self.get_shipment(id)?;
        self.conn.execute(
            "UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![order.id.to_string(), status.code(), self.now_text.as_str()],
        )?;
        self.record_event(
            "order",
            &order.id.to_string(),
            "order.shipped",
            Some(&serde_json::json!({ "status": order.status })),
            Some(&serde_json::json!({ "status": status, "shipment": shipment })),
        )?;
        Ok(shipment)
    }

    /// One shipment.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_shipment(&self, id: ShipmentId) -> crate::Result<Shipment> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, order_id, shipped_at, carrier, tracking FROM shipments WHERE id = ?1",
        )?;
        let found = stmt
            .query_row(params![id.to_string()], |row| {
                Ok((|| -> crate::Result<Shipment> {
                    Ok(Shipment {
                        id: get_parsed(row, "id")?,
                        order_id: get_parsed(row, "order_id")?,
                        shipped_at: get_time(row, "shipped_at")?,
                        lines: Vec::new(),
                        carrier: get(row, "carrier")?,
                        tracking: get(row, "tracking")?,
                    })
                })())
            })
            .optional()?;
        let mut shipment = found.ok_or_else(|| Error::not_found("shipment", id))??;
        let mut stmt = self.conn.prepare_cached(
            "SELECT line_no, quantity FROM shipment_lines WHERE shipment_id = ?1 ORDER BY line_no",
        )?;
        shipment.lines = collect(&mut stmt, params![id.to_string()], |row| {
            Ok((get(row, "line_no")?, get(row, "quantity")?))
        })?;
        Ok(shipment)
    }

    /// The shipments of an order, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn shipments_of(&self, order: OrderId) -> crate::Result<Vec<Shipment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM shipments WHERE order_id = ?1 ORDER BY shipped_at, id",
        )?;
        let ids: Vec<ShipmentId> =
            collect(&mut stmt, params![order.to_string()], |row| get_parsed(row, "id"))?;
        ids.into_iter().map(|id| self.get_shipment(id)).collect()
    }

    /// Records returned units as negative lines (same price, discount and
    /// cost as the line returned, so revenue and cost go down together).
    /// When every shipped unit has come back the order becomes `returned`.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown order.
    /// - [`Error::Invalid`] on `status` when nothing has shipped, on `lines`
    ///   for an unknown line, and on `quantity` for more than was shipped
    ///   and not yet returned.
    pub fn return_items(&mut self, id: OrderId, items: &[(u32, i64)]) -> crate::Result<Order> {
        let before = self.get_order(id)?;
        if !matches!(
            before.status,
            OrderStatus::PartiallyShipped | OrderStatus::Shipped | OrderStatus::Delivered
        ) {
            return Err(Error::invalid(
                "status",
                format!("order {id} is {}; only shipped goods can be returned", before.status),
            ));
        }
        if items.is_empty() {
            return Err(Error::invalid("lines", "a return needs at least one line"));
        }
        let mut returned: BTreeMap<u32, i64> = BTreeMap::new();
        for line in before.lines.iter().filter(|l| l.returns_line.is_some()) {
            *returned.entry(line.returns_line.unwrap_or_default()).or_default() -= line.quantity;
        }
        let last = before.lines.iter().map(|l| l.line_no).max().unwrap_or(0);
        let mut new_lines = Vec::new();
        for (next, (line_no, quantity)) in (last + 1..).zip(items) {
            let line = before
                .lines
                .iter()
                .find(|l| l.line_no == *line_no && l.returns_line.is_none())
                .ok_or_else(|| {
                    Error::invalid("lines", format!("order {id} has no line {line_no}"))
                })?;
            if *quantity <= 0 {
                return Err(Error::invalid(
                    "quantity",
                    format!(
                        "line {line_no}: return {quantity} units? Give the number returned, positive"
                    ),
                ));
            }
            let done = returned.entry(*line_no).or_default();
            if *done + quantity > line.shipped {
                return Err(Error::invalid(
                    "quantity",
                    format!(
                        "line {line_no} ({}): returning {quantity} but only {} shipped and {} already returned",
                        line.sku, line.shipped, done
                    ),
                ));
            }
            *done += quantity;
            new_lines.push(Line {
                line_no: next,
                quantity: -quantity,
                net: line_net(-quantity, line.unit_price, line.discount_bp)?,
                cost: line.unit_cost.checked_mul(-quantity)?,
                shipped: 0,
                returns_line: Some(*line_no),
                ..line.clone()
            });
        }
        self.insert_order_lines(id, &new_lines)?;
        let everything_back = before
            .lines
            .iter()
            .filter(|l| l.returns_line.is_none())
            .all(|l| returned.get(&l.line_no).copied().unwrap_or(0) >= l.quantity);
        let status = if everything_back { OrderStatus::Returned } else { before.status };
        self.conn.execute(
            "UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), status.code(), self.now_text.as_str()],
        )?;
        let after = self.get_order(id)?;
        self.record_event(
            "order",
            &id.to_string(),
            "order.returned",
            Some(&serde_json::json!({ "status": before.status })),
            Some(&serde_json::json!({ "status": status, "lines": new_lines })),
        )?;
        Ok(after)
    }

    /// Revenue, cost and margin per party of the orders placed in `period`
    /// (all time when `None`) that count as revenue (not draft or
    /// cancelled); returns are subtracted. Without a reporting currency
    /// there is one entry per party and order currency; with one, each
    /// order is converted at the rate of its order date and there is one
    /// entry per party. Ordered by party id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when converting needs an FX rate that is missing.
    pub fn profit_by_party(
        &self,
        period: Option<&Period>,
        currency: Option<Currency>,
    ) -> crate::Result<Vec<PartyProfit>> {
        let groups = self.profit_groups(None, period, currency.is_some())?;
        let Some(currency) = currency else {
            return Ok(groups
                .into_iter()
                .map(|g| PartyProfit { party_id: g.party, profit: g.profit })
                .collect());
        };
        let mut converter = Converter::new(self, currency);
        let mut out: Vec<PartyProfit> = Vec::new();
        for group in groups {
            let day = group.day.unwrap_or(NaiveDate::MIN);
            let converted = Profit {
                orders: group.profit.orders,
                revenue: converter.convert(group.profit.revenue, day)?,
                cost: converter.convert(group.profit.cost, day)?,
            };
            match out.last_mut() {
                Some(last) if last.party_id == group.party => {
                    last.profit = last.profit.checked_add(converted)?;
                }
                _ => out.push(PartyProfit { party_id: group.party, profit: converted }),
            }
        }
        Ok(out)
    }

    /// A party's profit: as [`Tx::profit_by_party`] for one party.
    ///
    /// # Errors
    ///
    /// As [`Tx::profit_by_party`].
    pub fn party_profit(
        &self,
        party: PartyId,
        period: Option<&Period>,
        currency: Option<Currency>,
    ) -> crate::Result<Vec<Profit>> {
        let groups = self.profit_groups(Some(party), period, currency.is_some())?;
        match currency {
            None => Ok(groups.into_iter().map(|g| g.profit).collect()),
            Some(currency) => {
                let mut converter = Converter::new(self, currency);
                let mut total = Profit::zero(currency);
                for group in groups {
                    let day = group.day.unwrap_or(NaiveDate::MIN);
                    total = total.checked_add(Profit {
                        orders: group.profit.orders,
                        revenue: converter.convert(group.profit.revenue, day)?,
                        cost: converter.convert(group.profit.cost, day)?,
                    })?;
                }
                Ok(vec![total])
            }
        }
    }

    /// Revenue, cost and margin per month, quarter or year of the order
    /// date, within `range` (all time when `None`). Without a reporting
    /// currency there is one entry per period and currency.
    ///
    /// # Errors
    ///
    /// As [`Tx::profit_by_party`].
    pub fn profit_by_period(
        &self,
        unit: PeriodUnit,
        range: Option<&Period>,
        currency: Option<Currency>,
    ) -> crate::Result<Vec<(Period, Profit)>> {
        let groups = self.profit_groups(None, range, true)?;
        let mut buckets: BTreeMap<(Period, Currency), Profit> = BTreeMap::new();
        let mut converter = currency.map(|c| Converter::new(self, c));
        for group in groups {
            let day = group.day.unwrap_or(NaiveDate::MIN);
            let period = Period::containing(day, unit)?;
            let profit = match &mut converter {
                None => group.profit,
                Some(converter) => Profit {
                    orders: group.profit.orders,
                    revenue: converter.convert(group.profit.revenue, day)?,
                    cost: converter.convert(group.profit.cost, day)?,
                },
            };
            let currency = profit.revenue.currency();
            let slot = buckets.entry((period, currency)).or_insert(Profit::zero(currency));
            *slot = slot.checked_add(profit)?;
        }
        Ok(buckets.into_iter().map(|((period, _), profit)| (period, profit)).collect())
    }

    /// Sums of net and cost per party and currency (and day, when `by_day`),
    /// ordered by party.
    fn profit_groups(
        &self,
        party: Option<PartyId>,
        period: Option<&Period>,
        by_day: bool,
    ) -> crate::Result<Vec<ProfitGroup>> {
        // Predicates only for what is asked, so that a whole-base query
        // walks the party index like a hand-written aggregate would.
        let day = if by_day { "substr(o.ordered_at, 1, 10)" } else { "NULL" };
        let mut filters = String::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(period) = period {
            values.push(time_text(&period.start_time()));
            values.push(time_text(&period.end_time()));
            filters.push_str(" AND o.ordered_at >= ?1 AND o.ordered_at < ?2");
        }
        if let Some(party) = party {
            values.push(party.to_string());
            filters.push_str(&format!(" AND o.party_id = ?{}", values.len()));
        }
        let group = if by_day { "o.party_id, o.currency, day" } else { "o.party_id, o.currency" };
        let sql = format!(
            "SELECT o.party_id, o.currency, {day} AS day, count(DISTINCT o.id) AS orders,
                    sum(l.net) AS net, sum(l.cost) AS cost
             FROM orders o JOIN order_lines l ON l.order_id = o.id
             WHERE o.status NOT IN ('draft', 'cancelled'){filters}
             GROUP BY {group} ORDER BY {group}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        collect(&mut stmt, rusqlite::params_from_iter(values.iter()), |row| {
            let currency: Currency = get_parsed(row, "currency")?;
            let day: Option<String> = get(row, "day")?;
            Ok(ProfitGroup {
                party: get_parsed(row, "party_id")?,
                day: day.map(|d| parse_date(&d, "ordered_at")).transpose()?,
                profit: Profit {
                    orders: get::<i64>(row, "orders")? as u64,
                    revenue: Money::new(get(row, "net")?, currency),
                    cost: Money::new(get(row, "cost")?, currency),
                },
            })
        })
    }
}

struct ProfitGroup {
    party: PartyId,
    day: Option<NaiveDate>,
    profit: Profit,
}

fn at_line(error: Error, line_no: u32) -> Error {
    match error {
        Error::Invalid { at, reason } => {
            Error::Invalid { at, reason: format!("line {line_no}: {reason}") }
        }
        other => other,
    }
}

pub(crate) fn codes<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn order_from_row(row: &Row<'_>) -> crate::Result<Order> {
    let currency: Currency = get_parsed(row, "currency")?;
    Ok(Order {
        id: get_parsed(row, "id")?,
        external_id: get(row, "external_id")?,
        party_id: get_parsed(row, "party_id")?,
        owner: get_opt_parsed(row, "owner_id")?,
        currency,
        status: get_parsed(row, "status")?,
        ordered_at: get_time(row, "ordered_at")?,
        quote_id: get_opt_parsed(row, "quote_id")?,
        lines: Vec::new(),
        revenue: Money::zero(currency),
        cost: Money::zero(currency),
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

fn line_from_row(row: &Row<'_>, currency: Currency) -> crate::Result<Line> {
    Ok(Line {
        line_no: get(row, "line_no")?,
        product_id: get_parsed(row, "product_id")?,
        sku: get(row, "sku")?,
        quantity: get(row, "quantity")?,
        unit_price: Money::new(get(row, "unit_price")?, currency),
        discount_bp: get(row, "discount_bp")?,
        unit_cost: Money::new(get(row, "unit_cost")?, currency),
        net: Money::new(get(row, "net")?, currency),
        cost: Money::new(get(row, "cost")?, currency),
        shipped: get(row, "shipped")?,
        returns_line: get(row, "returns_line")?,
    })
}
