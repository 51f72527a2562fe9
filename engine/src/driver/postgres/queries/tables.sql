-- Tables and partitioned tables: (oid, schema, name, relkind, persistence, options, partition key,
-- partition bound, partition parent "schema<RS>name", inherited parents "schema<RS>name<US>...",
-- row level security).
SELECT c.oid::text, n.nspname, c.relname, c.relkind::text, c.relpersistence::text,
       array_to_string(c.reloptions, ', '),
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       (SELECT pn.nspname || chr(30) || p.relname
          FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = p.relnamespace
         WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1),
       (SELECT string_agg(pn.nspname || chr(30) || p.relname, chr(31) ORDER BY i.inhseqno)
          FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
          JOIN pg_namespace pn ON pn.oid = p.relnamespace
         WHERE i.inhrelid = c.oid AND NOT c.relispartition),
       c.relrowsecurity::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND c.relname NOT LIKE '\_dac\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname
