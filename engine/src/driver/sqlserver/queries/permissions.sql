-- Permissions granted or denied to user principals and public (not CONNECT, which CREATE USER
-- implies, and not public's own defaults); the database, schemas and objects are modelled, other
-- securable classes are reported.
SELECT dp.class, dp.class_desc, dp.state, dp.permission_name, g.name AS grantee_name,
       CASE dp.class WHEN 1 THEN SCHEMA_NAME(o.schema_id) WHEN 3 THEN s.name END AS securable_schema,
       CASE dp.class WHEN 1 THEN o.name END AS securable_name,
       CASE WHEN dp.class = 1 AND dp.minor_id > 0 THEN c.name END AS column_name
  FROM sys.database_permissions AS dp
  JOIN sys.database_principals AS g ON g.principal_id = dp.grantee_principal_id
  LEFT JOIN sys.objects AS o ON dp.class = 1 AND o.object_id = dp.major_id
  LEFT JOIN sys.columns AS c ON dp.class = 1 AND c.object_id = dp.major_id AND c.column_id = dp.minor_id
  LEFT JOIN sys.schemas AS s ON dp.class = 3 AND s.schema_id = dp.major_id
 WHERE (g.principal_id BETWEEN 5 AND 16383 OR g.name = N'public')
   AND (dp.class <> 1 OR o.is_ms_shipped = 0)
   AND NOT (dp.class = 0 AND dp.permission_name = N'CONNECT')
   AND NOT (g.name = N'public' AND dp.class NOT IN (1, 3))
 ORDER BY grantee_name, dp.class, securable_schema, securable_name, dp.permission_name;
