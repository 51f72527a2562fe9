-- Sequences other than identity columns' own: (schema, name, type, start, increment, min, max,
-- cache, cycle, owner "schema<RS>table<RS>column").
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart::text,
       s.seqincrement::text, s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle::text,
       (SELECT tn.nspname || chr(30) || tc.relname || chr(30) || a.attname
          FROM pg_depend d
          JOIN pg_class tc ON tc.oid = d.refobjid
          JOIN pg_namespace tn ON tn.oid = tc.relnamespace
          JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
           AND d.refclassid = 'pg_class'::regclass LIMIT 1)
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype IN ('i', 'e'))
 ORDER BY n.nspname, c.relname
