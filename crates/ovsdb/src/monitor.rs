//! Monitors (RFC 7047 section 4.1.5) and the table updates they deliver.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::datum::{row_from_json, Row};
use crate::Error;

/// Which changes a monitor reports for one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Select {
    pub initial: bool,
    pub insert: bool,
    pub delete: bool,
    pub modify: bool,
}

impl Default for Select {
    fn default() -> Self {
        Select {
            initial: true,
            insert: true,
            delete: true,
            modify: true,
        }
    }
}

/// What to monitor in one table: some columns (`None` for all) and kinds of change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorRequest {
    pub columns: Option<Vec<String>>,
    pub select: Select,
}

impl MonitorRequest {
    pub fn columns<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        MonitorRequest {
            columns: Some(columns.into_iter().map(Into::into).collect()),
            select: Select::default(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut request = json!({
            "select": {
                "initial": self.select.initial,
                "insert": self.select.insert,
                "delete": self.select.delete,
                "modify": self.select.modify,
            }
        });
        if let (Some(columns), Value::Object(fields)) = (&self.columns, &mut request) {
            fields.insert("columns".into(), json!(columns));
        }
        request
    }
}

/// A change to one row. Initial rows and inserts have only `new`, deletes only
/// `old`; a modification has both, `old` holding only the columns that changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowUpdate {
    pub old: Option<Row>,
    pub new: Option<Row>,
}

/// Table name to row UUID to change.
pub type TableUpdates = BTreeMap<String, BTreeMap<String, RowUpdate>>;

pub fn decode_table_updates(value: &Value) -> Result<TableUpdates, Error> {
    let bad = || Error::Protocol(format!("not table updates: {value}"));
    let Value::Object(tables) = value else {
        return Err(bad());
    };
    let mut updates = TableUpdates::new();
    for (table, rows) in tables {
        let Value::Object(rows) = rows else {
            return Err(bad());
        };
        let mut table_updates = BTreeMap::new();
        for (uuid, update) in rows {
            let Value::Object(update) = update else {
                return Err(bad());
            };
            let row = |key| update.get(key).map(row_from_json).transpose();
            table_updates.insert(
                uuid.clone(),
                RowUpdate {
                    old: row("old")?,
                    new: row("new")?,
                },
            );
        }
        updates.insert(table.clone(), table_updates);
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Datum;

    #[test]
    fn encodes_requests() {
        assert_eq!(
            MonitorRequest::default().to_json(),
            json!({"select": {"initial": true, "insert": true, "delete": true, "modify": true}})
        );
        let request = MonitorRequest {
            columns: Some(vec!["name".into()]),
            select: Select {
                initial: false,
                insert: true,
                delete: false,
                modify: true,
            },
        };
        assert_eq!(
            request.to_json(),
            json!({"columns": ["name"],
                   "select": {"initial": false, "insert": true, "delete": false, "modify": true}})
        );
        assert_eq!(MonitorRequest::columns(["name"]).columns, request.columns);
    }

    #[test]
    fn decodes_updates() {
        let updates = decode_table_updates(&json!({
            "Bridge": {
                "u1": {"new": {"name": "br0"}},
                "u2": {"old": {"name": "br1"}, "new": {"name": "br2"}},
                "u3": {"old": {"name": "br3"}}
            }
        }))
        .unwrap();
        let bridge = &updates["Bridge"];
        assert_eq!(bridge["u1"].old, None);
        assert_eq!(
            bridge["u1"].new.as_ref().unwrap()["name"],
            Datum::from("br0")
        );
        assert_eq!(
            bridge["u2"].old.as_ref().unwrap()["name"],
            Datum::from("br1")
        );
        assert_eq!(bridge["u3"].new, None);
        for bad in [
            json!([]),
            json!({"Bridge": []}),
            json!({"Bridge": {"u1": 1}}),
            json!({"Bridge": {"u1": {"new": 1}}}),
        ] {
            assert!(decode_table_updates(&bad).is_err(), "{bad}");
        }
    }
}
