-- (Not of tables an extension owns: pg_depend deptype e.) Table constraints (primary key, unique, foreign key, check, exclude) declared on the table
-- itself: (schema, table, name, type, deferrable, deferred, validated, no inherit, columns,
-- foreign schema, foreign table, foreign columns, on update, on delete, match, check
-- expression, definition, nulls not distinct, included columns). Each value is computed only for
-- the kinds that use it (the definition for EXCLUDE alone): pg_get_constraintdef and the name
-- look-ups are most of this query's cost on thousands of constraints.
SELECT n.nspname, c.relname, con.conname, con.contype::text,
       con.condeferrable::text, con.condeferred::text, con.convalidated::text,
       con.connoinherit::text,
       CASE WHEN con.contype IN ('p', 'u', 'f') THEN
       (SELECT string_agg(a.attname, chr(31) ORDER BY k.o)
          FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) END,
       fn.nspname, fc.relname,
       CASE WHEN con.contype = 'f' THEN
       (SELECT string_agg(a.attname, chr(31) ORDER BY k.o)
          FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) END,
       con.confupdtype::text, con.confdeltype::text, con.confmatchtype::text,
       CASE WHEN con.contype = 'c' THEN pg_get_expr(con.conbin, con.conrelid) END,
       CASE WHEN con.contype = 'x' THEN pg_get_constraintdef(con.oid) END,
       to_jsonb(i) ->> 'indnullsnotdistinct',
       (SELECT string_agg(a.attname, chr(31) ORDER BY k.o)
          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
         WHERE k.o > i.indnkeyatts)
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class fc ON fc.oid = con.confrelid
  LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
  LEFT JOIN pg_index i ON i.indexrelid = con.conindid AND con.contype IN ('p', 'u')
 WHERE con.contype IN ('p', 'u', 'f', 'c', 'x') AND con.conparentid = 0 AND con.conislocal
   AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname, con.conname
