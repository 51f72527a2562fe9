-- (Not of tables an extension owns: pg_depend deptype e.) Key columns of every index: (index oid, position, column or NULL, expression, indoption,
-- non-default operator class "schema<RS>name", collation other than the column's (or, for an
-- expression, than the default) "schema<RS>name", statistics target when set).
SELECT i.indexrelid::text, k.o::text, a.attname,
       CASE WHEN k.n = 0 THEN pg_get_indexdef(i.indexrelid, k.o::int, false) END,
       (i.indoption::int2[])[k.o - 1]::text,
       CASE WHEN NOT oc.opcdefault THEN ocn.nspname || chr(30) || oc.opcname END,
       CASE WHEN co.oid IS NOT NULL AND co.oid <> coalesce(a.attcollation, 100)
            THEN con.nspname || chr(30) || co.collname END,
       (SELECT NULLIF(ia.attstattarget, -1)::text FROM pg_attribute ia
         WHERE ia.attrelid = i.indexrelid AND ia.attnum = k.o)
  FROM pg_index i
  JOIN pg_class tc ON tc.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = tc.relnamespace
 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n AND k.n <> 0
  LEFT JOIN pg_opclass oc ON oc.oid = (i.indclass::oid[])[k.o - 1]
  LEFT JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
  LEFT JOIN pg_collation co ON co.oid = (i.indcollation::oid[])[k.o - 1]
  LEFT JOIN pg_namespace con ON con.oid = co.collnamespace
 WHERE k.o <= i.indnkeyatts AND tc.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_dac') AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = tc.oid AND d.deptype = 'e')
 ORDER BY i.indexrelid, k.o
