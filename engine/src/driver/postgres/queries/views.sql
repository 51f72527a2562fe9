-- Views and materialized views: (schema, name, relkind, query, populated, options).
SELECT n.nspname, c.relname, c.relkind::text, pg_get_viewdef(c.oid), c.relispopulated::text,
       array_to_string(c.reloptions, ', ')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname
