-- Functions and procedures: (schema, name, kind, definition, argument types, result, language,
-- source, returns set).
SELECT n.nspname, p.proname, p.prokind::text, pg_get_functiondef(p.oid),
       oidvectortypes(p.proargtypes), pg_get_function_result(p.oid), l.lanname, p.prosrc,
       p.proretset::text
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE p.prokind IN ('f', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                   AND d.objid = p.oid AND d.deptype = 'e')
 ORDER BY n.nspname, p.proname, 5
