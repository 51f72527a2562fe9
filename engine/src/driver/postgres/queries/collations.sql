-- Collations made by users: (schema, name, provider, lc_collate, lc_ctype, icu locale,
-- deterministic).
SELECT n.nspname, c.collname, c.collprovider::text, c.collcollate, c.collctype,
       coalesce(to_jsonb(c) ->> 'colliculocale', to_jsonb(c) ->> 'colllocale'),
       c.collisdeterministic::text
  FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_collation'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2
