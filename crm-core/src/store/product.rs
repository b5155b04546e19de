//! Products, list prices and price lists.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};

use crate::Error;
use crate::model::{Currency, Money, NewProduct, PriceList, Product, ProductId};
use crate::store::codec::{collect, date_text, get, get_opt_date, get_parsed, get_time};
use crate::store::{Tx, Upserted};

const PRODUCT_COLUMNS: &str =
    "id, sku, name_en, name_zh, category, unit_cost, cost_currency, created_at, updated_at";

impl Tx<'_> {
    /// Creates a product.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for an empty SKU or name, a negative price or cost.
    /// - [`Error::Conflict`] when the SKU exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use crm_core::{Currency, Money, NewProduct};
    /// # let crm = crm_core::Crm::open_in_memory()?;
    /// let product = crm.write(|tx| tx.create_product(
    ///     NewProduct::new("AC-1200", "Split air conditioner 1.5 HP")
    ///         .with_name_zh("分体空调 1.5匹")
    ///         .with_category("air-conditioner")
    ///         .with_cost(Money::parse("1800", Currency::CNY)?)
    ///         .with_price(Money::parse("2999", Currency::CNY)?)
    ///         .with_price(Money::parse("429", Currency::USD)?),
    /// ))?;
    /// assert_eq!(product.name(crm_core::Lang::ZhCn), "分体空调 1.5匹");
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_product(&mut self, new: NewProduct) -> crate::Result<Product> {
        new.validate()?;
        if self.find_product_by_sku(&new.sku)?.is_some() {
            return Err(Error::conflict(format!("a product with SKU {} exists", new.sku)));
        }
        let id = ProductId::new();
        self.conn.execute(
            &format!("INSERT INTO products ({PRODUCT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"),
            params![
                id.to_string(),
                new.sku.trim(),
                new.name_en.trim(),
                new.name_zh,
                new.category,
                new.unit_cost.map(|c| c.minor()),
                new.unit_cost.map(|c| c.currency().code().to_owned()),
                self.now_text.as_str(),
            ],
        )?;
        self.write_prices(id, &new.prices)?;
        let product = self.get_product(id)?;
        self.record_event(
            "product",
            &id.to_string(),
            "product.created",
            None,
            Some(&serde_json::to_value(&product)?),
        )?;
        Ok(product)
    }

    /// Creates the product, or updates the one with the same SKU to match
    /// (names, category, cost, and the prices given; prices in other
    /// currencies stay).
    ///
    /// # Errors
    ///
    /// As [`Tx::create_product`].
    pub fn upsert_product(&mut self, new: NewProduct) -> crate::Result<(Product, Upserted)> {
        new.validate()?;
        let Some(before) = self.find_product_by_sku(&new.sku)? else {
            return Ok((self.create_product(new)?, Upserted::Created));
        };
        let prices_same = new.prices.iter().all(|p| before.price_in(p.currency()) == Some(*p));
        if before.name_en == new.name_en.trim()
            && before.name_zh == new.name_zh
            && before.category == new.category
            && before.unit_cost == new.unit_cost
            && prices_same
        {
            return Ok((before, Upserted::Unchanged));
        }
        self.conn.execute(
            "UPDATE products SET name_en = ?2, name_zh = ?3, category = ?4, unit_cost = ?5,
                 cost_currency = ?6, updated_at = ?7 WHERE id = ?1",
            params![
                before.id.to_string(),
                new.name_en.trim(),
                new.name_zh,
                new.category,
                new.unit_cost.map(|c| c.minor()),
                new.unit_cost.map(|c| c.currency().code().to_owned()),
                self.now_text.as_str(),
            ],
        )?;
        self.write_prices(before.id, &new.prices)?;
        let after = self.get_product(before.id)?;
        self.record_event(
            "product",
            &before.id.to_string(),
            "product.updated",
            Some(&serde_json::to_value(&before)?),
            Some(&serde_json::to_value(&after)?),
        )?;
        Ok((after, Upserted::Updated))
    }

    fn write_prices(&self, id: ProductId, prices: &[Money]) -> crate::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO product_prices (product_id, currency, amount) VALUES (?1, ?2, ?3)
             ON CONFLICT (product_id, currency) DO UPDATE SET amount = excluded.amount",
        )?;
        for price in prices {
            stmt.execute(params![id.to_string(), price.currency().code(), price.minor()])?;
        }
        Ok(())
    }

    /// One product.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn get_product(&self, id: ProductId) -> crate::Result<Product> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1"))?;
        let found =
            stmt.query_row(params![id.to_string()], |row| Ok(product_from_row(row))).optional()?;
        let mut product = found.ok_or_else(|| Error::not_found("product", id))??;
        product.prices = self.prices_of(id)?;
        Ok(product)
    }

    /// The product with a SKU, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn find_product_by_sku(&self, sku: &str) -> crate::Result<Option<Product>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = ?1"))?;
        let found =
            stmt.query_row(params![sku.trim()], |row| Ok(product_from_row(row))).optional()?;
        match found {
            None => Ok(None),
            Some(product) => {
                let mut product = product?;
                product.prices = self.prices_of(product.id)?;
                Ok(Some(product))
            }
        }
    }

    /// The product with a SKU.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (entity `product`) naming the SKU.
    pub fn product_by_sku(&self, sku: &str) -> crate::Result<Product> {
        self.find_product_by_sku(sku)?
            .ok_or_else(|| Error::not_found("product", format!("SKU {sku}")))
    }

    /// Every product, by SKU.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage).
    pub fn products(&self) -> crate::Result<Vec<Product>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY sku"))?;
        let mut products = collect(&mut stmt, [], product_from_row)?;
        for product in &mut products {
            product.prices = self.prices_of(product.id)?;
        }
        Ok(products)
    }

    fn prices_of(&self, id: ProductId) -> crate::Result<Vec<Money>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT currency, amount FROM product_prices WHERE product_id = ?1 ORDER BY currency",
        )?;
        collect(&mut stmt, params![id.to_string()], |row| {
            Ok(Money::new(get(row, "amount")?, get_parsed(row, "currency")?))
        })
    }

    /// Creates or replaces a price list with all its prices.
    ///
    /// # Errors
    ///
    /// - [`Error::Invalid`] for a price in another currency, a negative
    ///   price or validity dates in the wrong order.
    /// - [`Error::NotFound`] for an unknown SKU.
    pub fn save_price_list(&mut self, list: PriceList) -> crate::Result<()> {
        list.validate()?;
        let mut items = Vec::with_capacity(list.prices.len());
        for (sku, price) in &list.prices {
            items.push((self.product_by_sku(sku)?.id, *price));
        }
        let before = self.find_price_list(&list.code)?;
        self.conn
            .execute("DELETE FROM price_list_items WHERE price_list = ?1", params![list.code])?;
        self.conn.execute(
            "INSERT INTO price_lists (code, name, currency, valid_from, valid_until) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, currency = excluded.currency,
                 valid_from = excluded.valid_from, valid_until = excluded.valid_until",
            params![
                list.code,
                list.name,
                list.currency.code(),
                list.valid_from.as_ref().map(date_text),
                list.valid_until.as_ref().map(date_text),
            ],
        )?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO price_list_items (price_list, product_id, amount) VALUES (?1, ?2, ?3)
             ON CONFLICT (price_list, product_id) DO UPDATE SET amount = excluded.amount",
        )?;
        for (id, price) in items {
            stmt.execute(params![list.code, id.to_string(), price.minor()])?;
        }
        let after = self.price_list(&list.code)?;
        self.record_saved("price_list", &list.code, before.as_ref(), &after)?;
        Ok(())
    }

    /// A price list with its prices.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if there is none.
    pub fn price_list(&self, code: &str) -> crate::Result<PriceList> {
        self.find_price_list(code)?.ok_or_else(|| Error::not_found("price_list", code))
    }

    fn find_price_list(&self, code: &str) -> crate::Result<Option<PriceList>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, name, currency, valid_from, valid_until FROM price_lists WHERE code = ?1",
        )?;
        let found = stmt
            .query_row(params![code], |row| {
                Ok((|| -> crate::Result<PriceList> {
                    Ok(PriceList {
                        code: get(row, "code")?,
                        name: get(row, "name")?,
                        currency: get_parsed(row, "currency")?,
                        valid_from: get_opt_date(row, "valid_from")?,
                        valid_until: get_opt_date(row, "valid_until")?,
                        prices: Vec::new(),
                    })
                })())
            })
            .optional()?;
        let Some(list) = found else { return Ok(None) };
        let mut list = list?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.sku, i.amount FROM price_list_items i JOIN products p ON p.id = i.product_id
             WHERE i.price_list = ?1 ORDER BY p.sku",
        )?;
        let currency = list.currency;
        list.prices = collect(&mut stmt, params![code], |row| {
            Ok((get(row, "sku")?, Money::new(get(row, "amount")?, currency)))
        })?;
        Ok(Some(list))
    }

    /// The unit price of a product in a currency on a day: the price list's
    /// price when a list is given, valid that day and lists the product;
    /// else the product's list price in the currency.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown price list.
    /// - [`Error::Invalid`] on the field `price_list` when the list is in
    ///   another currency or not valid on the day, and on `unit_price` when
    ///   the product has no price in the currency.
    pub fn unit_price(
        &self,
        product: &Product,
        currency: Currency,
        price_list: Option<&str>,
        day: NaiveDate,
    ) -> crate::Result<Money> {
        if let Some(code) = price_list {
            let list = self.price_list(code)?;
            if list.currency != currency {
                return Err(Error::invalid(
                    "price_list",
                    format!("price list {code} is in {}, not {currency}", list.currency),
                ));
            }
            if !list.is_valid_on(day) {
                return Err(Error::invalid(
                    "price_list",
                    format!("price list {code} is not valid on {day}"),
                ));
            }
            if let Some((_, price)) = list.prices.iter().find(|(sku, _)| *sku == product.sku) {
                return Ok(*price);
            }
        }
        product.price_in(currency).ok_or_else(|| {
            Error::invalid(
                "unit_price",
                format!("product {} has no price in {currency}; give one on the line", product.sku),
            )
        })
    }
}

fn product_from_row(row: &Row<'_>) -> crate::Result<Product> {
    let cost: Option<i64> = get(row, "unit_cost")?;
    let cost_currency: Option<String> = get(row, "cost_currency")?;
    let unit_cost = match (cost, cost_currency) {
        (Some(minor), Some(currency)) => Some(Money::new(minor, Currency::new(&currency)?)),
        _ => None,
    };
    Ok(Product {
        id: get_parsed(row, "id")?,
        sku: get(row, "sku")?,
        name_en: get(row, "name_en")?,
        name_zh: get(row, "name_zh")?,
        category: get(row, "category")?,
        unit_cost,
        prices: Vec::new(),
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}
