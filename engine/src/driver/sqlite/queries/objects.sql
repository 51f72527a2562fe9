-- Schema objects of the main database with their stored CREATE text: tables first (in creation
-- order), then indexes, views and triggers. Left out: auto-indexes (no text), SQLite's own
-- objects (sqlite_%), virtual tables' shadow tables, and dac's own objects (_dac_%).
SELECT s.type, s.name, s.tbl_name, s.sql
FROM main.sqlite_schema AS s
LEFT JOIN pragma_table_list AS tl ON tl.schema = 'main' AND tl.name = s.name
WHERE s.sql IS NOT NULL
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name NOT LIKE '\_dac\_%' ESCAPE '\'
  AND coalesce(tl.type, '') <> 'shadow'
ORDER BY CASE s.type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, s.rowid
