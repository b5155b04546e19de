//! Contact points and per-purpose consent.

use chrono::{DateTime, Utc};

use crate::Error;
use crate::model::{ContactPointId, PartyId};

code_enum! {
    /// The kind of a contact point.
    pub enum ContactKind as "contact.kind" {
        /// Landline telephone.
        Phone = ("phone", "Phone", "电话"),
        /// Mobile telephone.
        Mobile = ("mobile", "Mobile", "手机"),
        /// Fax.
        Fax = ("fax", "Fax", "传真"),
        /// E-mail.
        Email = ("email", "E-mail", "电子邮件"),
        /// Postal address.
        Address = ("address", "Address", "地址"),
        /// Web site.
        Web = ("web", "Web", "网站"),
        /// WeChat id.
        WeChat = ("wechat", "WeChat", "微信"),
        /// Anything else.
        Other = ("other", "Other", "其他"),
    }
}

impl ContactKind {
    /// True for the kinds normalised as telephone numbers.
    pub fn is_phone(self) -> bool {
        matches!(self, ContactKind::Phone | ContactKind::Mobile | ContactKind::Fax)
    }
}

/// Consent to be recorded with a new contact point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    /// Purpose, e.g. `marketing` or `service` (lower-case identifier).
    pub purpose: String,
    /// Granted (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// Where the consent came from (`web-form`, `import`, `call-centre`, …).
    pub source: String,
}

/// The current consent of a contact point for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Consent {
    /// Purpose.
    pub purpose: String,
    /// Granted (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// Where it came from.
    pub source: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// A contact point to be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContactPoint {
    /// Kind.
    pub kind: ContactKind,
    /// The value as given.
    pub value: String,
    /// A label such as `work` or `home`.
    pub label: Option<String>,
    /// ISO 3166 alpha-2 country of a national phone number, for E.164
    /// normalisation (e.g. `CN`).
    pub country: Option<String>,
    /// Consent per purpose.
    pub consents: Vec<NewConsent>,
}

impl NewContactPoint {
    /// A contact point with no label, country or consent.
    pub fn new(kind: ContactKind, value: impl Into<String>) -> NewContactPoint {
        NewContactPoint {
            kind,
            value: value.into(),
            label: None,
            country: None,
            consents: Vec::new(),
        }
    }

    /// Sets the label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> NewContactPoint {
        self.label = Some(label.into());
        self
    }

    /// Sets the country used to normalise a national phone number.
    #[must_use]
    pub fn with_country(mut self, country: impl Into<String>) -> NewContactPoint {
        self.country = Some(country.into());
        self
    }

    /// Records consent (or its withdrawal) for a purpose.
    #[must_use]
    pub fn with_consent(
        mut self,
        purpose: impl Into<String>,
        granted: bool,
        source: impl Into<String>,
    ) -> NewContactPoint {
        self.consents.push(NewConsent { purpose: purpose.into(), granted, source: source.into() });
        self
    }

    /// The normalised value used for duplicate detection.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an invalid e-mail address or phone number.
    pub fn normalized(&self) -> crate::Result<String> {
        normalize(self.kind, &self.value, self.country.as_deref())
    }
}

/// A saved contact point.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactPoint {
    /// Id.
    pub id: ContactPointId,
    /// Owning party.
    pub party_id: PartyId,
    /// Kind.
    pub kind: ContactKind,
    /// The value as given.
    pub value: String,
    /// The normalised value (lower-case e-mail, E.164 phone, …).
    pub normalized: String,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Current consent per purpose, sorted by purpose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<Consent>,
    /// Creation time.
    #[serde(serialize_with = "crate::model::time::serialize")]
    pub created_at: DateTime<Utc>,
}

impl ContactPoint {
    /// True when consent for `purpose` is currently granted.
    pub fn allows(&self, purpose: &str) -> bool {
        self.consents.iter().any(|c| c.purpose == purpose && c.granted)
    }
}

pub(crate) fn normalize(
    kind: ContactKind,
    value: &str,
    country: Option<&str>,
) -> crate::Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(kind.code(), "must not be empty"));
    }
    match kind {
        ContactKind::Email => normalize_email(trimmed),
        kind if kind.is_phone() => {
            normalize_phone(trimmed, country).map_err(|reason| Error::invalid(kind.code(), reason))
        }
        ContactKind::Web | ContactKind::WeChat => Ok(trimmed.to_lowercase()),
        _ => Ok(trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()),
    }
}

/// Validates an e-mail address and returns its normalised form (lower case).
///
/// The check is deliberately practical: one `@`, a non-empty local part
/// without spaces, and a domain with a dot and labels of letters, digits and
/// `-` (internationalised domains are accepted as Unicode).
///
/// # Errors
///
/// [`Error::Invalid`] on the field `email`.
pub fn normalize_email(value: &str) -> crate::Result<String> {
    let bad =
        |why: &str| Error::invalid("email", format!("`{value}` is not an e-mail address: {why}"));
    let value = value.trim();
    let (local, domain) = value.split_once('@').ok_or_else(|| bad("no @"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(bad("empty or too long before @"));
    }
    if domain.contains('@') {
        return Err(bad("more than one @"));
    }
    if local.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c)) {
        return Err(bad("invalid character before @"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad("misplaced dot"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("domain has no dot"));
    }
    for label in &labels {
        if label.is_empty()
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return Err(bad("invalid domain"));
        }
    }
    Ok(value.to_lowercase())
}

/// Normalises a telephone number to E.164 (`+8613800138000`).
///
/// A number that starts with `+` or `00` is international. Otherwise
/// `country` (ISO 3166 alpha-2) gives the calling code and a national trunk
/// prefix `0` is dropped; without a country the digits are kept as they are
/// (still comparable, but not E.164). Spaces, dots, dashes and parentheses
/// are ignored; an extension (`x123`, `ext 123`) is kept after `;ext=`.
///
/// # Errors
///
/// A reason when the number has letters, too few (< 5) or too many (> 15)
/// digits, or the country is unknown.
pub fn normalize_phone(value: &str, country: Option<&str>) -> Result<String, String> {
    let lower = value.trim().to_lowercase();
    let (number, extension) = match lower.find("ext").or_else(|| lower.find('x')) {
        Some(at) => {
            let ext: String = lower[at..].chars().filter(char::is_ascii_digit).collect();
            (&lower[..at], Some(ext))
        }
        None => (lower.as_str(), None),
    };
    let mut digits = String::with_capacity(number.len());
    let mut international = false;
    for (index, c) in number.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if index == 0 => international = true,
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
            other => return Err(format!("`{value}` is not a phone number: unexpected `{other}`")),
        }
    }
    if !international && digits.starts_with("00") {
        digits.drain(..2);
        international = true;
    }
    let e164 = if international {
        format!("+{digits}")
    } else if let Some(country) = country.map(str::trim).filter(|c| !c.is_empty()) {
        let code = calling_code(country)
            .ok_or_else(|| format!("unknown country `{country}` for phone number `{value}`"))?;
        let national = digits.trim_start_matches('0');
        format!("+{code}{national}")
    } else {
        digits.clone()
    };
    let n_digits = e164.bytes().filter(u8::is_ascii_digit).count();
    if !(5..=15).contains(&n_digits) {
        return Err(format!("`{value}` is not a phone number: {n_digits} digits"));
    }
    Ok(match extension {
        Some(ext) if !ext.is_empty() => format!("{e164};ext={ext}"),
        _ => e164,
    })
}

/// Country calling codes for the countries users of this library work with
/// most. Unknown countries are an error rather than a guess.
fn calling_code(country: &str) -> Option<&'static str> {
    const CODES: &[(&str, &str)] = &[
        ("CN", "86"),
        ("HK", "852"),
        ("MO", "853"),
        ("TW", "886"),
        ("SG", "65"),
        ("MY", "60"),
        ("JP", "81"),
        ("KR", "82"),
        ("IN", "91"),
        ("ID", "62"),
        ("TH", "66"),
        ("VN", "84"),
        ("PH", "63"),
        ("AU", "61"),
        ("NZ", "64"),
        ("US", "1"),
        ("CA", "1"),
        ("MX", "52"),
        ("BR", "55"),
        ("AR", "54"),
        ("GB", "44"),
        ("IE", "353"),
        ("DE", "49"),
        ("FR", "33"),
        ("IT", "39"),
        ("ES", "34"),
        ("PT", "351"),
        ("NL", "31"),
        ("BE", "32"),
        ("CH", "41"),
        ("AT", "43"),
        ("SE", "46"),
        ("NO", "47"),
        ("DK", "45"),
        ("FI", "358"),
        ("PL", "48"),
        ("CZ", "420"),
        ("RU", "7"),
        ("TR", "90"),
        ("AE", "971"),
        ("SA", "966"),
        ("IL", "972"),
        ("ZA", "27"),
        ("EG", "20"),
        ("NG", "234"),
    ];
    let upper = country.to_ascii_uppercase();
    CODES.iter().find(|(c, _)| *c == upper).map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        let cases = [
            ("138 0013 8000", Some("CN"), "+8613800138000"),
            ("+86 138-0013-8000", None, "+8613800138000"),
            ("0086 13800138000", Some("US"), "+8613800138000"),
            ("(010) 6552 9988", Some("cn"), "+861065529988"),
            ("020 7946 0018", Some("GB"), "+442079460018"),
            ("555-0100 x12", Some("US"), "+15550100;ext=12"),
            ("13800138000", None, "13800138000"),
        ];
        for (input, country, expected) in cases {
            assert_eq!(normalize_phone(input, country).unwrap(), expected, "{input}");
        }
        assert!(normalize_phone("call me", None).is_err());
        assert!(normalize_phone("123", None).is_err());
        assert!(normalize_phone("1234567", Some("ZZ")).is_err());
    }

    #[test]
    fn emails_validate_and_lowercase() {
        assert_eq!(normalize_email(" Wei.Zhang@Example.COM ").unwrap(), "wei.zhang@example.com");
        assert_eq!(normalize_email("张伟@例子.中国").unwrap(), "张伟@例子.中国");
        for bad in
            ["wei", "wei@", "@x.com", "a@b", "a b@c.com", "a@@b.com", "a@-b.com", "a..b@c.com"]
        {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn normalisation_never_panics(value in "\\PC{0,30}", country in proptest::option::of("[A-Za-z]{0,3}")) {
            for kind in ContactKind::ALL {
                let _ = normalize(*kind, &value, country.as_deref());
            }
        }

        #[test]
        fn phone_normalisation_is_idempotent(digits in "[1-9][0-9]{5,10}") {
            let once = normalize_phone(&digits, Some("CN")).unwrap();
            prop_assert_eq!(normalize_phone(&once, None).unwrap(), once);
        }
    }
}
