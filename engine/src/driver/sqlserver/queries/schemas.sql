-- User schemas (not dbo, guest, INFORMATION_SCHEMA, sys or the fixed-role schemas) and their
-- owners; dac's own fallback registry schema [_dac] is left out.
SELECT s.name AS schema_name, p.name AS owner_name
  FROM sys.schemas AS s
  JOIN sys.database_principals AS p ON p.principal_id = s.principal_id
 WHERE s.schema_id BETWEEN 5 AND 16383 AND s.name <> N'_dac'
 ORDER BY s.name;
