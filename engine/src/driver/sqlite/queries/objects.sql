-- Schema objects of the main database with their stored CREATE text: tables first (in creation
-- order), then indexes, views and triggers. Left out: auto-indexes (no text), SQLite's own
-- objects (sqlite_%), virtual tables' shadow tables, and dac's own objects (_dac_%).
-- The shadow tables are one uncorrelated subquery, listed once: a join to pragma_table_list
-- re-ran the pragma over every table for each object, quadratic in the number of tables.
SELECT s.type, s.name, s.tbl_name, s.sql
FROM main.sqlite_schema AS s
WHERE s.sql IS NOT NULL
  AND s.name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND s.name NOT LIKE '\_dac\_%' ESCAPE '\'
  AND s.name NOT IN (
      SELECT tl.name FROM pragma_table_list AS tl WHERE tl.schema = 'main' AND tl.type = 'shadow'
  )
ORDER BY CASE s.type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, s.rowid
