-- User-defined alias types and table types (table types' columns and keys come from the
-- column and index queries through type_table_object_id).
SELECT SCHEMA_NAME(t.schema_id) AS schema_name, t.name AS type_name, t.is_table_type,
       bt.name AS base_type_name, t.max_length, t.precision, t.scale, t.is_nullable,
       tt.type_table_object_id
  FROM sys.types AS t
  LEFT JOIN sys.types AS bt ON bt.user_type_id = t.system_type_id
  LEFT JOIN sys.table_types AS tt ON tt.user_type_id = t.user_type_id
 WHERE t.is_user_defined = 1 AND t.is_assembly_type = 0
 ORDER BY schema_name, t.name;
