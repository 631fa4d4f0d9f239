//! The OVSDB data model (RFC 7047 section 5.1) and its JSON notation.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::Error;

/// One scalar value.
///
/// `Uuid` and `NamedUuid` hold the text as sent: this client does not check UUID
/// syntax, the server does.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    Integer(i64),
    /// Never NaN or infinite: JSON cannot carry those. ovsdb-server may send a real
    /// that happens to be whole as a JSON integer, which decodes as `Integer`;
    /// [`Atom::as_real`] accepts both.
    Real(f64),
    Boolean(bool),
    String(String),
    Uuid(String),
    /// A reference to a row inserted earlier in the same transaction with a
    /// `uuid-name`; only meaningful inside `transact`.
    NamedUuid(String),
}

/// A column's value: an atom, a set of atoms, or a map between atoms.
///
/// A column whose type allows at most one element is still a set in OVSDB terms; the
/// server writes a one-element set as the bare atom, so such values decode as
/// `Datum::Atom`. [`Datum::atoms`] treats both the same way.
#[derive(Clone, Debug, PartialEq)]
pub enum Datum {
    Atom(Atom),
    Set(Vec<Atom>),
    Map(Vec<(Atom, Atom)>),
}

/// A row (or a part of one): column name to value.
pub type Row = BTreeMap<String, Datum>;

fn protocol(what: impl std::fmt::Display) -> Error {
    Error::Protocol(what.to_string())
}

impl Atom {
    pub fn uuid(uuid: impl Into<String>) -> Atom {
        Atom::Uuid(uuid.into())
    }

    pub fn named_uuid(name: impl Into<String>) -> Atom {
        Atom::NamedUuid(name.into())
    }

    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => json!(r),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => json!(["uuid", u]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }

    pub fn from_json(value: &Value) -> Result<Atom, Error> {
        match value {
            Value::Bool(b) => Ok(Atom::Boolean(*b)),
            Value::String(s) => Ok(Atom::String(s.clone())),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Atom::Integer(i))
                } else if n.is_f64() {
                    n.as_f64()
                        .map(Atom::Real)
                        .ok_or_else(|| protocol(format!("bad number {n}")))
                } else {
                    Err(protocol(format!("integer {n} out of range")))
                }
            }
            Value::Array(items) => match items.as_slice() {
                [Value::String(tag), Value::String(text)] if tag == "uuid" => {
                    Ok(Atom::Uuid(text.clone()))
                }
                [Value::String(tag), Value::String(text)] if tag == "named-uuid" => {
                    Ok(Atom::NamedUuid(text.clone()))
                }
                _ => Err(protocol(format!("not an atom: {value}"))),
            },
            Value::Null | Value::Object(_) => Err(protocol(format!("not an atom: {value}"))),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_real(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            // Whole reals may arrive as JSON integers; precision loss only beyond 2^53.
            #[allow(clippy::cast_precision_loss)]
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_uuid(&self) -> Option<&str> {
        match self {
            Atom::Uuid(u) => Some(u),
            _ => None,
        }
    }
}

impl From<i64> for Atom {
    fn from(i: i64) -> Atom {
        Atom::Integer(i)
    }
}
impl From<f64> for Atom {
    fn from(r: f64) -> Atom {
        Atom::Real(r)
    }
}
impl From<bool> for Atom {
    fn from(b: bool) -> Atom {
        Atom::Boolean(b)
    }
}
impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::String(s.to_string())
    }
}
impl From<String> for Atom {
    fn from(s: String) -> Atom {
        Atom::String(s)
    }
}

impl<T: Into<Atom>> From<T> for Datum {
    fn from(atom: T) -> Datum {
        Datum::Atom(atom.into())
    }
}

impl Datum {
    pub fn set<A: Into<Atom>>(atoms: impl IntoIterator<Item = A>) -> Datum {
        Datum::Set(atoms.into_iter().map(Into::into).collect())
    }

    /// The empty set: how an optional column says "no value".
    pub fn empty() -> Datum {
        Datum::Set(Vec::new())
    }

    pub fn map<K: Into<Atom>, V: Into<Atom>>(pairs: impl IntoIterator<Item = (K, V)>) -> Datum {
        Datum::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn uuid(uuid: impl Into<String>) -> Datum {
        Datum::Atom(Atom::uuid(uuid))
    }

    pub fn named_uuid(name: impl Into<String>) -> Datum {
        Datum::Atom(Atom::named_uuid(name))
    }

    pub fn to_json(&self) -> Value {
        match self {
            Datum::Atom(atom) => atom.to_json(),
            Datum::Set(atoms) => {
                json!(["set", atoms.iter().map(Atom::to_json).collect::<Vec<_>>()])
            }
            Datum::Map(pairs) => json!([
                "map",
                pairs
                    .iter()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    pub fn from_json(value: &Value) -> Result<Datum, Error> {
        if let Value::Array(items) = value {
            match items.as_slice() {
                [Value::String(tag), Value::Array(atoms)] if tag == "set" => {
                    return atoms
                        .iter()
                        .map(Atom::from_json)
                        .collect::<Result<_, _>>()
                        .map(Datum::Set);
                }
                [Value::String(tag), Value::Array(pairs)] if tag == "map" => {
                    return pairs
                        .iter()
                        .map(|pair| match pair {
                            Value::Array(kv) => match kv.as_slice() {
                                [k, v] => Ok((Atom::from_json(k)?, Atom::from_json(v)?)),
                                _ => Err(protocol(format!("not a map pair: {pair}"))),
                            },
                            _ => Err(protocol(format!("not a map pair: {pair}"))),
                        })
                        .collect::<Result<_, _>>()
                        .map(Datum::Map);
                }
                _ => {}
            }
        }
        Atom::from_json(value).map(Datum::Atom)
    }

    /// The elements of a set, with a bare atom counting as a one-element set. Empty
    /// for a map.
    pub fn atoms(&self) -> &[Atom] {
        match self {
            Datum::Atom(atom) => std::slice::from_ref(atom),
            Datum::Set(atoms) => atoms,
            Datum::Map(_) => &[],
        }
    }

    /// The value for string key `key` of a map (e.g. `external_ids`).
    pub fn get(&self, key: &str) -> Option<&Atom> {
        match self {
            Datum::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The single atom of a scalar column, or of a set of exactly one element.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self.atoms() {
            [atom] => Some(atom),
            _ => None,
        }
    }
}

pub fn row_to_json(row: &Row) -> Value {
    Value::Object(
        row.iter()
            .map(|(column, datum)| (column.clone(), datum.to_json()))
            .collect(),
    )
}

pub fn row_from_json(value: &Value) -> Result<Row, Error> {
    match value {
        Value::Object(columns) => columns
            .iter()
            .map(|(column, datum)| Ok((column.clone(), Datum::from_json(datum)?)))
            .collect(),
        _ => Err(protocol(format!("not a row: {value}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_every_form() {
        let u = "36bd3a4e-6a3c-4a5b-9d43-0d6a5b1b0e51";
        let cases: Vec<(Datum, Value)> = vec![
            (Datum::from(42i64), json!(42)),
            (Datum::from(-7i64), json!(-7)),
            (Datum::from(1.5), json!(1.5)),
            (Datum::from(true), json!(true)),
            (Datum::from(false), json!(false)),
            (Datum::from("br0"), json!("br0")),
            (Datum::uuid(u), json!(["uuid", u])),
            (Datum::named_uuid("row1"), json!(["named-uuid", "row1"])),
            (Datum::empty(), json!(["set", []])),
            (Datum::set(["a"]), json!(["set", ["a"]])),
            (Datum::set([1i64, 2, 3]), json!(["set", [1, 2, 3]])),
            (
                Datum::Set(vec![Atom::uuid(u), Atom::named_uuid("p")]),
                json!(["set", [["uuid", u], ["named-uuid", "p"]]]),
            ),
            (Datum::Map(vec![]), json!(["map", []])),
            (
                Datum::map([("wharf", "test"), ("k", "v")]),
                json!(["map", [["wharf", "test"], ["k", "v"]]]),
            ),
            (
                Datum::Map(vec![(Atom::Integer(1), Atom::uuid(u))]),
                json!(["map", [[1, ["uuid", u]]]]),
            ),
        ];
        for (datum, expected) in cases {
            assert_eq!(datum.to_json(), expected, "{datum:?}");
            assert_eq!(
                serde_json::to_string(&datum.to_json()).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
            assert_eq!(Datum::from_json(&expected).unwrap(), datum);
        }
    }

    #[test]
    fn decodes_a_bare_atom_as_a_one_element_set() {
        let datum = Datum::from_json(&json!(["uuid", "x"])).unwrap();
        assert_eq!(datum.atoms(), &[Atom::uuid("x")]);
        assert_eq!(datum.as_atom(), Some(&Atom::uuid("x")));
        let set = Datum::from_json(&json!(["set", [["uuid", "x"]]])).unwrap();
        assert_eq!(set.atoms(), datum.atoms());
        assert_eq!(Datum::empty().as_atom(), None);
    }

    #[test]
    fn map_lookup() {
        let datum = Datum::from_json(&json!(["map", [["a", "1"], ["wharf", "test"]]])).unwrap();
        assert_eq!(datum.get("wharf"), Some(&Atom::from("test")));
        assert_eq!(datum.get("b"), None);
    }

    #[test]
    fn rejects_what_is_not_a_datum() {
        for bad in [
            json!(null),
            json!({}),
            json!([]),
            json!(["set"]),
            json!(["set", [[1]]]),
            json!(["map", [[1]]]),
            json!(["map", [1]]),
            json!(["map", [[1, 2, 3]]]),
            json!(["uuid", 1]),
            json!(["uuid", "a", "b"]),
            json!(["bogus", "a"]),
            json!(u64::MAX),
        ] {
            assert!(Datum::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reals_keep_their_kind_through_text() {
        let text = serde_json::to_string(&Datum::from(3.0).to_json()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(Datum::from_json(&value).unwrap(), Datum::from(3.0));
        assert_eq!(Atom::Integer(3).as_real(), Some(3.0));
    }

    #[test]
    fn rows() {
        let row: Row = [
            ("name".to_string(), Datum::from("br0")),
            ("ports".to_string(), Datum::empty()),
        ]
        .into();
        let value = row_to_json(&row);
        assert_eq!(value, json!({"name": "br0", "ports": ["set", []]}));
        assert_eq!(row_from_json(&value).unwrap(), row);
        assert!(row_from_json(&json!([])).is_err());
    }

    fn atom_with(reals: BoxedStrategy<f64>) -> impl Strategy<Value = Atom> + Clone {
        prop_oneof![
            any::<i64>().prop_map(Atom::Integer),
            reals.prop_map(Atom::Real),
            any::<bool>().prop_map(Atom::Boolean),
            ".*".prop_map(Atom::String),
            "[0-9a-f-]{0,36}".prop_map(Atom::Uuid),
            "[a-z_][a-z0-9_]{0,10}".prop_map(Atom::NamedUuid),
        ]
    }

    fn datum_with(reals: BoxedStrategy<f64>) -> impl Strategy<Value = Datum> {
        let atom = atom_with(reals);
        prop_oneof![
            atom.clone().prop_map(Datum::Atom),
            proptest::collection::vec(atom.clone(), 0..5).prop_map(Datum::Set),
            proptest::collection::vec((atom.clone(), atom), 0..5).prop_map(Datum::Map),
        ]
    }

    /// Every real JSON can carry: normal, subnormal, zero (no NaN or infinity).
    fn any_real() -> BoxedStrategy<f64> {
        any::<f64>()
            .prop_filter("finite", |r| r.is_finite())
            .boxed()
    }

    /// serde_json's default float parser (without its `float_roundtrip` feature, which
    /// this crate does not turn on for the whole workspace) may miss the last bit of
    /// decimals longer than 15 digits; reals with short exact decimal forms come back
    /// exactly.
    fn short_real() -> BoxedStrategy<f64> {
        any::<i32>().prop_map(|i| f64::from(i) / 16.0).boxed()
    }

    proptest! {
        #[test]
        fn decode_encode_roundtrip(datum in datum_with(any_real())) {
            prop_assert_eq!(Datum::from_json(&datum.to_json()).unwrap(), datum);
        }

        #[test]
        fn decode_encode_roundtrip_through_text(datum in datum_with(short_real())) {
            let text = serde_json::to_string(&datum.to_json()).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(Datum::from_json(&value).unwrap(), datum);
        }

        #[test]
        fn arbitrary_json_never_panics(text in "[\\[\\]{}\",:0-9a-z .eE+-]{0,40}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = Datum::from_json(&value);
                let _ = row_from_json(&value);
            }
        }
    }
}
