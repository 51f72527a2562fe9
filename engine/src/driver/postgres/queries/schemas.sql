-- Schemas other than public and the system's: (name).
SELECT n.nspname FROM pg_namespace n
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'public'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                   AND d.objid = n.oid AND d.deptype = 'e')
 ORDER BY 1
