//! Small builders for elements, used by the project builder, the drivers and tests.

use super::{Element, Entry, ObjectName, Reference, Relationship, Script, Symbol, Value};

impl Element {
    /// Sets the name.
    pub fn named(mut self, name: ObjectName) -> Self {
        self.name = Some(name);
        self
    }

    /// Adds a property (builder form of [`Element::set_prop`]).
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set_prop(name, value);
        self
    }

    /// Adds a boolean property.
    pub fn with_bool(self, name: &str, value: bool) -> Self {
        self.with(name, Value::Bool(value))
    }

    /// Adds an integer property.
    pub fn with_int(self, name: &str, value: i64) -> Self {
        self.with(name, Value::Int(value))
    }

    /// Adds a text property.
    pub fn with_text(self, name: &str, value: impl Into<String>) -> Self {
        self.with(name, Value::Text(value.into()))
    }

    /// Adds a script property (`<Value><![CDATA[...]]></Value>`).
    pub fn with_script(self, name: &str, text: impl Into<String>) -> Self {
        self.with(
            name,
            Value::Script(Script {
                text: text.into(),
                quoted_identifiers: None,
                ansi_nulls: None,
            }),
        )
    }

    /// Appends a reference entry to a relationship.
    pub fn with_ref(mut self, rel: &str, reference: Reference) -> Self {
        self.push_ref(rel, reference);
        self
    }

    /// Appends a nested element to a relationship.
    pub fn with_child(mut self, rel: &str, child: Element) -> Self {
        self.push_child(rel, child);
        self
    }

    /// Appends a reference entry to a relationship.
    pub fn push_ref(&mut self, rel: &str, reference: Reference) {
        self.relationship_mut(rel)
            .entries
            .push(Entry::Reference(reference));
    }

    /// Appends a nested element to a relationship.
    pub fn push_child(&mut self, rel: &str, child: Element) {
        self.relationship_mut(rel)
            .entries
            .push(Entry::Element(child));
    }
}

impl Relationship {
    /// A relationship with no entries.
    pub fn new(name: impl Into<Symbol>) -> Self {
        Relationship {
            name: name.into(),
            entries: Vec::new(),
        }
    }
}

/// Builders of small models for the engine's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::compare::Rename;
    use crate::model::kind::{self, prop};
    use crate::model::{Element, ObjectName, Reference};

    /// A name from its parts.
    pub(crate) fn name(parts: &[&str]) -> ObjectName {
        ObjectName::new(parts.iter().copied())
    }

    /// The table `table` with `columns`.
    pub(crate) fn table(table: &ObjectName, columns: Vec<Element>) -> Element {
        let mut el = Element::new(kind::TABLE).named(table.clone());
        for c in columns {
            el.push_child(kind::rel::COLUMNS, c);
        }
        el
    }

    /// A column `col` of `table`, of the built-in type `ty`; NOT NULL unless `nullable`.
    pub(crate) fn column(table: &ObjectName, col: &str, ty: &str, nullable: bool) -> Element {
        let mut el = Element::new(kind::SIMPLE_COLUMN).named(table.child(col));
        if !nullable {
            el = el.with_bool(prop::IS_NULLABLE, false);
        }
        el.with_child(
            kind::rel::TYPE_SPECIFIER,
            Element::new(kind::TYPE_SPECIFIER)
                .with_ref(kind::rel::TYPE, Reference::built_in(name(&[ty]))),
        )
    }

    /// The table `from` renamed to `to`.
    pub(crate) fn table_rename(from: &[&str], to: &[&str]) -> Rename {
        Rename {
            kind: kind::TABLE.into(),
            from: name(from),
            to: name(to),
        }
    }
}
