-- User tables.
SELECT t.object_id, SCHEMA_NAME(t.schema_id) AS schema_name, t.name AS table_name,
       t.temporal_type, t.is_memory_optimized
  FROM sys.tables AS t
 WHERE t.is_ms_shipped = 0 AND SCHEMA_NAME(t.schema_id) <> N'_dac'
 ORDER BY schema_name, t.name;
