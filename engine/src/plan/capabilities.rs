//! [`Capabilities`]: what a platform can do without rebuilding a table, as plain data. Planning
//! reads it to choose between ALTER and a rebuild; each dialect states its own.

/// What a platform can do without rebuilding a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// DDL runs inside a transaction and rolls back with it.
    pub transactional_ddl: bool,
    /// `ALTER TABLE ... ALTER COLUMN` can change a column's type.
    pub alter_column_type: bool,
    /// `ALTER TABLE ... ALTER COLUMN` can change nullability.
    pub alter_column_nullability: bool,
    /// Constraints (PK, UNIQUE, CHECK, FK, DEFAULT) can be added to or dropped from an existing table.
    pub alter_constraints: bool,
    /// `ALTER TABLE ... DROP COLUMN` exists.
    pub drop_column: bool,
    /// Column order is significant and kept (otherwise new columns are appended and order is
    /// not compared).
    pub column_order_significant: bool,
    /// Views and routines can be replaced in place (`CREATE OR ALTER`/`CREATE OR REPLACE`),
    /// keeping permissions.
    pub alter_routine_in_place: bool,
    /// Types (enums, domains, composites) and sequences can be changed in place, keeping the
    /// columns and defaults that use them (PostgreSQL).
    pub alter_types_in_place: bool,
    /// Foreign keys must be declared inside CREATE TABLE, so a table rebuild runs with foreign
    /// keys switched off around the transaction and checked before the commit (SQLite).
    pub foreign_keys_inline_only: bool,
    /// Scripts run through a SQLCMD client, which substitutes `$(Var)` from `:setvar` lines.
    pub sqlcmd_variables: bool,
    /// A foreign key can be added without checking the rows already there (`IsNotValid`) and
    /// checked later by [`crate::dialect::Dialect::validate_constraint`] under a lock that lets
    /// writers in.
    pub validate_constraints_later: bool,
    /// Views, SQL functions, triggers and policies hold the columns and types they use: a
    /// column whose type changes or that is dropped, or a type that is replaced, needs them
    /// dropped before and re-created after (PostgreSQL).
    pub dependents_hold_columns: bool,
    /// A column's identity can be added, dropped and changed in place (PostgreSQL `ALTER
    /// COLUMN ... ADD GENERATED / SET GENERATED / SET sequence options / DROP IDENTITY`).
    pub alter_identity_in_place: bool,
    /// Changing a column's type rewrites the table unless the new type only widens a
    /// variable-length string or a numeric (PostgreSQL, SQL Server).
    pub type_change_rewrites_table: bool,
    /// How to build an index without blocking writes, where the platform has a way (said in
    /// the hazard of an index built on a table that is there).
    pub online_index_build: Option<&'static str>,
}

impl Capabilities {
    /// PostgreSQL: transactional DDL, ALTER for nearly everything, types changed in place,
    /// constraints checked later, dependents that hold columns.
    pub const POSTGRES: Capabilities = Capabilities {
        transactional_ddl: true,
        alter_column_type: true,
        alter_column_nullability: true,
        alter_constraints: true,
        drop_column: true,
        column_order_significant: false,
        alter_routine_in_place: true,
        alter_types_in_place: true,
        foreign_keys_inline_only: false,
        sqlcmd_variables: false,
        validate_constraints_later: true,
        dependents_hold_columns: true,
        alter_identity_in_place: true,
        type_change_rewrites_table: true,
        online_index_build: Some(
            "CREATE INDEX CONCURRENTLY, run outside the upgrade's transaction,",
        ),
    };

    /// SQLite: a rebuild for most table changes, foreign keys only inside CREATE TABLE.
    pub const SQLITE: Capabilities = Capabilities {
        transactional_ddl: true,
        alter_column_type: false,
        alter_column_nullability: false,
        alter_constraints: false,
        drop_column: true,
        column_order_significant: false,
        alter_routine_in_place: false,
        alter_types_in_place: false,
        foreign_keys_inline_only: true,
        sqlcmd_variables: false,
        validate_constraints_later: false,
        dependents_hold_columns: false,
        alter_identity_in_place: false,
        type_change_rewrites_table: false,
        online_index_build: None,
    };

    /// SQL Server: ALTER for columns and constraints, column order kept, SQLCMD variables.
    pub const SQL_SERVER: Capabilities = Capabilities {
        transactional_ddl: true,
        alter_column_type: true,
        alter_column_nullability: true,
        alter_constraints: true,
        drop_column: true,
        column_order_significant: true,
        alter_routine_in_place: true,
        alter_types_in_place: false,
        foreign_keys_inline_only: false,
        sqlcmd_variables: true,
        validate_constraints_later: false,
        dependents_hold_columns: false,
        alter_identity_in_place: false,
        type_change_rewrites_table: true,
        online_index_build: Some("WITH (ONLINE = ON), in the editions that have it,"),
    };
}
