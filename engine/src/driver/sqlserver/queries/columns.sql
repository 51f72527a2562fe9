-- Columns of user tables and table types in column order, with their type (schema-qualified for
-- user-defined types), identity, computed definition, default constraint and a collation that
-- differs from the database's.
SELECT c.object_id, c.column_id, c.name AS column_name,
       CASE WHEN ty.is_user_defined = 1 THEN SCHEMA_NAME(ty.schema_id) END AS type_schema,
       ty.name AS type_name, c.max_length, c.precision, c.scale, c.is_nullable,
       CASE WHEN c.collation_name <> CONVERT(sysname, DATABASEPROPERTYEX(DB_NAME(), 'Collation'))
            THEN c.collation_name END AS collation_name,
       c.is_identity,
       CONVERT(nvarchar(40), ic.seed_value) AS identity_seed,
       CONVERT(nvarchar(40), ic.increment_value) AS identity_increment,
       c.is_computed, cc.definition AS computed_definition, cc.is_persisted,
       c.is_rowguidcol, c.is_sparse,
       dc.name AS default_name, dc.definition AS default_definition,
       dc.is_system_named AS default_is_system_named
  FROM sys.columns AS c
  JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
  LEFT JOIN sys.identity_columns AS ic ON ic.object_id = c.object_id AND ic.column_id = c.column_id
  LEFT JOIN sys.computed_columns AS cc ON cc.object_id = c.object_id AND cc.column_id = c.column_id
  LEFT JOIN sys.default_constraints AS dc ON dc.object_id = c.default_object_id
 WHERE c.object_id IN (SELECT t.object_id FROM sys.tables AS t WHERE t.is_ms_shipped = 0
                       UNION ALL
                       SELECT tt.type_table_object_id FROM sys.table_types AS tt
                        WHERE tt.is_user_defined = 1)
 ORDER BY c.object_id, c.column_id;
