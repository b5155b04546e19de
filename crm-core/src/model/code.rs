//! Enumerations with stable string codes and zh-CN / en labels.

/// A language that labels are available in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese (zh-CN).
    ZhCn,
}

impl Lang {
    /// The language for a BCP-47 tag: `zh…` gives [`Lang::ZhCn`], anything
    /// else [`Lang::En`].
    pub fn from_tag(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("zh") { Lang::ZhCn } else { Lang::En }
    }
}

/// Defines a `Copy` enum whose variants have a stable code (stored in the
/// database, used in files) and labels in English and Chinese.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $en:literal, $zh:literal) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code stored in the database and used in files.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The label shown to people, in `lang`.
            pub fn label(self, lang: $crate::model::Lang) -> &'static str {
                match lang {
                    $crate::model::Lang::En => match self { $($name::$variant => $en),+ },
                    $crate::model::Lang::ZhCn => match self { $($name::$variant => $zh),+ },
                }
            }

            /// Parses a code (case-insensitive; `-` and `_` are the same).
            ///
            /// # Errors
            ///
            /// [`Error::Invalid`](crate::Error::Invalid) naming the field and the
            /// allowed codes.
            pub fn from_code(code: &str) -> $crate::Result<$name> {
                let wanted = code.trim().to_ascii_lowercase().replace('_', "-");
                $( if wanted == $code { return Ok($name::$variant); } )+
                let allowed: Vec<&str> = vec![$($code),+];
                Err($crate::Error::invalid(
                    $field,
                    format!("unknown code `{}`, expected one of: {}", code, allowed.join(", ")),
                ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(code: &str) -> $crate::Result<$name> {
                $name::from_code(code)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let code = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                $name::from_code(&code).map_err(serde::de::Error::custom)
            }
        }
    };
}
