-- Enums, composite types, domains and range types: (schema, name, typtype, body, not null,
-- default, collation, domain constraints).
SELECT n.nspname, t.typname, t.typtype::text,
       CASE t.typtype
         WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                          FROM pg_enum e WHERE e.enumtypid = t.oid)
         WHEN 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' '
                                 || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                          FROM pg_attribute a
                         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
         WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
         WHEN 'r' THEN (SELECT 'SUBTYPE = ' || format_type(r.rngsubtype, NULL)
                          FROM pg_range r WHERE r.rngtypid = t.oid)
       END,
       t.typnotnull::text, t.typdefault,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> 0
                 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
            THEN (SELECT quote_ident(co.collname) FROM pg_collation co WHERE co.oid = t.typcollation)
       END,
       (SELECT string_agg('CONSTRAINT ' || quote_ident(con.conname) || ' '
                          || pg_get_constraintdef(con.oid), ' ' ORDER BY con.conname)
          FROM pg_constraint con WHERE con.contypid = t.oid)
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('e', 'c', 'd', 'r') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND (t.typtype <> 'c' OR EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind = 'c'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                   AND d.objid = t.oid AND d.deptype = 'e')
 ORDER BY n.nspname, t.typname
