-- Comments: (class, schema or NULL, object name, column or NULL, text); not those of the
-- objects an extension owns (the extension makes them).
SELECT CASE WHEN d.objsubid <> 0 THEN 'SqlColumn'
            WHEN c.relkind IN ('r', 'p') THEN 'SqlTable'
            WHEN c.relkind IN ('v', 'm') THEN 'SqlView'
            WHEN c.relkind = 'i' THEN 'SqlIndex'
            WHEN c.relkind = 'S' THEN 'SqlSequence' END,
       n.nspname, c.relname, a.attname, d.description
  FROM pg_description d
  JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                   AND e.objid = c.oid AND e.deptype = 'e')
UNION ALL
SELECT 'SqlSubroutine', n.nspname, p.proname, NULL, d.description
  FROM pg_description d
  JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
                   AND e.objid = p.oid AND e.deptype = 'e')
UNION ALL
SELECT 'SqlType', n.nspname, t.typname, NULL, d.description
  FROM pg_description d
  JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND t.oid = d.objoid
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass
                   AND e.objid = t.oid AND e.deptype = 'e')
UNION ALL
SELECT 'SqlSchema', NULL, n.nspname, NULL, d.description
  FROM pg_description d
  JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND n.oid = d.objoid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT (n.nspname = 'public' AND d.description = 'standard public schema')
ORDER BY 1, 2, 3, 4
