-- (Not of tables an extension owns: pg_depend deptype e.) Indexes that do not back a constraint and are not partitions of a parent's index:
-- (oid, schema, table, name, unique, method, predicate, nulls not distinct, options, included).
-- NULLS NOT DISTINCT (read through to_jsonb, a column of 15+ only, which costs per row) is read
-- for unique indexes alone, the only ones it applies to.
SELECT i.indexrelid::text, n.nspname, tc.relname, ic.relname, i.indisunique::text, am.amname,
       pg_get_expr(i.indpred, i.indrelid),
       CASE WHEN i.indisunique THEN to_jsonb(i) ->> 'indnullsnotdistinct' END,
       array_to_string(ic.reloptions, ', '),
       (SELECT string_agg(a.attname, chr(31) ORDER BY k.o)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
         WHERE k.o > i.indnkeyatts)
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class tc ON tc.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = tc.relnamespace
  JOIN pg_am am ON am.oid = ic.relam
 WHERE tc.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                   AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))
   AND NOT EXISTS (SELECT 1 FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid)
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = tc.oid AND d.deptype = 'e')
 ORDER BY n.nspname, tc.relname, ic.relname
