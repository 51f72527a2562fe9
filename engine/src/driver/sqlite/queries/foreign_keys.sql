-- Foreign keys of every ordinary table, one row per column pair.
SELECT s.name AS table_name, f.id, f.seq, f."table" AS foreign_table, f."from", f."to",
       f.on_update, f.on_delete
FROM main.sqlite_schema AS s
JOIN pragma_foreign_key_list(s.name, 'main') AS f
WHERE s.type = 'table'
  AND s.sql NOT LIKE 'CREATE VIRTUAL%'
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name NOT LIKE '\_dac\_%' ESCAPE '\'
ORDER BY s.name, f.id, f.seq
