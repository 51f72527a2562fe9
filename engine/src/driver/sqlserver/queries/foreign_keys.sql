-- FOREIGN KEY constraints with their column pairs (one row per pair, in constraint order) and
-- the referential actions as DacFx numbers (0 no action, 1 cascade, 2 set null, 3 set default).
SELECT fk.object_id AS constraint_id, fk.parent_object_id AS object_id, fk.name AS constraint_name,
       fk.is_system_named, fk.is_disabled, fk.is_not_trusted, fk.is_not_for_replication,
       fk.delete_referential_action, fk.update_referential_action,
       SCHEMA_NAME(rt.schema_id) AS referenced_schema, rt.name AS referenced_table,
       fkc.constraint_column_id, pc.name AS column_name, rc.name AS referenced_column
  FROM sys.foreign_keys AS fk
  JOIN sys.tables AS rt ON rt.object_id = fk.referenced_object_id
  JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
  JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
  JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
 WHERE fk.is_ms_shipped = 0
 ORDER BY fk.parent_object_id, fk.name, fkc.constraint_column_id;
