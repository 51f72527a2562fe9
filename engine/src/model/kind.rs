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
    /// Function body element.
    pub const FUNCTION_BODY: &str = "FunctionBody";
}
