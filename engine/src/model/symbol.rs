//! [`Symbol`]: the repeated vocabulary of models (element type, property, relationship and
//! annotation names, external sources) held without a heap string per occurrence.
//!
//! A model of 10,000 tables names `SqlSimpleColumn`, `TypeSpecifier` or `IsNullable` hundreds
//! of thousands of times. Names DacFx and the engine use (every one found in the corpus, and
//! those the builders and drivers write) are held as their position in the vocabulary; any
//! other name is kept in a box of its own, so every text survives unchanged. Either way a
//! symbol is two words, the size of a `&str`.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Deref;
use std::sync::OnceLock;

/// A name from the model's vocabulary: it reads, compares, hashes and prints as its text.
#[derive(Clone)]
pub struct Symbol(Repr);

#[derive(Clone)]
enum Repr {
    /// A word of [`VOCABULARY`], by position. No `Owned` symbol holds a word of the vocabulary.
    Known(u16),
    /// Any other name.
    Owned(Box<str>),
}

impl Symbol {
    /// The symbol for `text`: a position in the vocabulary when it is a known word, boxed
    /// otherwise.
    pub fn new(text: &str) -> Self {
        match known(text) {
            Some(word) => Symbol(Repr::Known(word)),
            None => Symbol(Repr::Owned(text.into())),
        }
    }

    /// A symbol for a static string.
    pub fn from_static(text: &'static str) -> Self {
        Symbol::new(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Known(word) => VOCABULARY[usize::from(*word)],
            Repr::Owned(text) => text,
        }
    }
}

/// The position in [`VOCABULARY`] of the word equal to `text`, if any.
fn known(text: &str) -> Option<u16> {
    static WORDS: OnceLock<HashMap<&'static str, u16, WordBuildHasher>> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            VOCABULARY
                .iter()
                .enumerate()
                .filter_map(|(idx, &word)| Some((word, u16::try_from(idx).ok()?)))
                .collect()
        })
        .get(text)
        .copied()
}

impl Deref for Symbol {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Symbol {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Symbol {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Symbol {
    fn eq(&self, other: &Symbol) -> bool {
        match (&self.0, &other.0) {
            (Repr::Known(a), Repr::Known(b)) => a == b,
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for Symbol {}

impl PartialOrd for Symbol {
    fn partial_cmp(&self, other: &Symbol) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Symbol {
    fn cmp(&self, other: &Symbol) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Symbol {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

macro_rules! eq_text {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Symbol {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }

        impl PartialEq<Symbol> for $t {
            fn eq(&self, other: &Symbol) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_text!(str, &str, String);

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Default for Symbol {
    fn default() -> Self {
        Symbol(Repr::Owned(Box::default()))
    }
}

impl From<&str> for Symbol {
    fn from(text: &str) -> Self {
        Symbol::new(text)
    }
}

impl From<&String> for Symbol {
    fn from(text: &String) -> Self {
        Symbol::new(text)
    }
}

impl From<String> for Symbol {
    fn from(text: String) -> Self {
        match known(&text) {
            Some(word) => Symbol(Repr::Known(word)),
            None => Symbol(Repr::Owned(text.into_boxed_str())),
        }
    }
}

impl From<Cow<'_, str>> for Symbol {
    fn from(text: Cow<'_, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Symbol::new(text),
            Cow::Owned(text) => Symbol::from(text),
        }
    }
}

impl From<&Symbol> for Symbol {
    fn from(symbol: &Symbol) -> Self {
        symbol.clone()
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.as_str().to_string()
    }
}

impl serde::Serialize for Symbol {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A multiply-rotate hasher over 8-byte words (FxHash's scheme), for the short names models
/// are keyed by, where SipHash dominated lookups.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

/// Builds [`WordHasher`]s.
pub(crate) type WordBuildHasher = BuildHasherDefault<WordHasher>;

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(word) ^ (rest.len() as u64) << 56);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// The known words: every element type, property, relationship and annotation name and
/// external source in the corpus's 29 packages, and those the engine's builders and drivers
/// write. Sorted; a name missing here still works, it just costs a heap string.
pub const VOCABULARY: &[&str] = &[
    "ActivationProcedure",
    "Address",
    "AliasedToDbo",
    "Arguments",
    "ArrayDimensions",
    "Assembly",
    "AssemblySources",
    "Attributes",
    "AuthenticationType",
    "Authorization",
    "Authorizer",
    "BodyDependencies",
    "BodyScript",
    "BucketCount",
    "BuiltIns",
    "CacheSize",
    "Catalog",
    "CatalogCollation",
    "ChangeTrackingRetentionPeriod",
    "ChangeTrackingRetentionUnit",
    "CheckExpressionDependencies",
    "CheckExpressionScript",
    "ClassName",
    "ClrName",
    "Collation",
    "Column",
    "ColumnNames",
    "ColumnSpecifications",
    "Columns",
    "CompatibilityMode",
    "CompressionLevel",
    "Constraints",
    "ContainsFileStream",
    "ContainsMemoryOptimizedData",
    "Contracts",
    "CreateOffset",
    "DataCompression",
    "DataCompressionOptions",
    "DataRetentionEnabled",
    "DataSourceName",
    "DataSourceType",
    "DefaultExpressionScript",
    "DefaultFilegroup",
    "DefaultFullTextLanguage",
    "DefaultLanguage",
    "DefaultSchema",
    "DefiningTable",
    "Definition",
    "DefinitionScript",
    "DisallowPageLocks",
    "DisallowRowLocks",
    "DistributionPolicyType",
    "DoIgnoreDuplicateKey",
    "DoPadIndex",
    "DoReturnNullForNullInput",
    "Durability",
    "DynamicObjects",
    "EventType",
    "ExpressionDependencies",
    "ExpressionScript",
    "FileFormatName",
    "FileStreamDirectoryName",
    "FileStreamFilegroup",
    "Filegroup",
    "FilegroupForTextImage",
    "FillFactor",
    "FilterPredicate",
    "FooterContents",
    "ForColumn",
    "ForObject",
    "ForObjectScript",
    "ForeignColumns",
    "ForeignTable",
    "Format",
    "FormatType",
    "FunctionBody",
    "GeneratedAlwaysType",
    "GloballyScoped",
    "Grantee",
    "HeaderContents",
    "Host",
    "IdentityGeneration",
    "IdentityIncrement",
    "IdentityIsNotForReplication",
    "IdentitySeed",
    "IncludedColumns",
    "Increment",
    "IndexMethod",
    "IndexedObject",
    "Inherits",
    "IsAccentSensitive",
    "IsActivationOn",
    "IsAllowSnapshotIsolation",
    "IsAnsiNullDefaultOn",
    "IsAnsiNullsOn",
    "IsAnsiPaddingOn",
    "IsAnsiWarningsOn",
    "IsArithAbortOn",
    "IsAscending",
    "IsAutoGeneratedHistoryTable",
    "IsAutoIncrement",
    "IsAutoUpdateStatisticsAsyncOn",
    "IsAutoUpdateStatisticsOn",
    "IsCaller",
    "IsChangeTrackingAutoCleanupOn",
    "IsClustered",
    "IsConcatNullYieldsNullOn",
    "IsCursorDefaultScopeGlobal",
    "IsCycling",
    "IsDBChainingOn",
    "IsDefault",
    "IsDeferrable",
    "IsDeleteTrigger",
    "IsDisabled",
    "IsFileStream",
    "IsFixedLength",
    "IsFullTextEnabled",
    "IsHash",
    "IsHidden",
    "IsIdentity",
    "IsIncremental",
    "IsInitiallyDeferred",
    "IsInline",
    "IsInlineable",
    "IsInsertTrigger",
    "IsMaterialized",
    "IsMax",
    "IsMemoryOptimized",
    "IsMemoryOptimizedElevatedToSnapshot",
    "IsNoInherit",
    "IsNotEnforced",
    "IsNotForReplication",
    "IsNotTrustedPropertyAnnotation",
    "IsNotValid",
    "IsNullable",
    "IsNumericRoundAbortOn",
    "IsOutput",
    "IsOwner",
    "IsPersisted",
    "IsPersistedNullable",
    "IsPrimary",
    "IsQuotedIdentifierOn",
    "IsReadCommittedSnapshot",
    "IsReadOnly",
    "IsRowGuidColumn",
    "IsRowLevelSecurityEnabled",
    "IsSchemaBound",
    "IsSparse",
    "IsStatisticsNoRecompute",
    "IsStrict",
    "IsTemporary",
    "IsTornPageProtectionOn",
    "IsTrustworthyOn",
    "IsUnique",
    "IsUnlogged",
    "IsUpdateTrigger",
    "IsVardecimalStorageFormatOn",
    "IsVarying",
    "IsWithCheckOption",
    "IsWithoutLogin",
    "IsWithoutRowId",
    "IsXmlDocument",
    "KeyName",
    "Language",
    "LanguageId",
    "LegacyCardinalityEstimationForSecondary",
    "Length",
    "Location",
    "Login",
    "LoginIdentifierScript",
    "MaskingFunction",
    "MatchKind",
    "MaxByteSize",
    "MaxDop",
    "MaxDopForSecondary",
    "MaxQueueReaders",
    "Member",
    "MessageType",
    "Messages",
    "MethodName",
    "Methods",
    "MinValue",
    "Mode",
    "NullsFirst",
    "NullsNotDistinct",
    "Offset",
    "OnDeleteAction",
    "OnUpdateAction",
    "OperatorClass",
    "Options",
    "OutputOptions",
    "OwnedBy",
    "PageVerifyMode",
    "ParameterSniffing",
    "ParameterSniffingForSecondary",
    "Parameters",
    "Parent",
    "PartitionBound",
    "PartitionBy",
    "PartitionColumn",
    "PartitionNumber",
    "PartitionOf",
    "PartitionScheme",
    "Password",
    "Permission",
    "PersistedResolvableAnnotation",
    "PgAlterDomain",
    "PgAlterTable",
    "PgCollation",
    "PgComment",
    "PgCompositeType",
    "PgDefaultPrivileges",
    "PgDoBlock",
    "PgDomain",
    "PgEnumType",
    "PgEventTrigger",
    "PgExcludeConstraint",
    "PgExtension",
    "PgForeignTable",
    "PgGrant",
    "PgPolicy",
    "PgRangeType",
    "PgRevoke",
    "PgRole",
    "PgStatement",
    "PgTextSearch",
    "PgType",
    "Precision",
    "PrimaryXmlIndexUsage",
    "Properties",
    "QueryDependencies",
    "QueryOptimizerHotfixesForSecondary",
    "QueryScript",
    "QueryStoreCaptureMode",
    "QueryStoreDesiredState",
    "QueryStoreFlushInterval",
    "QueryStoreIntervalLength",
    "QueryStoreMaxPlansPerQuery",
    "QueryStoreMaxStorageSize",
    "QueryStoreStaleQueryThreshold",
    "Queue",
    "RecoveryMode",
    "RetentionUnit",
    "ReturnTableVariable",
    "ReturnType",
    "Role",
    "Scale",
    "Schema",
    "SchemaExpression",
    "SecuredObject",
    "SentBy",
    "ServiceBrokerOption",
    "SortOperator",
    "Source",
    "SqlAggregate",
    "SqlApplicationRole",
    "SqlAssembly",
    "SqlAssemblySource",
    "SqlAsymmetricKey",
    "SqlBrokerPriority",
    "SqlCertificate",
    "SqlCheckConstraint",
    "SqlClrMethod",
    "SqlClrMethodParameter",
    "SqlClrProperty",
    "SqlColumn",
    "SqlColumnEncryptionKey",
    "SqlColumnMasterKey",
    "SqlColumnStoreIndex",
    "SqlComputedColumn",
    "SqlConstraint",
    "SqlContract",
    "SqlContractMessageSpecifier",
    "SqlDataCompressionOption",
    "SqlDatabase",
    "SqlDatabaseAuditSpecification",
    "SqlDatabaseCredential",
    "SqlDatabaseDdlTrigger",
    "SqlDatabaseEncryptionKey",
    "SqlDatabaseOptions",
    "SqlDefault",
    "SqlDefaultConstraint",
    "SqlDmlTrigger",
    "SqlDynamicColumnSource",
    "SqlEventNotification",
    "SqlExtendedProcedure",
    "SqlExtendedProperty",
    "SqlExternalDataSource",
    "SqlExternalFileFormat",
    "SqlExternalStream",
    "SqlExternalStreamingJob",
    "SqlExternalTable",
    "SqlFile",
    "SqlFilegroup",
    "SqlForeignKeyConstraint",
    "SqlFullTextCatalog",
    "SqlFullTextIndex",
    "SqlFullTextIndexColumnSpecifier",
    "SqlFullTextStopList",
    "SqlFunction",
    "SqlIndex",
    "SqlIndexBase",
    "SqlIndexedColumnSpecification",
    "SqlInlineConstraintAnnotation",
    "SqlInlineTableValuedFunction",
    "SqlLogin",
    "SqlMasterKey",
    "SqlMessageType",
    "SqlMultiStatementTableValuedFunction",
    "SqlObject",
    "SqlPartitionFunction",
    "SqlPartitionScheme",
    "SqlPermissionStatement",
    "SqlPrimaryKeyConstraint",
    "SqlProcedure",
    "SqlQueue",
    "SqlRemoteServiceBinding",
    "SqlRole",
    "SqlRoleMembership",
    "SqlRoute",
    "SqlRule",
    "SqlScalarFunction",
    "SqlSchema",
    "SqlScriptFunctionImplementation",
    "SqlSearchPropertyList",
    "SqlSecurityPolicy",
    "SqlSelectiveXmlIndex",
    "SqlSequence",
    "SqlServerDdlTrigger",
    "SqlService",
    "SqlSimpleColumn",
    "SqlSpatialIndex",
    "SqlStatistic",
    "SqlSubroutine",
    "SqlSubroutineParameter",
    "SqlSymmetricKey",
    "SqlSynonym",
    "SqlTable",
    "SqlTableBase",
    "SqlTableType",
    "SqlTableTypeCheckConstraint",
    "SqlTableTypeComputedColumn",
    "SqlTableTypeDefaultConstraint",
    "SqlTableTypeIndex",
    "SqlTableTypeIndexedColumnSpecification",
    "SqlTableTypePrimaryKeyConstraint",
    "SqlTableTypeSimpleColumn",
    "SqlTableTypeUniqueConstraint",
    "SqlTriggerEventTypeSpecifier",
    "SqlTriggerType",
    "SqlType",
    "SqlTypeSpecifier",
    "SqlUniqueConstraint",
    "SqlUser",
    "SqlUserDefinedDataType",
    "SqlUserDefinedType",
    "SqlView",
    "SqlXmlIndex",
    "SqlXmlSchemaCollection",
    "SqlXmlTypeSpecifier",
    "SqliteVirtualTable",
    "StartColumn",
    "StartLine",
    "StartValue",
    "SysCommentsObjectAnnotation",
    "TargetRecoveryTimePeriod",
    "TargetTypeStorage",
    "TemporalSystemVersioningHistoryTable",
    "TriggerTiming",
    "Type",
    "TypeColumn",
    "TypeSpecifier",
    "UnresolvedEntity",
    "User",
    "UsingPrimaryXmlIndex",
    "Value",
    "WithGrantOption",
    "WithNoData",
    "WithOptions",
    "XmlSchemaCollection",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn vocabulary_is_sorted_and_unique() {
        assert!(VOCABULARY.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn known_words_are_static_and_others_kept() {
        let table = Symbol::new("SqlTable");
        assert!(matches!(table.0, Repr::Known(_)));
        assert_eq!(std::mem::size_of::<Symbol>(), std::mem::size_of::<&str>());
        assert_eq!(Symbol::default(), "");
        assert_eq!(Symbol::from_static("Columns"), Symbol::new("Columns"));
        assert_eq!(table, "SqlTable");
        assert_eq!(table, Symbol::from("SqlTable".to_string()));
        let odd = Symbol::from("SqlTableX".to_string());
        assert!(matches!(odd.0, Repr::Owned(_)));
        assert_eq!(odd.as_str(), "SqlTableX");
        assert_ne!(odd, table);
        assert_eq!(format!("{table} {odd:?}"), "SqlTable \"SqlTableX\"");
        let mut set = HashSet::new();
        set.insert(table);
        assert!(set.contains("SqlTable"));
    }
}
