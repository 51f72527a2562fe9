-- Views, procedures, functions and DML triggers with their definitions as written
-- (sys.sql_modules keeps the CREATE statement text); triggers name their parent table.
SELECT o.object_id, SCHEMA_NAME(o.schema_id) AS schema_name, o.name AS object_name,
       o.type AS object_type, m.definition, m.uses_ansi_nulls, m.uses_quoted_identifier,
       tr.is_disabled AS trigger_is_disabled
  FROM sys.objects AS o
  JOIN sys.sql_modules AS m ON m.object_id = o.object_id
  LEFT JOIN sys.triggers AS tr ON tr.object_id = o.object_id
 WHERE o.is_ms_shipped = 0
   AND o.type IN ('V', 'P', 'FN', 'IF', 'TF', 'TR')
   AND (o.type <> 'TR' OR tr.parent_class = 1)
   AND SCHEMA_NAME(o.schema_id) <> N'_dac'
 ORDER BY o.object_id;
