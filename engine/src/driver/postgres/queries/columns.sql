-- Columns of the tables: (table oid, name, format_type, element type schema, element type name,
-- is array, dims, not null, identity, generated, collation, default, is local, identity
-- "start<US>increment<US>min<US>max<US>cache<US>cycle<US>type", looked up for identity columns alone, collation schema, statistics
-- target when set: -1 before PostgreSQL 17, NULL from 17, is the default).
SELECT a.attrelid::text, a.attname, format_type(a.atttypid, a.atttypmod),
       bn.nspname, bt.typname, (t.typcategory = 'A' AND t.typelem <> 0)::text, a.attndims::text,
       a.attnotnull::text, a.attidentity::text, a.attgenerated::text,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END,
       pg_get_expr(ad.adbin, ad.adrelid),
       a.attislocal::text,
       CASE WHEN a.attidentity <> '' THEN
       (SELECT concat_ws(chr(31), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                         s.seqcycle, format_type(s.seqtypid, NULL))
          FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid
         WHERE d.classid = 'pg_class'::regclass AND d.refobjid = a.attrelid
           AND d.refobjsubid = a.attnum AND d.deptype = 'i' LIMIT 1) END,
       con.nspname,
       NULLIF(a.attstattarget, -1)::text
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0
                                   THEN t.typelem ELSE t.oid END
  JOIN pg_namespace bn ON bn.oid = bt.typnamespace
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace con ON con.oid = co.collnamespace
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY a.attrelid, a.attnum
