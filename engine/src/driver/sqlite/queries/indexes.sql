-- Indexes of every ordinary table with their key columns (origin c: CREATE INDEX, u: UNIQUE
-- constraint, pk: PRIMARY KEY); expression columns have no name.
SELECT s.name AS table_name, il.name AS index_name, il."unique", il.origin, il.partial,
       ix.seqno, ix.name AS column_name, ix."desc"
FROM main.sqlite_schema AS s
JOIN pragma_index_list(s.name, 'main') AS il
JOIN pragma_index_xinfo(il.name, 'main') AS ix
WHERE s.type = 'table'
  AND s.sql NOT LIKE 'CREATE VIRTUAL%'
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name NOT LIKE '\_dac\_%' ESCAPE '\'
  AND ix.key = 1
ORDER BY s.name, il.name, ix.seqno
