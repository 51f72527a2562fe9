//! Refactor operations (`refactor.xml` in a package, `*.refactorlog` in a project): renames and
//! schema moves that compare must treat as renames, not drop and create.

/// The refactor log of a package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefactorLog {
    /// `Operations Version=` (1.0 in every file seen).
    pub version: String,
    /// Operations in log order.
    pub operations: Vec<RefactorOperation>,
}

/// One `<Operation>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefactorOperation {
    /// `Name`: `Rename Refactor` or `Move Schema`.
    pub name: String,
    /// `Key`: a GUID, recorded in `__RefactorLog` when applied.
    pub key: String,
    /// `ChangeDateTime`, verbatim.
    pub change_date_time: Option<String>,
    /// Properties (`ElementName`, `ElementType`, `ParentElementName`, `NewName`, `NewSchema`...).
    pub properties: Vec<(String, String)>,
}

impl RefactorOperation {
    /// A property's value.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
