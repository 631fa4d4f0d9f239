//! Transaction operations (RFC 7047 section 5.2) and their results.

use serde_json::{json, Map, Value};

use crate::datum::{row_from_json, row_to_json, Datum, Row};
use crate::Error;

/// A condition function (RFC 7047 section 5.1, `<function>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Less,
    LessOrEqual,
    Equal,
    NotEqual,
    GreaterOrEqual,
    Greater,
    Includes,
    Excludes,
}

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Less => "<",
            Function::LessOrEqual => "<=",
            Function::Equal => "==",
            Function::NotEqual => "!=",
            Function::GreaterOrEqual => ">=",
            Function::Greater => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// `column function value`, e.g. `name == "br0"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub column: String,
    pub function: Function,
    pub value: Datum,
}

impl Condition {
    pub fn new(column: impl Into<String>, function: Function, value: impl Into<Datum>) -> Self {
        Condition {
            column: column.into(),
            function,
            value: value.into(),
        }
    }

    /// The most common condition: `column == value`.
    pub fn eq(column: impl Into<String>, value: impl Into<Datum>) -> Self {
        Condition::new(column, Function::Equal, value)
    }

    pub fn to_json(&self) -> Value {
        json!([self.column, self.function.as_str(), self.value.to_json()])
    }
}

/// A mutator (RFC 7047 section 5.1, `<mutator>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutator {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
    Insert,
    Delete,
}

impl Mutator {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Subtract => "-=",
            Mutator::Multiply => "*=",
            Mutator::Divide => "/=",
            Mutator::Remainder => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// `column mutator value`, e.g. `bridges insert ["set", [...]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutation {
    pub column: String,
    pub mutator: Mutator,
    pub value: Datum,
}

impl Mutation {
    pub fn new(column: impl Into<String>, mutator: Mutator, value: impl Into<Datum>) -> Self {
        Mutation {
            column: column.into(),
            mutator,
            value: value.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!([self.column, self.mutator.as_str(), self.value.to_json()])
    }
}

/// What a `wait` operation waits for: the selected rows to become equal, or unequal,
/// to the given rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    Equal,
    NotEqual,
}

/// One operation of a transaction (RFC 7047 section 5.2). `assert` is missing: it
/// needs locks, which this client does not implement.
#[derive(Clone, Debug, PartialEq)]
pub enum Operation {
    Insert {
        table: String,
        row: Row,
        /// Lets later operations of the same transaction refer to the new row as
        /// `Datum::named_uuid(name)`.
        uuid_name: Option<String>,
    },
    Select {
        table: String,
        conditions: Vec<Condition>,
        /// `None` selects every column.
        columns: Option<Vec<String>>,
    },
    Update {
        table: String,
        conditions: Vec<Condition>,
        row: Row,
    },
    Mutate {
        table: String,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    },
    Delete {
        table: String,
        conditions: Vec<Condition>,
    },
    Wait {
        table: String,
        conditions: Vec<Condition>,
        columns: Vec<String>,
        until: Until,
        rows: Vec<Row>,
        /// `None` waits as long as it takes; `Some(0)` fails at once if the condition
        /// does not hold, which makes `wait` an assertion.
        timeout_ms: Option<u64>,
    },
    Commit {
        durable: bool,
    },
    Abort,
    Comment(String),
}

impl Operation {
    /// The operation's name in the protocol, also used in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Insert { .. } => "insert",
            Operation::Select { .. } => "select",
            Operation::Update { .. } => "update",
            Operation::Mutate { .. } => "mutate",
            Operation::Delete { .. } => "delete",
            Operation::Wait { .. } => "wait",
            Operation::Commit { .. } => "commit",
            Operation::Abort => "abort",
            Operation::Comment(_) => "comment",
        }
    }

    pub fn to_json(&self) -> Value {
        let conditions = |c: &[Condition]| Value::Array(c.iter().map(Condition::to_json).collect());
        let mut op = Map::new();
        op.insert("op".into(), json!(self.name()));
        let mut put = |key: &str, value: Value| {
            op.insert(key.into(), value);
        };
        match self {
            Operation::Insert {
                table,
                row,
                uuid_name,
            } => {
                put("table", json!(table));
                put("row", row_to_json(row));
                if let Some(name) = uuid_name {
                    put("uuid-name", json!(name));
                }
            }
            Operation::Select {
                table,
                conditions: c,
                columns,
            } => {
                put("table", json!(table));
                put("where", conditions(c));
                if let Some(columns) = columns {
                    put("columns", json!(columns));
                }
            }
            Operation::Update {
                table,
                conditions: c,
                row,
            } => {
                put("table", json!(table));
                put("where", conditions(c));
                put("row", row_to_json(row));
            }
            Operation::Mutate {
                table,
                conditions: c,
                mutations,
            } => {
                put("table", json!(table));
                put("where", conditions(c));
                put(
                    "mutations",
                    Value::Array(mutations.iter().map(Mutation::to_json).collect()),
                );
            }
            Operation::Delete {
                table,
                conditions: c,
            } => {
                put("table", json!(table));
                put("where", conditions(c));
            }
            Operation::Wait {
                table,
                conditions: c,
                columns,
                until,
                rows,
                timeout_ms,
            } => {
                put("table", json!(table));
                put("where", conditions(c));
                put("columns", json!(columns));
                put(
                    "until",
                    json!(match until {
                        Until::Equal => "==",
                        Until::NotEqual => "!=",
                    }),
                );
                put("rows", Value::Array(rows.iter().map(row_to_json).collect()));
                if let Some(ms) = timeout_ms {
                    put("timeout", json!(ms));
                }
            }
            Operation::Commit { durable } => put("durable", json!(durable)),
            Operation::Abort => {}
            Operation::Comment(text) => put("comment", json!(text)),
        }
        Value::Object(op)
    }
}

/// The result of one successful operation.
#[derive(Clone, Debug, PartialEq)]
pub enum OperationResult {
    /// `insert`: the new row's UUID.
    Inserted(String),
    /// `select`: the matching rows.
    Rows(Vec<Row>),
    /// `update`, `mutate`, `delete`: how many rows matched.
    Count(u64),
    /// `wait`, `commit`, `comment` (and `abort`, which never succeeds).
    Empty,
}

impl OperationResult {
    pub fn uuid(&self) -> Option<&str> {
        match self {
            OperationResult::Inserted(uuid) => Some(uuid),
            _ => None,
        }
    }

    pub fn rows(&self) -> Option<&[Row]> {
        match self {
            OperationResult::Rows(rows) => Some(rows),
            _ => None,
        }
    }

    pub fn count(&self) -> Option<u64> {
        match self {
            OperationResult::Count(count) => Some(*count),
            _ => None,
        }
    }
}

fn protocol(what: impl std::fmt::Display) -> Error {
    Error::Protocol(what.to_string())
}

/// `details` is free text in RFC 7047 but ovsdb-server sometimes sends other JSON.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Turns the `result` of a `transact` reply into per-operation results, or the error
/// of the first failed operation (or of the commit).
///
/// RFC 7047 section 4.1.3: one element per operation; a failed operation's element is
/// `{"error": ..., "details": ...}` and the ones after it are `null` (not executed);
/// if every operation succeeded but the commit failed, one extra error element
/// follows.
pub fn decode_transact_result(
    ops: &[Operation],
    result: &Value,
) -> Result<Vec<OperationResult>, Error> {
    let Value::Array(elements) = result else {
        return Err(protocol(format!(
            "transact result is not an array: {result}"
        )));
    };
    for (index, element) in elements.iter().enumerate() {
        if let Some(error) = element.get("error") {
            let error = text_of(Some(error)).unwrap_or_else(|| "unknown error".into());
            let details = text_of(element.get("details"));
            return Err(match ops.get(index) {
                Some(op) => Error::Operation {
                    index,
                    op: op.name(),
                    error,
                    details,
                },
                None => Error::Commit { error, details },
            });
        }
    }
    if elements.len() != ops.len() {
        return Err(protocol(format!(
            "{} results for {} operations",
            elements.len(),
            ops.len()
        )));
    }
    elements.iter().map(decode_one).collect()
}

fn decode_one(element: &Value) -> Result<OperationResult, Error> {
    let Value::Object(fields) = element else {
        return Err(protocol(format!(
            "operation result is not an object: {element}"
        )));
    };
    if let Some(uuid) = fields.get("uuid") {
        return match crate::Atom::from_json(uuid)? {
            crate::Atom::Uuid(uuid) => Ok(OperationResult::Inserted(uuid)),
            _ => Err(protocol(format!("insert result is not a uuid: {uuid}"))),
        };
    }
    if let Some(rows) = fields.get("rows") {
        let Value::Array(rows) = rows else {
            return Err(protocol(format!("select rows are not an array: {rows}")));
        };
        return rows
            .iter()
            .map(row_from_json)
            .collect::<Result<_, _>>()
            .map(OperationResult::Rows);
    }
    if let Some(count) = fields.get("count") {
        return count
            .as_u64()
            .map(OperationResult::Count)
            .ok_or_else(|| protocol(format!("count is not a number: {count}")));
    }
    Ok(OperationResult::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Atom;

    fn row(pairs: &[(&str, Datum)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn encodes_every_operation() {
        let cases = vec![
            (
                Operation::Insert {
                    table: "Bridge".into(),
                    row: row(&[
                        ("name", "br0".into()),
                        ("ports", Datum::set([Atom::named_uuid("p0")])),
                    ]),
                    uuid_name: Some("b0".into()),
                },
                json!({"op": "insert", "table": "Bridge",
                       "row": {"name": "br0", "ports": ["set", [["named-uuid", "p0"]]]},
                       "uuid-name": "b0"}),
            ),
            (
                Operation::Insert {
                    table: "Port".into(),
                    row: Row::new(),
                    uuid_name: None,
                },
                json!({"op": "insert", "table": "Port", "row": {}}),
            ),
            (
                Operation::Select {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("name", "br0")],
                    columns: Some(vec!["name".into(), "_uuid".into()]),
                },
                json!({"op": "select", "table": "Bridge",
                       "where": [["name", "==", "br0"]], "columns": ["name", "_uuid"]}),
            ),
            (
                Operation::Select {
                    table: "Bridge".into(),
                    conditions: vec![],
                    columns: None,
                },
                json!({"op": "select", "table": "Bridge", "where": []}),
            ),
            (
                Operation::Update {
                    table: "Bridge".into(),
                    conditions: vec![Condition::new(
                        "_uuid",
                        Function::NotEqual,
                        Datum::uuid("u1"),
                    )],
                    row: row(&[("external_ids", Datum::map([("wharf", "test")]))]),
                },
                json!({"op": "update", "table": "Bridge",
                       "where": [["_uuid", "!=", ["uuid", "u1"]]],
                       "row": {"external_ids": ["map", [["wharf", "test"]]]}}),
            ),
            (
                Operation::Mutate {
                    table: "Open_vSwitch".into(),
                    conditions: vec![],
                    mutations: vec![
                        Mutation::new(
                            "bridges",
                            Mutator::Insert,
                            Datum::set([Atom::named_uuid("b0")]),
                        ),
                        Mutation::new("next_cfg", Mutator::Add, 1i64),
                    ],
                },
                json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                       "mutations": [["bridges", "insert", ["set", [["named-uuid", "b0"]]]],
                                     ["next_cfg", "+=", 1]]}),
            ),
            (
                Operation::Delete {
                    table: "Bridge".into(),
                    conditions: vec![Condition::new(
                        "external_ids",
                        Function::Includes,
                        Datum::map([("wharf", "test")]),
                    )],
                },
                json!({"op": "delete", "table": "Bridge",
                       "where": [["external_ids", "includes", ["map", [["wharf", "test"]]]]]}),
            ),
            (
                Operation::Wait {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("name", "br0")],
                    columns: vec!["name".into()],
                    until: Until::Equal,
                    rows: vec![row(&[("name", "br0".into())])],
                    timeout_ms: Some(0),
                },
                json!({"op": "wait", "table": "Bridge", "where": [["name", "==", "br0"]],
                       "columns": ["name"], "until": "==", "rows": [{"name": "br0"}],
                       "timeout": 0}),
            ),
            (
                Operation::Wait {
                    table: "Bridge".into(),
                    conditions: vec![],
                    columns: vec![],
                    until: Until::NotEqual,
                    rows: vec![],
                    timeout_ms: None,
                },
                json!({"op": "wait", "table": "Bridge", "where": [],
                       "columns": [], "until": "!=", "rows": []}),
            ),
            (
                Operation::Commit { durable: true },
                json!({"op": "commit", "durable": true}),
            ),
            (Operation::Abort, json!({"op": "abort"})),
            (
                Operation::Comment("wharf: add br0".into()),
                json!({"op": "comment", "comment": "wharf: add br0"}),
            ),
        ];
        for (op, expected) in cases {
            assert_eq!(
                serde_json::to_string(&op.to_json()).unwrap(),
                serde_json::to_string(&expected).unwrap(),
                "{op:?}"
            );
        }
    }

    #[test]
    fn encodes_every_function_and_mutator() {
        let functions = [
            (Function::Less, "<"),
            (Function::LessOrEqual, "<="),
            (Function::Equal, "=="),
            (Function::NotEqual, "!="),
            (Function::GreaterOrEqual, ">="),
            (Function::Greater, ">"),
            (Function::Includes, "includes"),
            (Function::Excludes, "excludes"),
        ];
        for (function, text) in functions {
            assert_eq!(
                Condition::new("c", function, 1i64).to_json(),
                json!(["c", text, 1])
            );
        }
        let mutators = [
            (Mutator::Add, "+="),
            (Mutator::Subtract, "-="),
            (Mutator::Multiply, "*="),
            (Mutator::Divide, "/="),
            (Mutator::Remainder, "%="),
            (Mutator::Insert, "insert"),
            (Mutator::Delete, "delete"),
        ];
        for (mutator, text) in mutators {
            assert_eq!(
                Mutation::new("c", mutator, 1i64).to_json(),
                json!(["c", text, 1])
            );
        }
    }

    fn three_ops() -> Vec<Operation> {
        vec![
            Operation::Insert {
                table: "Bridge".into(),
                row: Row::new(),
                uuid_name: None,
            },
            Operation::Select {
                table: "Bridge".into(),
                conditions: vec![],
                columns: None,
            },
            Operation::Delete {
                table: "Bridge".into(),
                conditions: vec![],
            },
        ]
    }

    #[test]
    fn decodes_results() {
        let result = json!([
            {"uuid": ["uuid", "3b4a"]},
            {"rows": [{"name": "br0", "ports": ["set", []]}]},
            {"count": 2}
        ]);
        let results = decode_transact_result(&three_ops(), &result).unwrap();
        assert_eq!(
            results,
            vec![
                OperationResult::Inserted("3b4a".into()),
                OperationResult::Rows(vec![row(&[
                    ("name", "br0".into()),
                    ("ports", Datum::empty())
                ])]),
                OperationResult::Count(2),
            ]
        );
        assert_eq!(results[0].uuid(), Some("3b4a"));
        assert_eq!(results[2].count(), Some(2));
        assert_eq!(results[1].rows().map(<[Row]>::len), Some(1));
        let empty = decode_transact_result(&[Operation::Comment("c".into())], &json!([{}]));
        assert_eq!(empty.unwrap(), vec![OperationResult::Empty]);
    }

    #[test]
    fn decodes_an_operation_error() {
        let result = json!([
            {"uuid": ["uuid", "3b4a"]},
            {"error": "unknown column", "details": "no column foo in table Bridge"},
            null
        ]);
        let error = decode_transact_result(&three_ops(), &result).unwrap_err();
        match &error {
            Error::Operation {
                index,
                op,
                error,
                details,
            } => {
                assert_eq!(*index, 1);
                assert_eq!(*op, "select");
                assert_eq!(error, "unknown column");
                assert_eq!(details.as_deref(), Some("no column foo in table Bridge"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            error.to_string(),
            "OVSDB transaction failed at operation 1 (select): unknown column \
             (no column foo in table Bridge)"
        );
    }

    #[test]
    fn decodes_a_commit_error() {
        let result = json!([
            {"uuid": ["uuid", "3b4a"]},
            {"rows": []},
            {"count": 0},
            {"error": "referential integrity violation", "details": "row is referenced"}
        ]);
        let error = decode_transact_result(&three_ops(), &result).unwrap_err();
        assert!(
            matches!(&error, Error::Commit { error, details }
                if error == "referential integrity violation"
                    && details.as_deref() == Some("row is referenced")),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "OVSDB transaction failed at commit: referential integrity violation \
             (row is referenced)"
        );
        // An error without details.
        let error = decode_transact_result(&three_ops()[..1], &json!([{"error": "timed out"}]));
        assert_eq!(
            error.unwrap_err().to_string(),
            "OVSDB transaction failed at operation 0 (insert): timed out"
        );
    }

    #[test]
    fn rejects_malformed_results() {
        for bad in [
            json!({}),
            json!([{}]),
            json!([{}, {}, {}, {}]),
            json!([{"uuid": "x"}, {"rows": []}, {"count": 0}]),
            json!([{"uuid": ["uuid", "x"]}, {"rows": {}}, {"count": 0}]),
            json!([{"uuid": ["uuid", "x"]}, {"rows": []}, {"count": -1}]),
            json!([1, 2, 3]),
        ] {
            assert!(
                matches!(
                    decode_transact_result(&three_ops(), &bad),
                    Err(Error::Protocol(_))
                ),
                "{bad}"
            );
        }
    }
}
