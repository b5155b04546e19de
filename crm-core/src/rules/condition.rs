//! Conditions in CEL: parsed with the `cel` crate, type-checked against the
//! feature schema, compiled to a typed tree evaluated over feature columns.

use std::collections::BTreeMap;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};

use crate::Error;
use crate::rules::feature::{Column, Feature, FeatureTable, FieldKind, Type};

/// A problem in a condition, with its position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong (with a did-you-mean where one fits).
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Custom field definitions the schema knows: name → kind.
pub type Fields = BTreeMap<String, FieldKind>;

/// The names a condition may use at the top level.
const NAMES: &[&str] = &[
    "kind",
    "stage",
    "name",
    "language",
    "tags",
    "roles",
    "field",
    "orders",
    "cases",
    "interactions",
    "last_order",
    "points",
    "tier",
    "order",
];
/// Functions a condition may call.
const FUNCTIONS: &[&str] = &[
    "score",
    "has_score",
    "consent",
    "days",
    "days_since",
    "size",
    "count",
    "revenue",
    "open",
    "changed",
    "old",
    "new",
    "floor",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// A compiled node. Types are settled at compile time.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    StrList(Vec<String>),
    /// A feature column.
    Col(usize, Type),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    /// Comparison; `numeric` when both sides are numbers.
    Cmp(Cmp, Box<Node>, Box<Node>, Type),
    Arith(Arith, Box<Node>, Box<Node>, Type),
    Neg(Box<Node>, Type),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    /// `elem in list`.
    In(Box<Node>, Box<Node>),
    Size(Box<Node>),
    /// `floor(x)`: a double rounded down to an int.
    Floor(Box<Node>),
}

/// A condition compiled against the feature schema.
///
/// # Examples
///
/// ```
/// use crm_core::rules::{Condition, Fields};
/// let c = Condition::compile(r#"stage == "churned" && score("clv") > 500.0"#, &Fields::new())?;
/// assert_eq!(c.features().len(), 2);
/// let error = Condition::compile("stag == \"new\"", &Fields::new()).unwrap_err();
/// assert_eq!(error[0].to_string(), "1:1: unknown name `stag` (did you mean `stage`?)");
/// # Ok::<(), Vec<crm_core::rules::Diagnostic>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    source: String,
    root: Node,
    features: Vec<Feature>,
}

struct Compiler<'a> {
    source: &'a str,
    info: cel::common::ast::SourceInfo,
    fields: &'a Fields,
    features: Vec<Feature>,
}

/// The closest known word within a small edit distance.
fn suggest<'w>(word: &str, known: impl IntoIterator<Item = &'w str>) -> Option<&'w str> {
    known
        .into_iter()
        .map(|k| (crate::import::edit_distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

impl Compiler<'_> {
    fn position(&self, id: u64) -> (u32, u32) {
        let Some((start, _)) = self.info.offset_for(id) else { return (1, 1) };
        let mut line = 1;
        let mut column = 1;
        for (i, c) in self.source.chars().enumerate() {
            if i as u32 >= start {
                break;
            }
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        (line, column)
    }

    fn error(&self, id: u64, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.position(id);
        Diagnostic { line, column, message: message.into() }
    }

    fn feature(&mut self, feature: Feature) -> Node {
        let value_type = feature.value_type();
        let index = match self.features.iter().position(|f| *f == feature) {
            Some(index) => index,
            None => {
                self.features.push(feature);
                self.features.len() - 1
            }
        };
        Node::Col(index, value_type)
    }

    fn string_arg(&self, e: &IdedExpr, what: &str) -> Result<String, Diagnostic> {
        match &e.expr {
            Expr::Literal(LiteralValue::String(s)) => Ok(s.inner().to_owned()),
            _ => Err(self.error(e.id, format!("{what} must be a string literal"))),
        }
    }

    fn days_arg(&self, e: &IdedExpr) -> Result<i64, Diagnostic> {
        if let Expr::Call(call) = &e.expr
            && call.func_name == "days"
            && call.target.is_none()
            && let [arg] = call.args.as_slice()
            && let Expr::Literal(LiteralValue::Int(n)) = &arg.expr
            && *n.inner() >= 0
        {
            return Ok(*n.inner());
        }
        Err(self.error(e.id, "expected a window such as days(90)"))
    }

    fn compile(&mut self, e: &IdedExpr) -> Result<(Node, Type), Diagnostic> {
        match &e.expr {
            Expr::Literal(literal) => match literal {
                LiteralValue::Boolean(b) => Ok((Node::Bool(*b.inner()), Type::Bool)),
                LiteralValue::Int(i) => Ok((Node::Int(*i.inner()), Type::Int)),
                LiteralValue::UInt(u) => i64::try_from(*u.inner())
                    .map(|i| (Node::Int(i), Type::Int))
                    .map_err(|_| self.error(e.id, "integer too large")),
                LiteralValue::Double(d) => Ok((Node::Double(*d.inner()), Type::Double)),
                LiteralValue::String(s) => Ok((Node::Str(s.inner().to_owned()), Type::String)),
                LiteralValue::Null => Err(self.error(
                    e.id,
                    "null is not a value here: missing features have defaults (see has_score)",
                )),
                LiteralValue::Bytes(_) => Err(self.error(e.id, "bytes are not supported")),
            },
            Expr::Ident(name) => {
                let feature = match name.as_str() {
                    "kind" => Feature::Kind,
                    "stage" => Feature::Stage,
                    "name" => Feature::Name,
                    "language" => Feature::Language,
                    "tags" => Feature::Tags,
                    "roles" => Feature::Roles,
                    "points" => Feature::Points,
                    "tier" => Feature::Tier,
                    other => {
                        let hint = suggest(other, NAMES.iter().copied())
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        return Err(self.error(e.id, format!("unknown name `{other}`{hint}")));
                    }
                };
                let node = self.feature(feature);
                let t = match &node {
                    Node::Col(_, t) => *t,
                    _ => Type::Bool,
                };
                Ok((node, t))
            }
            Expr::List(list) => {
                let mut items = Vec::new();
                for element in &list.elements {
                    match &element.expr {
                        Expr::Literal(LiteralValue::String(s)) => items.push(s.inner().to_owned()),
                        _ => {
                            return Err(
                                self.error(element.id, "lists may hold only string literals")
                            );
                        }
                    }
                }
                Ok((Node::StrList(items), Type::StringList))
            }
            Expr::Select(select) => {
                if let Expr::Ident(root) = &select.operand.expr
                    && root == "field"
                {
                    let Some(kind) = self.fields.get(&select.field) else {
                        let hint = suggest(&select.field, self.fields.keys().map(String::as_str))
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        return Err(self.error(
                            e.id,
                            format!("unknown custom field `{}`{hint}", select.field),
                        ));
                    };
                    let node = self.feature(Feature::Field(select.field.clone(), *kind));
                    let t = Feature::Field(select.field.clone(), *kind).value_type();
                    return Ok((node, t));
                }
                if let Expr::Ident(root) = &select.operand.expr
                    && root == "order"
                {
                    if select.field != "total" {
                        return Err(self.error(
                            e.id,
                            format!(
                                "unknown order feature `{}` (known: order.total)",
                                select.field
                            ),
                        ));
                    }
                    return Ok((self.feature(Feature::OrderTotal), Type::Double));
                }
                Err(self.error(
                    e.id,
                    format!("`.{}` is not a field here (use field.<name>)", select.field),
                ))
            }
            Expr::Call(call) => self.call(e, call),
            Expr::Map(_) | Expr::Struct(_) => {
                Err(self.error(e.id, "maps and structs are not supported"))
            }
            Expr::Comprehension(_) => {
                Err(self.error(e.id, "macros such as all/exists are not supported"))
            }
            Expr::Unspecified => Err(self.error(e.id, "empty expression")),
        }
    }

    fn call(
        &mut self,
        e: &IdedExpr,
        call: &cel::common::ast::CallExpr,
    ) -> Result<(Node, Type), Diagnostic> {
        let name = call.func_name.as_str();
        let args = &call.args;
        // Methods on the history collections.
        if let Some(target) = &call.target {
            let collection = match &target.expr {
                Expr::Ident(c) => c.as_str(),
                _ => return Err(self.error(e.id, format!("`{name}` cannot be called on this"))),
            };
            let feature = match (collection, name, args.as_slice()) {
                ("orders", "count", [w]) => Feature::OrdersCount(self.days_arg(w)?),
                ("orders", "revenue", [w, c]) => {
                    let currency = self.string_arg(c, "the currency")?;
                    crate::model::Currency::new(&currency).map_err(|_| {
                        self.error(c.id, format!("`{currency}` is not a currency code"))
                    })?;
                    Feature::OrdersRevenue(self.days_arg(w)?, currency.to_ascii_uppercase())
                }
                ("cases", "open", []) => Feature::CasesOpen,
                ("interactions", "count", [w]) => Feature::Interactions(None, self.days_arg(w)?),
                ("interactions", "count", [c, w]) => {
                    let channel = self.string_arg(c, "the channel")?;
                    crate::model::Channel::from_code(&channel)
                        .map_err(|err| self.error(c.id, err.to_string()))?;
                    Feature::Interactions(Some(channel), self.days_arg(w)?)
                }
                ("orders" | "cases" | "interactions", _, _) => {
                    let methods: &[&str] = match collection {
                        "orders" => &["count", "revenue"],
                        "cases" => &["open"],
                        _ => &["count"],
                    };
                    let message = if methods.contains(&name) {
                        format!("{collection}.{name} does not take {} arguments", args.len())
                    } else {
                        let hint = suggest(name, methods.iter().copied())
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default();
                        format!("unknown method `{name}` of {collection}{hint}")
                    };
                    return Err(self.error(
                        e.id,
                        format!(
                            "{message}; known: orders.count(days(n)), orders.revenue(days(n), \"CUR\"), cases.open(), interactions.count([\"channel\",] days(n))"
                        ),
                    ));
                }
                _ => {
                    let hint = suggest(collection, NAMES.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(self.error(target.id, format!("unknown name `{collection}`{hint}")));
                }
            };
            let t = feature.value_type();
            return Ok((self.feature(feature), t));
        }
        match name {
            operators::LOGICAL_AND | operators::LOGICAL_OR => {
                let (l, r) =
                    (self.expect(&args[0], Type::Bool)?, self.expect(&args[1], Type::Bool)?);
                let node = if name == operators::LOGICAL_AND {
                    Node::And(Box::new(l), Box::new(r))
                } else {
                    Node::Or(Box::new(l), Box::new(r))
                };
                Ok((node, Type::Bool))
            }
            operators::LOGICAL_NOT => {
                Ok((Node::Not(Box::new(self.expect(&args[0], Type::Bool)?)), Type::Bool))
            }
            operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS => {
                let (l, lt) = self.compile(&args[0])?;
                let (r, rt) = self.compile(&args[1])?;
                let operand = if lt.is_number() && rt.is_number() {
                    if lt == Type::Int && rt == Type::Int { Type::Int } else { Type::Double }
                } else if lt == rt && matches!(lt, Type::String | Type::Bool) {
                    lt
                } else {
                    return Err(self
                        .error(e.id, format!("cannot compare {} with {}", lt.name(), rt.name())));
                };
                let ordering = !matches!(name, operators::EQUALS | operators::NOT_EQUALS);
                if ordering && operand == Type::Bool {
                    return Err(self.error(e.id, "booleans have no order"));
                }
                let op = match name {
                    operators::EQUALS => Cmp::Eq,
                    operators::NOT_EQUALS => Cmp::Ne,
                    operators::LESS => Cmp::Lt,
                    operators::LESS_EQUALS => Cmp::Le,
                    operators::GREATER => Cmp::Gt,
                    _ => Cmp::Ge,
                };
                Ok((Node::Cmp(op, Box::new(l), Box::new(r), operand), Type::Bool))
            }
            operators::ADD
            | operators::SUBSTRACT
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO => {
                let (l, lt) = self.compile(&args[0])?;
                let (r, rt) = self.compile(&args[1])?;
                if !(lt.is_number() && rt.is_number()) {
                    return Err(self.error(
                        e.id,
                        format!("arithmetic needs numbers, not {} and {}", lt.name(), rt.name()),
                    ));
                }
                let t = if lt == Type::Int && rt == Type::Int { Type::Int } else { Type::Double };
                if name == operators::MODULO && t != Type::Int {
                    return Err(self.error(e.id, "% needs integers"));
                }
                let op = match name {
                    operators::ADD => Arith::Add,
                    operators::SUBSTRACT => Arith::Sub,
                    operators::MULTIPLY => Arith::Mul,
                    operators::DIVIDE => Arith::Div,
                    _ => Arith::Mod,
                };
                Ok((Node::Arith(op, Box::new(l), Box::new(r), t), t))
            }
            operators::NEGATE => {
                let (n, t) = self.compile(&args[0])?;
                if !t.is_number() {
                    return Err(self.error(e.id, format!("cannot negate {}", t.name())));
                }
                Ok((Node::Neg(Box::new(n), t), t))
            }
            operators::CONDITIONAL => {
                let c = self.expect(&args[0], Type::Bool)?;
                let (a, at) = self.compile(&args[1])?;
                let (b, bt) = self.compile(&args[2])?;
                if at != bt {
                    return Err(self.error(
                        e.id,
                        format!(
                            "both branches must have one type, not {} and {}",
                            at.name(),
                            bt.name()
                        ),
                    ));
                }
                Ok((Node::Cond(Box::new(c), Box::new(a), Box::new(b)), at))
            }
            operators::IN => {
                let elem = self.expect(&args[0], Type::String)?;
                let list = self.expect(&args[1], Type::StringList)?;
                Ok((Node::In(Box::new(elem), Box::new(list)), Type::Bool))
            }
            "size" => {
                let list = self.expect(&args[0], Type::StringList)?;
                Ok((Node::Size(Box::new(list)), Type::Int))
            }
            "score" | "has_score" => {
                let [arg] = args.as_slice() else {
                    return Err(self.error(e.id, format!("{name}(\"name\") takes one argument")));
                };
                let score = self.string_arg(arg, "the score name")?;
                let feature =
                    if name == "score" { Feature::Score(score) } else { Feature::HasScore(score) };
                let t = feature.value_type();
                Ok((self.feature(feature), t))
            }
            "consent" => {
                let [kind, purpose] = args.as_slice() else {
                    return Err(
                        self.error(e.id, "consent(\"email\", \"marketing\") takes two arguments")
                    );
                };
                let kind_code = self.string_arg(kind, "the contact kind")?;
                crate::model::ContactKind::from_code(&kind_code)
                    .map_err(|err| self.error(kind.id, err.to_string()))?;
                let purpose = self.string_arg(purpose, "the purpose")?;
                Ok((self.feature(Feature::Consent(kind_code, purpose)), Type::Bool))
            }
            "changed" | "old" | "new" => {
                let [arg] = args.as_slice() else {
                    return Err(self.error(e.id, format!("{name}(\"stage\") takes one argument")));
                };
                let path = self.string_arg(arg, "the changed attribute")?;
                let feature = match name {
                    "changed" => Feature::Changed(path),
                    "old" => Feature::Old(path),
                    _ => Feature::New(path),
                };
                let t = feature.value_type();
                Ok((self.feature(feature), t))
            }
            "floor" => {
                let [arg] = args.as_slice() else {
                    return Err(self.error(e.id, "floor(x) takes one argument"));
                };
                let (n, t) = self.compile(arg)?;
                if !t.is_number() {
                    return Err(self.error(e.id, format!("floor needs a number, not {}", t.name())));
                }
                Ok((Node::Floor(Box::new(n)), Type::Int))
            }
            "days_since" => match args.as_slice() {
                [arg] if matches!(&arg.expr, Expr::Ident(n) if n == "last_order") => {
                    Ok((self.feature(Feature::DaysSinceLastOrder), Type::Int))
                }
                _ => Err(self.error(e.id, "days_since takes last_order")),
            },
            "days" => {
                Err(self.error(e.id, "days(n) is a window argument of orders / interactions"))
            }
            other => {
                let hint = suggest(other, FUNCTIONS.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                Err(self.error(e.id, format!("unknown function `{other}`{hint}")))
            }
        }
    }

    fn expect(&mut self, e: &IdedExpr, want: Type) -> Result<Node, Diagnostic> {
        let (node, t) = self.compile(e)?;
        if t == want {
            Ok(node)
        } else {
            Err(self.error(e.id, format!("expected {}, found {}", want.name(), t.name())))
        }
    }
}

impl Condition {
    /// Parses, type-checks and compiles a condition; it must be a bool.
    ///
    /// # Errors
    ///
    /// Every syntax error, or the first type error, with its line and
    /// column.
    pub fn compile(source: &str, fields: &Fields) -> Result<Condition, Vec<Diagnostic>> {
        Condition::compile_as(source, fields, Type::Bool)
    }

    /// Compiles a formula whose value is an int, such as a loyalty earn
    /// rule (`floor(order.total / 10.0) * (tier == "gold" ? 2 : 1)`).
    ///
    /// # Errors
    ///
    /// As [`Condition::compile`], and when the value is not an int.
    pub fn compile_int(source: &str, fields: &Fields) -> Result<Condition, Vec<Diagnostic>> {
        Condition::compile_as(source, fields, Type::Int)
    }

    fn compile_as(source: &str, fields: &Fields, want: Type) -> Result<Condition, Vec<Diagnostic>> {
        let parsed = cel::parser::Parser::new().parse_with_source_info(source);
        let (expr, info) = match parsed {
            Ok(parsed) => parsed,
            Err(errors) => {
                return Err(errors
                    .errors
                    .iter()
                    .map(|e| Diagnostic {
                        line: u32::try_from(e.pos.0).unwrap_or(1).max(1),
                        column: u32::try_from(e.pos.1 + 1).unwrap_or(1).max(1),
                        message: e.msg.clone(),
                    })
                    .collect());
            }
        };
        let mut compiler = Compiler { source, info, fields, features: Vec::new() };
        let (root, t) = compiler.compile(&expr).map_err(|d| vec![d])?;
        if t != want {
            let what = if want == Type::Bool { "a condition" } else { "a formula" };
            let hint = if want == Type::Int && t == Type::Double { " (use floor())" } else { "" };
            return Err(vec![Diagnostic {
                line: 1,
                column: 1,
                message: format!("{what} must be {}, this is {}{hint}", want.name(), t.name()),
            }]);
        }
        Ok(Condition { source: source.to_owned(), root, features: compiler.features })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The features the condition reads, in column order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Evaluates the condition for row `row` of a table whose columns are
    /// this condition's features (in order).
    pub fn eval(&self, table: &FeatureTable, row: usize) -> bool {
        Eval { columns: &table.columns, row }.bool(&self.root)
    }

    /// Evaluates a formula compiled with [`Condition::compile_int`] for row
    /// `row`.
    pub fn eval_int(&self, table: &FeatureTable, row: usize) -> i64 {
        Eval { columns: &table.columns, row }.int(&self.root)
    }

    /// True when the condition reads the event that fired it (`changed`,
    /// `old`, `new`, `order.total`), which only rules triggered by an event
    /// can.
    pub fn reads_event(&self) -> bool {
        self.features.iter().any(Feature::is_event)
    }

    /// Evaluates the condition for every row, splitting the rows over the
    /// machine's cores.
    pub fn eval_all(&self, table: &FeatureTable) -> Vec<bool> {
        let n = table.parties.len();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 16);
        let chunk = n.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    scope.spawn(move || {
                        (start..(start + chunk).min(n))
                            .map(|row| self.eval(table, row))
                            .collect::<Vec<bool>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    }
}

/// Checks a condition against the schema and returns it as an error of the
/// crate on failure (line:column in the reason).
pub(crate) fn compile_or_error(source: &str, fields: &Fields) -> crate::Result<Condition> {
    Condition::compile(source, fields).map_err(|diagnostics| {
        Error::invalid(
            "condition",
            diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        )
    })
}

struct Eval<'t> {
    columns: &'t [Column],
    row: usize,
}

impl Eval<'_> {
    fn bool(&self, n: &Node) -> bool {
        match n {
            Node::Bool(b) => *b,
            Node::Col(i, _) => match &self.columns[*i] {
                Column::Bool(v) => v[self.row],
                _ => false,
            },
            Node::Not(a) => !self.bool(a),
            Node::And(a, b) => self.bool(a) && self.bool(b),
            Node::Or(a, b) => self.bool(a) || self.bool(b),
            Node::Cmp(op, a, b, t) => match t {
                Type::Int => cmp(*op, self.int(a), self.int(b)),
                Type::Double => cmp_f(*op, self.double(a), self.double(b)),
                Type::String => cmp(*op, self.str(a), self.str(b)),
                Type::Bool => cmp(*op, self.bool(a), self.bool(b)),
                _ => false,
            },
            Node::Cond(c, a, b) => {
                if self.bool(c) {
                    self.bool(a)
                } else {
                    self.bool(b)
                }
            }
            Node::In(e, list) => {
                let e = self.str(e);
                self.list(list).iter().any(|s| s == e)
            }
            _ => false,
        }
    }

    fn int(&self, n: &Node) -> i64 {
        match n {
            Node::Int(i) => *i,
            Node::Col(i, _) => match &self.columns[*i] {
                Column::Int(v) => v[self.row],
                _ => 0,
            },
            Node::Arith(op, a, b, _) => {
                let (a, b) = (self.int(a), self.int(b));
                match op {
                    Arith::Add => a.saturating_add(b),
                    Arith::Sub => a.saturating_sub(b),
                    Arith::Mul => a.saturating_mul(b),
                    // Division by zero is documented to give 0.
                    Arith::Div => a.checked_div(b).unwrap_or(0),
                    Arith::Mod => a.checked_rem(b).unwrap_or(0),
                }
            }
            Node::Neg(a, _) => self.int(a).saturating_neg(),
            Node::Cond(c, a, b) => {
                if self.bool(c) {
                    self.int(a)
                } else {
                    self.int(b)
                }
            }
            Node::Size(list) => self.list(list).len() as i64,
            // `as` saturates; NaN becomes 0.
            Node::Floor(x) => self.double(x).floor() as i64,
            _ => 0,
        }
    }

    fn double(&self, n: &Node) -> f64 {
        match n {
            Node::Double(d) => *d,
            Node::Int(i) => *i as f64,
            Node::Col(i, t) => match (&self.columns[*i], t) {
                (Column::Double(v), _) => v[self.row],
                (Column::Int(v), _) => v[self.row] as f64,
                _ => 0.0,
            },
            Node::Arith(op, a, b, t) => {
                if *t == Type::Int {
                    return self.int(n) as f64;
                }
                let (a, b) = (self.double(a), self.double(b));
                match op {
                    Arith::Add => a + b,
                    Arith::Sub => a - b,
                    Arith::Mul => a * b,
                    Arith::Div => {
                        if b == 0.0 {
                            0.0
                        } else {
                            a / b
                        }
                    }
                    Arith::Mod => 0.0,
                }
            }
            Node::Neg(a, t) => {
                if *t == Type::Int {
                    -(self.int(a) as f64)
                } else {
                    -self.double(a)
                }
            }
            Node::Cond(c, a, b) => {
                if self.bool(c) {
                    self.double(a)
                } else {
                    self.double(b)
                }
            }
            Node::Size(_) | Node::Floor(_) => self.int(n) as f64,
            _ => 0.0,
        }
    }

    fn str<'a>(&'a self, n: &'a Node) -> &'a str {
        match n {
            Node::Str(s) => s,
            Node::Col(i, _) => match &self.columns[*i] {
                Column::Str(v) => &v[self.row],
                _ => "",
            },
            Node::Cond(c, a, b) => {
                if self.bool(c) {
                    self.str(a)
                } else {
                    self.str(b)
                }
            }
            _ => "",
        }
    }

    fn list<'a>(&'a self, n: &'a Node) -> &'a [String] {
        match n {
            Node::StrList(items) => items,
            Node::Col(i, _) => match &self.columns[*i] {
                Column::List(v) => &v[self.row],
                _ => &[],
            },
            _ => &[],
        }
    }
}

fn cmp<T: PartialOrd>(op: Cmp, a: T, b: T) -> bool {
    match op {
        Cmp::Eq => a == b,
        Cmp::Ne => a != b,
        Cmp::Lt => a < b,
        Cmp::Le => a <= b,
        Cmp::Gt => a > b,
        Cmp::Ge => a >= b,
    }
}

fn cmp_f(op: Cmp, a: f64, b: f64) -> bool {
    cmp(op, a, b)
}
