//! How values look on the wire, as the original (JavaScript) services write them.
//!
//! Use with `#[serde(with = "…")]`, in event bodies and in HTTP views alike:
//!
//! - [`object_id`] / [`option_object_id`]: an ObjectId as its 24-hex string (bson's own serde
//!   form is `{"$oid": …}`, which no client of the original expects); anything else is rejected.
//! - [`js_number`]: an `f64` written as `JSON.stringify` writes a number, so `20.0` is `20`.
//! - [`rfc3339_millis`]: a UTC instant as `Date.prototype.toISOString` writes it,
//!   `2024-05-01T12:00:00.000Z`; any RFC 3339 instant is accepted on reading.

/// An ObjectId as its 24-hex string.
pub mod object_id {
    use bson::oid::ObjectId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ObjectId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ObjectId::parse_str(text.as_ref())
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a 24-hex ObjectId")))
    }
}

/// An optional ObjectId as its 24-hex string; pair with
/// `#[serde(default, skip_serializing_if = "Option::is_none")]` so `None` is left out.
pub mod option_object_id {
    use bson::oid::ObjectId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        id: &Option<ObjectId>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => serializer.serialize_some(&id.to_hex()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ObjectId>, D::Error> {
        match <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => ObjectId::parse_str(text.as_ref()).map(Some).map_err(|_| {
                serde::de::Error::custom(format!("{text:?} is not a 24-hex ObjectId"))
            }),
        }
    }
}

/// An `f64` as JavaScript writes numbers: integral values without a fraction.
pub mod js_number {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Integers beyond 2^53 are not exact in an `f64` anyway; keep them as floats.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.fract() == 0.0 && value.abs() < MAX_EXACT {
            // Exact: the value is integral and within i64's exact range.
            #[allow(clippy::cast_possible_truncation)]
            serializer.serialize_i64(*value as i64)
        } else {
            serializer.serialize_f64(*value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        f64::deserialize(deserializer)
    }
}

/// A UTC instant in RFC 3339 with milliseconds and `Z`.
pub mod rfc3339_millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(text.as_ref())
            .map(|at| at.with_timezone(&Utc))
            .map_err(|error| serde::de::Error::custom(format!("{text:?} is not RFC 3339: {error}")))
    }
}
