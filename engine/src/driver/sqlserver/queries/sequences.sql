-- Sequences; sql_variant values converted to text.
SELECT SCHEMA_NAME(s.schema_id) AS schema_name, s.name AS sequence_name,
       CASE WHEN ty.is_user_defined = 1 THEN SCHEMA_NAME(ty.schema_id) END AS type_schema,
       ty.name AS type_name, s.precision, s.scale,
       CONVERT(nvarchar(40), s.start_value) AS start_value,
       CONVERT(nvarchar(40), s.increment) AS increment,
       CONVERT(nvarchar(40), s.minimum_value) AS minimum_value,
       CONVERT(nvarchar(40), s.maximum_value) AS maximum_value,
       s.is_cycling, s.is_cached, s.cache_size
  FROM sys.sequences AS s
  JOIN sys.types AS ty ON ty.user_type_id = s.user_type_id
 ORDER BY schema_name, s.name;
