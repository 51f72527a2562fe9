//! Column and parameter types as text: canonical names and `SqlTypeSpecifier` elements.
//!
//! PostgreSQL types are canonicalised the way `format_type()` prints them (`int4` ->
//! `integer`, `varchar(10)` -> `character varying` + `Length=10`, `timestamptz` ->
//! `timestamp with time zone`...), so a source model and an inspected catalog agree.
//! SQLite keeps the declared type as written, upper-cased, split into name and arguments.

use crate::model::kind::prop;
use crate::model::kind::{self, rel};
use crate::model::{Element, ObjectName, Platform, Reference};

/// A declared type, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeText {
    /// Canonical name (PostgreSQL: lower case, `format_type` spelling; SQLite: upper case).
    /// For user types the parts of the name (schema first).
    pub name: Vec<String>,
    /// Whether the type is a built-in (referenced with `ExternalSource="BuiltIns"`).
    pub built_in: bool,
    /// Numeric arguments in parentheses (`varchar(10)` -> `[10]`, `numeric(10,2)` -> `[10, 2]`).
    pub args: Vec<String>,
    /// Array dimensions written (`int[][]` -> 2).
    pub array_dims: u32,
    /// PostgreSQL `serial`-family pseudo type: the column gets a sequence and a default.
    pub serial: bool,
}

/// PostgreSQL built-in type names in `format_type` spelling.
const PG_BUILT_INS: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
    "money",
    "character varying",
    "character",
    "text",
    "name",
    "\"char\"",
    "bytea",
    "timestamp without time zone",
    "timestamp with time zone",
    "date",
    "time without time zone",
    "time with time zone",
    "interval",
    "boolean",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "cidr",
    "inet",
    "macaddr",
    "macaddr8",
    "bit",
    "bit varying",
    "tsvector",
    "tsquery",
    "uuid",
    "xml",
    "json",
    "jsonb",
    "jsonpath",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "tsmultirange",
    "tstzmultirange",
    "datemultirange",
    "oid",
    "regclass",
    "regproc",
    "regprocedure",
    "regtype",
    "regconfig",
    "regnamespace",
    "regrole",
    "pg_lsn",
    "txid_snapshot",
    "pg_snapshot",
    "xid",
    "xid8",
    "cid",
    "tid",
    "void",
    "trigger",
    "event_trigger",
    "record",
    "anyelement",
    "anyarray",
    "anynonarray",
    "anyenum",
    "anyrange",
    "anymultirange",
    "anycompatible",
    "anycompatiblearray",
    "cstring",
    "internal",
    "language_handler",
    "fdw_handler",
    "index_am_handler",
    "tsm_handler",
    "table_am_handler",
];

/// `interval` with fields, as `format_type` prints them (the precision follows the fields).
const PG_INTERVALS: &[&str] = &[
    "interval year",
    "interval month",
    "interval day",
    "interval hour",
    "interval minute",
    "interval second",
    "interval year to month",
    "interval day to hour",
    "interval day to minute",
    "interval day to second",
    "interval hour to minute",
    "interval hour to second",
    "interval minute to second",
];

/// Maps a lower-cased PostgreSQL type spelling to its `format_type` name; `None` when unknown.
fn pg_canonical(base: &str) -> Option<&'static str> {
    Some(match base {
        "float" => "double precision",
        "\"char\"" => "\"char\"",
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
        "varchar" | "character varying" | "char varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "bool" | "boolean" => "boolean",
        "float8" | "double precision" | "double" => "double precision",
        "float4" | "real" => "real",
        "decimal" | "numeric" | "dec" => "numeric",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        "varbit" | "bit varying" => "bit varying",
        other => {
            return PG_BUILT_INS
                .iter()
                .chain(PG_INTERVALS)
                .copied()
                .find(|b| *b == other);
        }
    })
}

/// Splits declared type text into name, arguments and array dimensions.
///
/// Accepts sqlparser's `Display` of a data type as well as catalog spellings such as
/// `character varying(20)[]` or `timestamp(3) with time zone`.
pub fn parse_type_text(platform: Platform, text: &str) -> TypeText {
    let mut rest = text.trim().to_string();
    let mut array_dims = 0;
    loop {
        let trimmed = rest.trim_end();
        if trimmed.ends_with(']')
            && !trimmed.ends_with("\"]")
            && let Some(open) = trimmed.rfind('[')
            && trimmed[open + 1..trimmed.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            array_dims += 1;
            rest = trimmed[..open].to_string();
            continue;
        }
        let upper = trimmed.to_ascii_uppercase();
        if upper.ends_with(" ARRAY") {
            array_dims += 1;
            rest = trimmed[..trimmed.len() - 6].to_string();
            continue;
        }
        rest = trimmed.to_string();
        break;
    }
    // Arguments: the first parenthesised group outside quotes.
    let mut args = Vec::new();
    let mut base = String::new();
    let mut in_quote = false;
    let mut chars = rest.char_indices().peekable();
    let mut taken_args = false;
    while let Some((idx, c)) = chars.next() {
        match c {
            '"' => {
                in_quote = !in_quote;
                base.push(c);
            }
            '(' if !in_quote && !taken_args => {
                let mut depth = 1;
                let start = idx + 1;
                let mut end = rest.len();
                for (j, d) in chars.by_ref() {
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                args = rest[start..end]
                    .split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect();
                taken_args = true;
            }
            _ => base.push(c),
        }
    }
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    match platform {
        Platform::Postgres => {
            let lower = base.to_lowercase();
            let unqualified = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
            // `"char"` is the one built-in whose name is quoted.
            let quoted_char = base.strip_prefix("pg_catalog.").unwrap_or(&base) == "\"char\"";
            if (!base.contains('"') || quoted_char)
                && let Some(canon) = pg_canonical(unqualified)
            {
                let serial = unqualified.contains("serial");
                let mut args = args;
                let mut canon = canon;
                if unqualified == "float" {
                    // `float(p)` is `real` up to 24 bits of precision, else `double precision`.
                    if let Some(bits) = args.first().and_then(|a| a.parse::<u32>().ok()) {
                        canon = if bits <= 24 {
                            "real"
                        } else {
                            "double precision"
                        };
                    }
                    args.clear();
                }
                if args.is_empty() && matches!(canon, "character" | "bit") {
                    args.push("1".into());
                }
                // `numeric(p)` is `numeric(p,0)`.
                if args.len() == 1 && canon == "numeric" {
                    args.push("0".into());
                }
                return TypeText {
                    name: vec![canon.to_string()],
                    built_in: true,
                    args,
                    array_dims,
                    serial,
                };
            }
            TypeText {
                name: split_type_name(&base, true),
                built_in: false,
                args,
                array_dims,
                serial: false,
            }
        }
        _ => TypeText {
            name: vec![base.to_uppercase()],
            built_in: true,
            args,
            array_dims,
            serial: false,
        },
    }
}

/// A PostgreSQL collation's `Collation` property: the bare name where the default search path
/// finds it (schema `pg_catalog` or `public`, or none written: `C`, `en_US`, `mycoll`), else
/// the quoted qualified name (`"ext"."mycoll"`), which the dialect writes as it is.
pub fn collation_name(schema: Option<&str>, name: &str) -> String {
    match schema {
        None | Some("pg_catalog" | "public") => name.to_string(),
        Some(schema) => format!(
            "\"{}\".\"{}\"",
            schema.replace('"', "\"\""),
            name.replace('"', "\"\"")
        ),
    }
}

/// Splits `schema.name` / `"Schema"."Name"`, folding unquoted parts when `fold`.
fn split_type_name(text: &str, fold: bool) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push(finish_part(&cur, was_quoted, fold));
                cur.clear();
                was_quoted = false;
            }
            _ => cur.push(c),
        }
    }
    parts.push(finish_part(&cur, was_quoted, fold));
    parts
}

fn finish_part(part: &str, quoted: bool, fold: bool) -> String {
    if quoted || !fold {
        part.to_string()
    } else {
        part.trim().to_lowercase()
    }
}

/// The `SqlTypeSpecifier` element for declared type text (`Type` reference, `Length`,
/// `Precision`, `Scale`, `IsMax`, `ArrayDimensions`). `default_schema` qualifies user types.
pub fn type_specifier(platform: Platform, text: &str, default_schema: &str) -> Element {
    specifier_for(platform, &parse_type_text(platform, text), default_schema)
}

/// The `SqlTypeSpecifier` element of a parsed type.
pub fn specifier_for(platform: Platform, ty: &TypeText, default_schema: &str) -> Element {
    let mut spec = Element::new(kind::TYPE_SPECIFIER);
    let first = ty.name.last().map(String::as_str).unwrap_or("");
    let lower = first.to_lowercase();
    let is_length_type = match platform {
        Platform::Postgres => {
            ty.built_in
                && matches!(
                    first,
                    "character varying" | "character" | "bit" | "bit varying"
                )
        }
        _ => {
            lower.contains("char")
                || lower.contains("clob")
                || lower.contains("text")
                || lower.contains("binary")
                || lower.contains("blob")
        }
    };
    let is_time_type = platform == Platform::Postgres
        && ty.built_in
        && (first.starts_with("time") || first.starts_with("interval"));
    for (idx, arg) in ty.args.iter().enumerate() {
        let prop = if is_length_type {
            if idx == 0 { "Length" } else { "Scale" }
        } else if is_time_type || idx == 0 {
            "Precision"
        } else if idx == 1 {
            "Scale"
        } else {
            "Argument"
        };
        if arg.eq_ignore_ascii_case("max") {
            spec.set_prop(prop::IS_MAX, crate::model::Value::Bool(true));
        } else {
            spec.set_prop(prop, crate::model::Value::from_attribute(arg));
        }
    }
    if ty.array_dims > 0 {
        spec.set_prop(
            prop::ARRAY_DIMENSIONS,
            crate::model::Value::Int(i64::from(ty.array_dims)),
        );
    }
    let reference = if ty.built_in {
        Reference::built_in(ObjectName::new([first.to_string()]))
    } else if ty.name.len() == 1 {
        Reference::to(ObjectName::new([
            default_schema.to_string(),
            first.to_string(),
        ]))
    } else {
        let n = ty.name.len();
        Reference::to(ObjectName::new(ty.name[n - 2..].to_vec()))
    };
    spec.push_ref(rel::TYPE, reference);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(text: &str) -> TypeText {
        parse_type_text(Platform::Postgres, text)
    }

    #[test]
    fn postgres_aliases_canonicalise() {
        assert_eq!(pg("INT4").name, ["integer"]);
        assert_eq!(pg("int").name, ["integer"]);
        assert_eq!(pg("int8").name, ["bigint"]);
        assert_eq!(pg("VARCHAR(20)").name, ["character varying"]);
        assert_eq!(pg("VARCHAR(20)").args, ["20"]);
        assert_eq!(pg("CHAR").args, ["1"]);
        assert_eq!(pg("TIMESTAMPTZ").name, ["timestamp with time zone"]);
        assert_eq!(
            pg("TIMESTAMP(3) WITH TIME ZONE").name,
            ["timestamp with time zone"]
        );
        assert_eq!(pg("TIMESTAMP(3) WITH TIME ZONE").args, ["3"]);
        assert_eq!(pg("timestamp").name, ["timestamp without time zone"]);
        assert_eq!(pg("DECIMAL(10,2)").args, ["10", "2"]);
        assert_eq!(pg("float8").name, ["double precision"]);
        assert!(pg("bigserial").serial);
        assert_eq!(pg("bigserial").name, ["bigint"]);
        let arr = pg("TEXT[][]");
        assert_eq!((arr.name[0].as_str(), arr.array_dims), ("text", 2));
        assert_eq!(pg("integer ARRAY").array_dims, 1);
        let user = pg("\"My Schema\".\"Mood\"");
        assert!(!user.built_in);
        assert_eq!(user.name, ["My Schema", "Mood"]);
        assert_eq!(pg("Mood").name, ["mood"]);
    }

    #[test]
    fn sqlite_keeps_declared_text_upper_cased() {
        let t = parse_type_text(Platform::Sqlite, "varchar(255)");
        assert_eq!(t.name, ["VARCHAR"]);
        assert_eq!(t.args, ["255"]);
        let t = parse_type_text(Platform::Sqlite, "unsigned big  int");
        assert_eq!(t.name, ["UNSIGNED BIG INT"]);
    }

    #[test]
    fn specifier_has_reference_and_lengths() {
        let spec = type_specifier(Platform::Postgres, "numeric(10, 2)", "public");
        assert_eq!(spec.int_prop(prop::PRECISION), Some(10));
        assert_eq!(spec.int_prop(prop::SCALE), Some(2));
        assert_eq!(
            spec.reference_name(rel::TYPE).unwrap().to_string(),
            "[numeric]"
        );
        assert!(spec.references(rel::TYPE).next().unwrap().is_built_in());
        let spec = type_specifier(Platform::Postgres, "mood", "app");
        assert_eq!(
            spec.reference_name(rel::TYPE).unwrap().to_string(),
            "[app].[mood]"
        );
        let spec = type_specifier(Platform::Sqlite, "VARCHAR(30)", "main");
        assert_eq!(spec.int_prop(prop::LENGTH), Some(30));
    }

    /// sqlparser's spelling of a source type and `format_type()`'s spelling of the same type
    /// give one specifier (name, modifiers, array dimensions).
    #[test]
    fn source_and_catalog_spellings_agree() {
        let same = |source: &str, catalog: &str| {
            let a = type_specifier(Platform::Postgres, source, "public");
            let b = type_specifier(Platform::Postgres, catalog, "public");
            assert_eq!(a, b, "{source} vs {catalog}");
            assert!(
                a.references(rel::TYPE).next().unwrap().is_built_in(),
                "{source} is a built-in"
            );
        };
        same("TIMESTAMP(6)", "timestamp(6) without time zone");
        same("TIMESTAMP(6)[]", "timestamp(6) without time zone[]");
        same("TIMESTAMPTZ(3)", "timestamp(3) with time zone");
        same("TIME(3) WITH TIME ZONE", "time(3) with time zone");
        same("TIMETZ(3)", "time(3) with time zone");
        same("INTERVAL DAY TO SECOND(3)", "interval day to second(3)");
        same("INTERVAL DAY TO SECOND(3)[]", "interval day to second(3)[]");
        same("INTERVAL YEAR", "interval year");
        same("INTERVAL(2)", "interval(2)");
        same("NUMERIC(10,2)", "numeric(10,2)");
        same("DECIMAL(5)", "numeric(5,0)");
        same("DECIMAL(10,2)[]", "numeric(10,2)[]");
        same("VARBIT(5)", "bit varying(5)");
        same("BIT VARYING(5)", "bit varying(5)");
        same("VARCHAR(20)", "character varying(20)");
        same("CHARACTER VARYING(20)[]", "character varying(20)[]");
        same("CHAR", "character(1)");
        same("BIT", "bit(1)");
        same("FLOAT", "double precision");
        same("FLOAT(10)", "real");
        same("FLOAT(30)", "double precision");
        same("\"char\"", "\"char\"");
        same("pg_catalog.\"char\"", "\"char\"");
        same("REGCLASS", "regclass");
        same("regtype", "regtype");
        same("regproc", "regproc");
        same("oid", "oid");
        same("name", "name");
        same("pg_catalog.int4", "integer");
        let interval = type_specifier(Platform::Postgres, "interval day to second(3)", "public");
        assert_eq!(interval.int_prop(prop::PRECISION), Some(3));
        assert_eq!(
            interval.reference_name(rel::TYPE).unwrap().to_string(),
            "[interval day to second]"
        );
        let ts = type_specifier(Platform::Postgres, "timestamp(6)", "public");
        assert_eq!(ts.int_prop(prop::PRECISION), Some(6));
        assert_eq!(ts.int_prop(prop::LENGTH), None);
    }

    #[test]
    fn collations_are_bare_on_the_search_path() {
        assert_eq!(collation_name(Some("pg_catalog"), "C"), "C");
        assert_eq!(collation_name(None, "en_US"), "en_US");
        assert_eq!(collation_name(Some("public"), "mycoll"), "mycoll");
        assert_eq!(collation_name(Some("ext"), "My\"c"), "\"ext\".\"My\"\"c\"");
    }

    /// Aliases of one type are one type: no ALTER COLUMN for a respelling.
    #[test]
    fn equivalent_spellings_are_one_type() {
        for (a, b) in [
            ("varchar", "character varying"),
            ("int4", "integer"),
            ("int", "integer"),
            ("int8", "bigint"),
            ("bool", "boolean"),
            ("float8", "double precision"),
            ("float4", "real"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamp", "timestamp without time zone"),
            ("decimal(5,2)", "numeric(5,2)"),
            ("int2[]", "smallint[]"),
        ] {
            assert_eq!(
                type_specifier(Platform::Postgres, a, "public"),
                type_specifier(Platform::Postgres, b, "public"),
                "{a} vs {b}"
            );
        }
        // A quoted `"Char"` is a user type, not the built-in `"char"`.
        assert!(!pg("\"Char\"").built_in);
        assert_ne!(pg("varchar(10)"), pg("varchar(11)"));
    }
}
