//! DacFx element type names the engine models, and the relationship/property names it reads.
//!
//! Every other element type is an opaque object: kept on read and write, compared by its whole
//! definition, listed by `dac info`.

/// `CREATE SCHEMA`.
pub const SCHEMA: &str = "SqlSchema";
/// A table.
pub const TABLE: &str = "SqlTable";
/// A plain column (also table-type columns use their own kinds below).
pub const SIMPLE_COLUMN: &str = "SqlSimpleColumn";
/// A computed column (also the output columns of views).
pub const COMPUTED_COLUMN: &str = "SqlComputedColumn";
/// The type of a column, parameter or alias type.
pub const TYPE_SPECIFIER: &str = "SqlTypeSpecifier";
/// An XML type with a schema collection.
pub const XML_TYPE_SPECIFIER: &str = "SqlXmlTypeSpecifier";
/// `PRIMARY KEY`.
pub const PRIMARY_KEY: &str = "SqlPrimaryKeyConstraint";
/// `UNIQUE`.
pub const UNIQUE: &str = "SqlUniqueConstraint";
/// `FOREIGN KEY`.
pub const FOREIGN_KEY: &str = "SqlForeignKeyConstraint";
/// `CHECK`.
pub const CHECK: &str = "SqlCheckConstraint";
/// `DEFAULT`.
pub const DEFAULT: &str = "SqlDefaultConstraint";
/// `CREATE INDEX`.
pub const INDEX: &str = "SqlIndex";
/// `CREATE [CLUSTERED|NONCLUSTERED] COLUMNSTORE INDEX`.
pub const COLUMN_STORE_INDEX: &str = "SqlColumnStoreIndex";
/// One column of an index or key.
pub const INDEXED_COLUMN: &str = "SqlIndexedColumnSpecification";
/// `CREATE VIEW`.
pub const VIEW: &str = "SqlView";
/// `CREATE PROCEDURE`.
pub const PROCEDURE: &str = "SqlProcedure";
/// Scalar function.
pub const SCALAR_FUNCTION: &str = "SqlScalarFunction";
/// Inline table-valued function.
pub const INLINE_TVF: &str = "SqlInlineTableValuedFunction";
/// Multi-statement table-valued function.
pub const MULTI_TVF: &str = "SqlMultiStatementTableValuedFunction";
/// The body of a function.
pub const FUNCTION_IMPLEMENTATION: &str = "SqlScriptFunctionImplementation";
/// A parameter of a procedure or function.
pub const PARAMETER: &str = "SqlSubroutineParameter";
/// A DML trigger.
pub const DML_TRIGGER: &str = "SqlDmlTrigger";
/// `CREATE SEQUENCE`.
pub const SEQUENCE: &str = "SqlSequence";
/// User-defined data (alias) type.
pub const USER_DEFINED_DATA_TYPE: &str = "SqlUserDefinedDataType";
/// User-defined table type.
pub const TABLE_TYPE: &str = "SqlTableType";
/// A column of a table type.
pub const TABLE_TYPE_COLUMN: &str = "SqlTableTypeSimpleColumn";
/// A computed column of a table type.
pub const TABLE_TYPE_COMPUTED_COLUMN: &str = "SqlTableTypeComputedColumn";
/// Primary key of a table type.
pub const TABLE_TYPE_PRIMARY_KEY: &str = "SqlTableTypePrimaryKeyConstraint";
/// Unique constraint of a table type.
pub const TABLE_TYPE_UNIQUE: &str = "SqlTableTypeUniqueConstraint";
/// Check constraint of a table type.
pub const TABLE_TYPE_CHECK: &str = "SqlTableTypeCheckConstraint";
/// Default of a table-type column.
pub const TABLE_TYPE_DEFAULT: &str = "SqlTableTypeDefaultConstraint";
/// Index of a table type.
pub const TABLE_TYPE_INDEX: &str = "SqlTableTypeIndex";
/// `CREATE SYNONYM`.
pub const SYNONYM: &str = "SqlSynonym";
/// `CREATE ROLE`.
pub const ROLE: &str = "SqlRole";
/// Role membership (`ALTER ROLE ... ADD MEMBER`).
pub const ROLE_MEMBERSHIP: &str = "SqlRoleMembership";
/// `CREATE USER`.
pub const USER: &str = "SqlUser";
/// `GRANT`/`DENY`/`REVOKE`.
pub const PERMISSION: &str = "SqlPermissionStatement";
/// `sp_addextendedproperty` / `COMMENT ON`.
pub const EXTENDED_PROPERTY: &str = "SqlExtendedProperty";
/// `CREATE XML SCHEMA COLLECTION`.
pub const XML_SCHEMA_COLLECTION: &str = "SqlXmlSchemaCollection";
/// `CREATE [PRIMARY] XML INDEX`.
pub const XML_INDEX: &str = "SqlXmlIndex";
/// `CREATE FULLTEXT CATALOG`.
pub const FULL_TEXT_CATALOG: &str = "SqlFullTextCatalog";
/// `CREATE FULLTEXT INDEX`.
pub const FULL_TEXT_INDEX: &str = "SqlFullTextIndex";
/// Database options (unnamed).
pub const DATABASE_OPTIONS: &str = "SqlDatabaseOptions";

/// Top-level kinds the engine models; everything else is opaque.
pub const MODELLED: &[&str] = &[
    SCHEMA,
    TABLE,
    PRIMARY_KEY,
    UNIQUE,
    FOREIGN_KEY,
    CHECK,
    DEFAULT,
    INDEX,
    COLUMN_STORE_INDEX,
    VIEW,
    PROCEDURE,
    SCALAR_FUNCTION,
    INLINE_TVF,
    MULTI_TVF,
    DML_TRIGGER,
    SEQUENCE,
    USER_DEFINED_DATA_TYPE,
    TABLE_TYPE,
    SYNONYM,
    ROLE,
    ROLE_MEMBERSHIP,
    USER,
    PERMISSION,
    EXTENDED_PROPERTY,
    DATABASE_OPTIONS,
];

/// Whether a top-level element kind is modelled (not opaque).
pub fn is_modelled(kind: &str) -> bool {
    MODELLED.contains(&kind)
}

/// Relationship and property names used across the engine.
pub mod rel {
    /// Owning schema.
    pub const SCHEMA: &str = "Schema";
    /// Columns of a table, view or table type.
    pub const COLUMNS: &str = "Columns";
    /// Type specifier of a column or parameter.
    pub const TYPE_SPECIFIER: &str = "TypeSpecifier";
    /// The type referenced by a type specifier.
    pub const TYPE: &str = "Type";
    /// Table a constraint belongs to.
    pub const DEFINING_TABLE: &str = "DefiningTable";
    /// Column a default belongs to.
    pub const FOR_COLUMN: &str = "ForColumn";
    /// Key or index columns.
    pub const COLUMN_SPECIFICATIONS: &str = "ColumnSpecifications";
    /// The column of an indexed column specification.
    pub const COLUMN: &str = "Column";
    /// Table or view an index is on.
    pub const INDEXED_OBJECT: &str = "IndexedObject";
    /// Included columns of an index.
    pub const INCLUDED_COLUMNS: &str = "IncludedColumns";
    /// Referenced table of a foreign key.
    pub const FOREIGN_TABLE: &str = "ForeignTable";
    /// Referenced columns of a foreign key.
    pub const FOREIGN_COLUMNS: &str = "ForeignColumns";
    /// Parameters of a routine.
    pub const PARAMETERS: &str = "Parameters";
    /// Table of a trigger.
    pub const PARENT: &str = "Parent";
    /// The partitioned table a PostgreSQL partition belongs to.
    pub const PARTITION_OF: &str = "PartitionOf";
    /// A sequence's owning column (PostgreSQL `OWNED BY`): dropped with it.
    pub const OWNED_BY: &str = "OwnedBy";
    /// Function body element.
    pub const FUNCTION_BODY: &str = "FunctionBody";
}

/// Property names of model elements, as DacFx spells them in model.xml.
pub mod prop {
    /// `StatisticsTarget`: a PostgreSQL column's `SET STATISTICS` value, when not the default.
    pub const STATISTICS_TARGET: &str = "StatisticsTarget";
    /// `StatisticsTargets`: a PostgreSQL index's `n=v` pairs (`ALTER INDEX ... ALTER COLUMN n
    /// SET STATISTICS v`), in column order.
    pub const STATISTICS_TARGETS: &str = "StatisticsTargets";
    /// `Arguments`.
    pub const ARGUMENTS: &str = "Arguments";
    /// `ArrayDimensions`.
    pub const ARRAY_DIMENSIONS: &str = "ArrayDimensions";
    /// `Attributes`.
    pub const ATTRIBUTES: &str = "Attributes";
    /// `AuthenticationType`.
    pub const AUTHENTICATION_TYPE: &str = "AuthenticationType";
    /// `Authorization`.
    pub const AUTHORIZATION: &str = "Authorization";
    /// `BodyScript`.
    pub const BODY_SCRIPT: &str = "BodyScript";
    /// `BucketCount`.
    pub const BUCKET_COUNT: &str = "BucketCount";
    /// `CacheSize`.
    pub const CACHE_SIZE: &str = "CacheSize";
    /// `CheckExpressionScript`.
    pub const CHECK_EXPRESSION_SCRIPT: &str = "CheckExpressionScript";
    /// `Collation`.
    pub const COLLATION: &str = "Collation";
    /// `ColumnNames`.
    pub const COLUMN_NAMES: &str = "ColumnNames";
    /// `CompatibilityMode`.
    pub const COMPATIBILITY_MODE: &str = "CompatibilityMode";
    /// `CompressionLevel`.
    pub const COMPRESSION_LEVEL: &str = "CompressionLevel";
    /// `ContainsFileStream`.
    pub const CONTAINS_FILE_STREAM: &str = "ContainsFileStream";
    /// `ContainsMemoryOptimizedData`.
    pub const CONTAINS_MEMORY_OPTIMIZED_DATA: &str = "ContainsMemoryOptimizedData";
    /// `DefaultExpressionScript`.
    pub const DEFAULT_EXPRESSION_SCRIPT: &str = "DefaultExpressionScript";
    /// `DefaultFullTextLanguage`.
    pub const DEFAULT_FULL_TEXT_LANGUAGE: &str = "DefaultFullTextLanguage";
    /// `DefaultLanguage`.
    pub const DEFAULT_LANGUAGE: &str = "DefaultLanguage";
    /// `Definition`.
    pub const DEFINITION: &str = "Definition";
    /// `DefinitionScript`.
    pub const DEFINITION_SCRIPT: &str = "DefinitionScript";
    /// `DisallowPageLocks`.
    pub const DISALLOW_PAGE_LOCKS: &str = "DisallowPageLocks";
    /// `DisallowRowLocks`.
    pub const DISALLOW_ROW_LOCKS: &str = "DisallowRowLocks";
    /// `DoIgnoreDuplicateKey`.
    pub const DO_IGNORE_DUPLICATE_KEY: &str = "DoIgnoreDuplicateKey";
    /// `DoPadIndex`.
    pub const DO_PAD_INDEX: &str = "DoPadIndex";
    /// `Durability`.
    pub const DURABILITY: &str = "Durability";
    /// `ElementName`.
    pub const ELEMENT_NAME: &str = "ElementName";
    /// `ElementType`.
    pub const ELEMENT_TYPE: &str = "ElementType";
    /// `ExpressionScript`.
    pub const EXPRESSION_SCRIPT: &str = "ExpressionScript";
    /// SQLite's conflict clause of a primary key or unique constraint (`ON CONFLICT REPLACE`):
    /// `ROLLBACK`, `ABORT`, `FAIL`, `IGNORE` or `REPLACE`.
    pub const ON_CONFLICT: &str = "OnConflict";
    /// SQLite's conflict clause of a column's NOT NULL (`NOT NULL ON CONFLICT IGNORE`).
    pub const NOT_NULL_ON_CONFLICT: &str = "NotNullOnConflict";
    /// `FillFactor`.
    pub const FILL_FACTOR: &str = "FillFactor";
    /// `FilterPredicate`.
    pub const FILTER_PREDICATE: &str = "FilterPredicate";
    /// `ForObjectScript`.
    pub const FOR_OBJECT_SCRIPT: &str = "ForObjectScript";
    /// `GeneratedAlwaysType`.
    pub const GENERATED_ALWAYS_TYPE: &str = "GeneratedAlwaysType";
    /// `Grantee`.
    pub const GRANTEE: &str = "Grantee";
    /// `IdentityGeneration`.
    pub const IDENTITY_GENERATION: &str = "IdentityGeneration";
    /// `IdentityIncrement`.
    pub const IDENTITY_INCREMENT: &str = "IdentityIncrement";
    /// `IdentityIsNotForReplication`.
    pub const IDENTITY_IS_NOT_FOR_REPLICATION: &str = "IdentityIsNotForReplication";
    /// `IdentitySeed`.
    pub const IDENTITY_SEED: &str = "IdentitySeed";
    /// `IdentityOptions`: a PostgreSQL identity's sequence options that differ from the
    /// defaults (`MINVALUE m MAXVALUE n CACHE c CYCLE`), in that order.
    pub const IDENTITY_OPTIONS: &str = "IdentityOptions";
    /// `Increment`.
    pub const INCREMENT: &str = "Increment";
    /// `IndexMethod`.
    pub const INDEX_METHOD: &str = "IndexMethod";
    /// `Inherits`.
    pub const INHERITS: &str = "Inherits";
    /// `IsAllowSnapshotIsolation`.
    pub const IS_ALLOW_SNAPSHOT_ISOLATION: &str = "IsAllowSnapshotIsolation";
    /// `IsAnsiNullsOn`.
    pub const IS_ANSI_NULLS_ON: &str = "IsAnsiNullsOn";
    /// `IsAscending`.
    pub const IS_ASCENDING: &str = "IsAscending";
    /// `IsAutoIncrement`.
    pub const IS_AUTO_INCREMENT: &str = "IsAutoIncrement";
    /// `IsCaller`.
    pub const IS_CALLER: &str = "IsCaller";
    /// `IsClustered`.
    pub const IS_CLUSTERED: &str = "IsClustered";
    /// `IsCursorDefaultScopeGlobal`.
    pub const IS_CURSOR_DEFAULT_SCOPE_GLOBAL: &str = "IsCursorDefaultScopeGlobal";
    /// `IsCycling`.
    pub const IS_CYCLING: &str = "IsCycling";
    /// `IsDeferrable`.
    pub const IS_DEFERRABLE: &str = "IsDeferrable";
    /// `IsDeleteTrigger`.
    pub const IS_DELETE_TRIGGER: &str = "IsDeleteTrigger";
    /// `IsFileStream`.
    pub const IS_FILE_STREAM: &str = "IsFileStream";
    /// `IsFullTextEnabled`.
    pub const IS_FULL_TEXT_ENABLED: &str = "IsFullTextEnabled";
    /// `IsGenerated`.
    pub const IS_GENERATED: &str = "IsGenerated";
    /// `IsHash`.
    pub const IS_HASH: &str = "IsHash";
    /// `IsHidden`.
    pub const IS_HIDDEN: &str = "IsHidden";
    /// `IsIdentity`.
    pub const IS_IDENTITY: &str = "IsIdentity";
    /// `IsIncremental`.
    pub const IS_INCREMENTAL: &str = "IsIncremental";
    /// `IsInitiallyDeferred`.
    pub const IS_INITIALLY_DEFERRED: &str = "IsInitiallyDeferred";
    /// `IsInsertTrigger`.
    pub const IS_INSERT_TRIGGER: &str = "IsInsertTrigger";
    /// `IsMaterialized`.
    pub const IS_MATERIALIZED: &str = "IsMaterialized";
    /// `IsMax`.
    pub const IS_MAX: &str = "IsMax";
    /// `IsMemoryOptimized`.
    pub const IS_MEMORY_OPTIMIZED: &str = "IsMemoryOptimized";
    /// `IsMemoryOptimizedElevatedToSnapshot`.
    pub const IS_MEMORY_OPTIMIZED_ELEVATED_TO_SNAPSHOT: &str =
        "IsMemoryOptimizedElevatedToSnapshot";
    /// `IsNoInherit`.
    pub const IS_NO_INHERIT: &str = "IsNoInherit";
    /// `IsNotEnforced`.
    pub const IS_NOT_ENFORCED: &str = "IsNotEnforced";
    /// `IsNotForReplication`.
    pub const IS_NOT_FOR_REPLICATION: &str = "IsNotForReplication";
    /// `IsNotValid`.
    pub const IS_NOT_VALID: &str = "IsNotValid";
    /// `IsNullable`.
    pub const IS_NULLABLE: &str = "IsNullable";
    /// `IsOutput`.
    pub const IS_OUTPUT: &str = "IsOutput";
    /// `IsOwner`.
    pub const IS_OWNER: &str = "IsOwner";
    /// `IsPersisted`.
    pub const IS_PERSISTED: &str = "IsPersisted";
    /// `IsPersistedNullable`.
    pub const IS_PERSISTED_NULLABLE: &str = "IsPersistedNullable";
    /// `IsReadCommittedSnapshot`.
    pub const IS_READ_COMMITTED_SNAPSHOT: &str = "IsReadCommittedSnapshot";
    /// `IsReadOnly`.
    pub const IS_READ_ONLY: &str = "IsReadOnly";
    /// `IsRowGuidColumn`.
    pub const IS_ROW_GUID_COLUMN: &str = "IsRowGuidColumn";
    /// `IsRowLevelSecurityEnabled`.
    pub const IS_ROW_LEVEL_SECURITY_ENABLED: &str = "IsRowLevelSecurityEnabled";
    /// `IsSchemaBound`.
    pub const IS_SCHEMA_BOUND: &str = "IsSchemaBound";
    /// `IsSparse`.
    pub const IS_SPARSE: &str = "IsSparse";
    /// `IsStatisticsNoRecompute`.
    pub const IS_STATISTICS_NO_RECOMPUTE: &str = "IsStatisticsNoRecompute";
    /// `IsStrict`.
    pub const IS_STRICT: &str = "IsStrict";
    /// `IsTemporary`.
    pub const IS_TEMPORARY: &str = "IsTemporary";
    /// `IsTornPageProtectionOn`.
    pub const IS_TORN_PAGE_PROTECTION_ON: &str = "IsTornPageProtectionOn";
    /// `IsUnique`.
    pub const IS_UNIQUE: &str = "IsUnique";
    /// `IsUnlogged`.
    pub const IS_UNLOGGED: &str = "IsUnlogged";
    /// `IsUpdateTrigger`.
    pub const IS_UPDATE_TRIGGER: &str = "IsUpdateTrigger";
    /// `IsWithCheckOption`.
    pub const IS_WITH_CHECK_OPTION: &str = "IsWithCheckOption";
    /// `IsWithoutLogin`.
    pub const IS_WITHOUT_LOGIN: &str = "IsWithoutLogin";
    /// `IsWithoutRowId`.
    pub const IS_WITHOUT_ROW_ID: &str = "IsWithoutRowId";
    /// `IsXmlDocument`.
    pub const IS_XML_DOCUMENT: &str = "IsXmlDocument";
    /// `Language`.
    pub const LANGUAGE: &str = "Language";
    /// `Length`.
    pub const LENGTH: &str = "Length";
    /// `MaskingFunction`.
    pub const MASKING_FUNCTION: &str = "MaskingFunction";
    /// `MatchKind`.
    pub const MATCH_KIND: &str = "MatchKind";
    /// `MinValue`.
    pub const MIN_VALUE: &str = "MinValue";
    /// `Mode`.
    pub const MODE: &str = "Mode";
    /// `NewName`.
    pub const NEW_NAME: &str = "NewName";
    /// `NewSchema`.
    pub const NEW_SCHEMA: &str = "NewSchema";
    /// `NullsFirst`.
    pub const NULLS_FIRST: &str = "NullsFirst";
    /// `NullsNotDistinct`.
    pub const NULLS_NOT_DISTINCT: &str = "NullsNotDistinct";
    /// `OnDeleteAction`.
    pub const ON_DELETE_ACTION: &str = "OnDeleteAction";
    /// `OnUpdateAction`.
    pub const ON_UPDATE_ACTION: &str = "OnUpdateAction";
    /// `OperatorClass`.
    pub const OPERATOR_CLASS: &str = "OperatorClass";
    /// `Options`.
    pub const OPTIONS: &str = "Options";
    /// `PageVerifyMode`.
    pub const PAGE_VERIFY_MODE: &str = "PageVerifyMode";
    /// `ParentElementName`.
    pub const PARENT_ELEMENT_NAME: &str = "ParentElementName";
    /// `PartitionBound`.
    pub const PARTITION_BOUND: &str = "PartitionBound";
    /// `PartitionBy`.
    pub const PARTITION_BY: &str = "PartitionBy";
    /// `PartitionNumber`.
    pub const PARTITION_NUMBER: &str = "PartitionNumber";
    /// `Permission`.
    pub const PERMISSION: &str = "Permission";
    /// `Precision`.
    pub const PRECISION: &str = "Precision";
    /// `QueryScript`.
    pub const QUERY_SCRIPT: &str = "QueryScript";
    /// `QueryStoreCaptureMode`.
    pub const QUERY_STORE_CAPTURE_MODE: &str = "QueryStoreCaptureMode";
    /// `QueryStoreDesiredState`.
    pub const QUERY_STORE_DESIRED_STATE: &str = "QueryStoreDesiredState";
    /// `RecoveryMode`.
    pub const RECOVERY_MODE: &str = "RecoveryMode";
    /// `RetentionUnit`.
    pub const RETENTION_UNIT: &str = "RetentionUnit";
    /// `ReturnTableVariable`.
    pub const RETURN_TABLE_VARIABLE: &str = "ReturnTableVariable";
    /// `ReturnType`.
    pub const RETURN_TYPE: &str = "ReturnType";
    /// `Scale`.
    pub const SCALE: &str = "Scale";
    /// `ServiceBrokerOption`.
    pub const SERVICE_BROKER_OPTION: &str = "ServiceBrokerOption";
    /// `SortOperator`.
    pub const SORT_OPERATOR: &str = "SortOperator";
    /// `SqlTriggerType`.
    pub const SQL_TRIGGER_TYPE: &str = "SqlTriggerType";
    /// `StartValue`.
    pub const START_VALUE: &str = "StartValue";
    /// `TriggerTiming`.
    pub const TRIGGER_TIMING: &str = "TriggerTiming";
    /// `Value`.
    pub const VALUE: &str = "Value";
    /// `WithGrantOption`.
    pub const WITH_GRANT_OPTION: &str = "WithGrantOption";
    /// `WithNoData`.
    pub const WITH_NO_DATA: &str = "WithNoData";
    /// `WithOptions`.
    pub const WITH_OPTIONS: &str = "WithOptions";
}
