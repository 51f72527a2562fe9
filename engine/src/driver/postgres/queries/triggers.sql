-- (Not of tables an extension owns: pg_depend deptype e.) Triggers defined on tables and views: (schema, table, name, definition, tgtype).
SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgtype::text
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND coalesce(to_jsonb(t) ->> 'tgparentid', '0') = '0' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname, t.tgname
