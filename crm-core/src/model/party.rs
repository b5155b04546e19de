//! Parties: the people and organisations a business deals with.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::Error;
use crate::model::{ContactKind, ContactPoint, Currency, FieldValue, NewContactPoint, PartyId};

code_enum! {
    /// Whether a party is a natural person or an organisation.
    pub enum PartyKind as "kind" {
        /// A natural person.
        Person = ("person", "Person", "个人"),
        /// A company, institution or other organisation.
        Organization = ("organization", "Organization", "组织"),
    }
}

code_enum! {
    /// A role a party plays towards the business ("customer" in the broad
    /// ISO 9000 sense). A party may hold several.
    pub enum Role as "role" {
        /// Buys from the business.
        Customer = ("customer", "Customer", "客户"),
        /// May buy; not yet a customer.
        Prospect = ("prospect", "Prospect", "潜在客户"),
        /// Resells the business's products.
        Distributor = ("distributor", "Distributor", "经销商"),
        /// Sells on the business's behalf.
        Agent = ("agent", "Agent", "代理商"),
        /// Works with the business.
        Partner = ("partner", "Partner", "合作伙伴"),
        /// Supplies the business.
        Supplier = ("supplier", "Supplier", "供应商"),
        /// Works for the business (an internal customer).
        Employee = ("employee", "Employee", "员工"),
        /// A party that is contact person for an organisation.
        Contact = ("contact", "Contact person", "联系人"),
    }
}

code_enum! {
    /// The stage of the customer life cycle.
    pub enum LifecycleStage as "stage" {
        /// Known, has not bought.
        Prospect = ("prospect", "Prospect", "潜在期"),
        /// First purchase recently.
        New = ("new", "New", "新客户期"),
        /// Buying more.
        Growing = ("growing", "Growing", "成长期"),
        /// Buying steadily.
        Stable = ("stable", "Stable", "稳定期"),
        /// Buying less.
        Declining = ("declining", "Declining", "衰退期"),
        /// Has left.
        Churned = ("churned", "Churned", "流失"),
        /// Came back after churning.
        WonBack = ("won-back", "Won back", "赢回"),
    }
}

/// An id of the party in another system (an ERP customer number, a WeChat
/// OpenID, …). `(system, value)` is unique across live parties and makes
/// imports idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ExternalId {
    /// The other system, e.g. `erp`.
    pub system: String,
    /// The id there.
    pub value: String,
}

impl ExternalId {
    /// An external id.
    pub fn new(system: impl Into<String>, value: impl Into<String>) -> ExternalId {
        ExternalId { system: system.into(), value: value.into() }
    }

    /// Parses `system:value` (the form the CLI and import files use).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when there is no `:` or either side is empty.
    pub fn parse(text: &str) -> crate::Result<ExternalId> {
        match text.split_once(':') {
            Some((system, value)) if !system.trim().is_empty() && !value.trim().is_empty() => {
                Ok(ExternalId::new(system.trim(), value.trim()))
            }
            _ => Err(Error::invalid(
                "external_id",
                format!("`{text}` is not of the form system:value"),
            )),
        }
    }

    pub(crate) fn validate(&self) -> crate::Result<()> {
        if self.system.trim().is_empty() || self.value.trim().is_empty() {
            return Err(Error::invalid("external_id", "system and value must not be empty"));
        }
        if self.system.contains(':') {
            return Err(Error::invalid(
                "external_id",
                format!("system `{}` must not contain `:`", self.system),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.value)
    }
}

/// A role held over a span of dates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RoleSpan {
    /// The role.
    pub role: Role,
    /// First day the role holds.
    pub since: NaiveDate,
    /// Last day the role holds, if it has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
}

impl RoleSpan {
    /// True when the role holds on `date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.since <= date && self.until.is_none_or(|until| date <= until)
    }
}

/// One entry of a party's lifecycle-stage history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageChange {
    /// The stage entered.
    pub stage: LifecycleStage,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, if given.
    pub reason: Option<String>,
}

/// A party to be created.
///
/// ```
/// use crm_core::{NewParty, Role, ContactKind};
/// let party = NewParty::person("张伟")
///     .with_role(Role::Customer)
///     .with_contact(ContactKind::Mobile, "138 0013 8000")
///     .with_external_id("erp", "C-1001")
///     .with_language("zh-CN");
/// assert_eq!(party.name, "张伟");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewParty {
    /// Person or organisation.
    pub kind: PartyKind,
    /// Display name; must not be empty.
    pub name: String,
    /// Roles held from today on.
    pub roles: Vec<Role>,
    /// Initial lifecycle stage.
    pub stage: Option<LifecycleStage>,
    /// The responsible salesperson (a party).
    pub owner: Option<PartyId>,
    /// Preferred language as a BCP-47 tag (`zh-CN`, `en`).
    pub language: Option<String>,
    /// Preferred currency.
    pub currency: Option<Currency>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Custom field values; each field must be defined.
    pub fields: BTreeMap<String, FieldValue>,
    /// Ids in other systems.
    pub external_ids: Vec<ExternalId>,
    /// Contact points.
    pub contacts: Vec<NewContactPoint>,
    /// Free notes (searchable).
    pub notes: Option<String>,
}

impl NewParty {
    /// A party of `kind` named `name`, with nothing else set.
    pub fn new(kind: PartyKind, name: impl Into<String>) -> NewParty {
        NewParty {
            kind,
            name: name.into(),
            roles: Vec::new(),
            stage: None,
            owner: None,
            language: None,
            currency: None,
            tags: Vec::new(),
            fields: BTreeMap::new(),
            external_ids: Vec::new(),
            contacts: Vec::new(),
            notes: None,
        }
    }

    /// A person.
    pub fn person(name: impl Into<String>) -> NewParty {
        NewParty::new(PartyKind::Person, name)
    }

    /// An organisation.
    pub fn organization(name: impl Into<String>) -> NewParty {
        NewParty::new(PartyKind::Organization, name)
    }

    /// Adds a role.
    #[must_use]
    pub fn with_role(mut self, role: Role) -> NewParty {
        self.roles.push(role);
        self
    }

    /// Sets the lifecycle stage.
    #[must_use]
    pub fn with_stage(mut self, stage: LifecycleStage) -> NewParty {
        self.stage = Some(stage);
        self
    }

    /// Sets the owner.
    #[must_use]
    pub fn with_owner(mut self, owner: PartyId) -> NewParty {
        self.owner = Some(owner);
        self
    }

    /// Sets the language tag.
    #[must_use]
    pub fn with_language(mut self, language: impl Into<String>) -> NewParty {
        self.language = Some(language.into());
        self
    }

    /// Sets the preferred currency.
    #[must_use]
    pub fn with_currency(mut self, currency: Currency) -> NewParty {
        self.currency = Some(currency);
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> NewParty {
        self.tags.push(tag.into());
        self
    }

    /// Sets a custom field.
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<FieldValue>) -> NewParty {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Adds an external id.
    #[must_use]
    pub fn with_external_id(
        mut self,
        system: impl Into<String>,
        value: impl Into<String>,
    ) -> NewParty {
        self.external_ids.push(ExternalId::new(system, value));
        self
    }

    /// Adds a contact point with no consent recorded.
    #[must_use]
    pub fn with_contact(mut self, kind: ContactKind, value: impl Into<String>) -> NewParty {
        self.contacts.push(NewContactPoint::new(kind, value));
        self
    }

    /// Adds a fully described contact point.
    #[must_use]
    pub fn with_contact_point(mut self, contact: NewContactPoint) -> NewParty {
        self.contacts.push(contact);
        self
    }

    /// Sets the notes.
    #[must_use]
    pub fn with_notes(mut self, notes: impl Into<String>) -> NewParty {
        self.notes = Some(notes.into());
        self
    }

    /// Checks what can be checked without the database.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        validate_name(&self.name)?;
        if let Some(language) = &self.language {
            validate_language(language)?;
        }
        for tag in &self.tags {
            validate_tag(tag)?;
        }
        for external_id in &self.external_ids {
            external_id.validate()?;
        }
        Ok(())
    }
}

/// A saved party.
///
/// In JSON (events, exports) absent values and empty lists are left out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Party {
    /// Id.
    pub id: PartyId,
    /// Person or organisation.
    pub kind: PartyKind,
    /// Display name.
    pub name: String,
    /// Roles with their date spans (ended ones included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleSpan>,
    /// Current lifecycle stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<LifecycleStage>,
    /// Responsible salesperson.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<PartyId>,
    /// Preferred language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Preferred currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Tags, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom field values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
    /// Ids in other systems, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<ExternalId>,
    /// Contact points, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<ContactPoint>,
    /// Notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Creation time.
    #[serde(serialize_with = "crate::model::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "crate::model::time::serialize")]
    pub updated_at: DateTime<Utc>,
    /// Set when soft-deleted (also when merged into another party or erased).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::model::time::serialize_opt"
    )]
    pub deleted_at: Option<DateTime<Utc>>,
    /// The party this one was merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<PartyId>,
}

impl Party {
    /// True when the party holds `role` on `date`.
    pub fn has_role_on(&self, role: Role, date: NaiveDate) -> bool {
        self.roles.iter().any(|span| span.role == role && span.active_on(date))
    }

    /// True unless soft-deleted.
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }
}

/// A change to a party's scalar fields; `None` leaves a field as it is.
///
/// For the optional fields, `Some(None)` clears the value.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PartyPatch {
    /// New name.
    pub name: Option<String>,
    /// New owner, or `Some(None)` to clear.
    pub owner: Option<Option<PartyId>>,
    /// New language, or `Some(None)` to clear.
    pub language: Option<Option<String>>,
    /// New currency, or `Some(None)` to clear.
    pub currency: Option<Option<Currency>>,
    /// New notes, or `Some(None)` to clear.
    pub notes: Option<Option<String>>,
}

impl PartyPatch {
    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> PartyPatch {
        self.name = Some(name.into());
        self
    }

    /// Sets or clears the owner.
    #[must_use]
    pub fn with_owner(mut self, owner: Option<PartyId>) -> PartyPatch {
        self.owner = Some(owner);
        self
    }

    /// Sets or clears the language.
    #[must_use]
    pub fn with_language(mut self, language: Option<String>) -> PartyPatch {
        self.language = Some(language);
        self
    }

    /// Sets or clears the currency.
    #[must_use]
    pub fn with_currency(mut self, currency: Option<Currency>) -> PartyPatch {
        self.currency = Some(currency);
        self
    }

    /// Sets or clears the notes.
    #[must_use]
    pub fn with_notes(mut self, notes: Option<String>) -> PartyPatch {
        self.notes = Some(notes);
        self
    }
}

/// Which parties [`Tx::list_parties`](crate::Tx::list_parties) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartyFilter {
    /// Only this kind.
    pub kind: Option<PartyKind>,
    /// Only parties holding this role today.
    pub role: Option<Role>,
    /// Only parties in this stage.
    pub stage: Option<LifecycleStage>,
    /// Only parties with this tag.
    pub tag: Option<String>,
    /// Only parties owned by this party.
    pub owner: Option<PartyId>,
    /// Include soft-deleted parties.
    pub include_deleted: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Most rows to return (default 100).
    pub limit: u64,
}

impl Default for PartyFilter {
    fn default() -> PartyFilter {
        PartyFilter {
            kind: None,
            role: None,
            stage: None,
            tag: None,
            owner: None,
            include_deleted: false,
            offset: 0,
            limit: 100,
        }
    }
}

impl PartyFilter {
    /// Only this kind.
    #[must_use]
    pub fn kind(mut self, kind: PartyKind) -> PartyFilter {
        self.kind = Some(kind);
        self
    }

    /// Only this role.
    #[must_use]
    pub fn role(mut self, role: Role) -> PartyFilter {
        self.role = Some(role);
        self
    }

    /// Only this stage.
    #[must_use]
    pub fn stage(mut self, stage: LifecycleStage) -> PartyFilter {
        self.stage = Some(stage);
        self
    }

    /// Only this tag.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> PartyFilter {
        self.tag = Some(tag.into());
        self
    }

    /// Only this owner.
    #[must_use]
    pub fn owner(mut self, owner: PartyId) -> PartyFilter {
        self.owner = Some(owner);
        self
    }

    /// Include soft-deleted parties.
    #[must_use]
    pub fn include_deleted(mut self) -> PartyFilter {
        self.include_deleted = true;
        self
    }

    /// One page: skip `offset`, return at most `limit`.
    #[must_use]
    pub fn page(mut self, offset: u64, limit: u64) -> PartyFilter {
        self.offset = offset;
        self.limit = limit;
        self
    }
}

/// The key duplicate detection compares names by: lower-case, punctuation
/// removed, runs of white space collapsed to one space.
pub fn name_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for word in name
        .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '&'))
        .filter(|w| !w.is_empty())
    {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    key
}

pub(crate) fn validate_name(name: &str) -> crate::Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.chars().count() > 500 {
        return Err(Error::invalid("name", "is longer than 500 characters"));
    }
    Ok(())
}

pub(crate) fn validate_language(tag: &str) -> crate::Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "language",
            format!("`{tag}` is not a language tag such as zh-CN or en"),
        ))
    }
}

pub(crate) fn validate_tag(tag: &str) -> crate::Result<()> {
    if tag.trim().is_empty() || tag.trim() != tag || tag.contains(';') || tag.chars().count() > 100
    {
        return Err(Error::invalid(
            "tags",
            format!(
                "`{tag}` is not a tag: tags are 1–100 characters, no `;`, no surrounding spaces"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_have_labels() {
        for role in Role::ALL {
            assert_eq!(Role::from_code(role.code()).unwrap(), *role);
            assert!(!role.label(crate::model::Lang::ZhCn).is_empty());
        }
        assert_eq!(LifecycleStage::from_code("WON_BACK").unwrap(), LifecycleStage::WonBack);
        let err = Role::from_code("buyer").unwrap_err().to_string();
        assert!(err.starts_with("invalid role: unknown code `buyer`"), "{err}");
    }

    #[test]
    fn currency_validates() {
        assert_eq!(Currency::new("cny").unwrap().code(), "CNY");
        assert!(Currency::new("RMB1").is_err());
        assert!(Currency::new("¥").is_err());
    }

    #[test]
    fn name_key_ignores_case_punctuation_and_spacing() {
        assert_eq!(name_key("  ACME,  Inc. "), "acme inc");
        assert_eq!(name_key("张 伟"), "张 伟");
        assert_eq!(name_key("Zhang  Wei"), name_key("zhang wei"));
    }

    #[test]
    fn language_tags() {
        assert!(validate_language("zh-CN").is_ok());
        assert!(validate_language("en").is_ok());
        assert!(validate_language("zh_CN").is_err());
        assert!(validate_language("").is_err());
    }
}
