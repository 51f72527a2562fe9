-- Columns of every ordinary table (hidden = 2 or 3: generated columns), in declaration order.
SELECT s.name AS table_name, c.cid, c.name, c.type, c."notnull", c.pk, c.hidden
FROM main.sqlite_schema AS s
JOIN pragma_table_xinfo(s.name, 'main') AS c
WHERE s.type = 'table'
  AND s.sql NOT LIKE 'CREATE VIRTUAL%'
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name NOT LIKE '\_dac\_%' ESCAPE '\'
ORDER BY s.name, c.cid
