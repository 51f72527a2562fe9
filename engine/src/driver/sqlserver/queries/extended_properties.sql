-- Extended properties; those on the database, schemas, objects and their columns and
-- constraints are modelled, other classes (indexes, parameters, principals...) are reported;
-- values as text. dac's side-by-side journal (database property dac.journal) is
-- left out.
SELECT ep.class, ep.class_desc, ep.name AS property_name, CONVERT(nvarchar(4000), ep.value) AS property_value,
       CASE ep.class WHEN 1 THEN SCHEMA_NAME(o.schema_id) WHEN 3 THEN s.name END AS schema_name,
       o.name AS object_name, o.type AS object_type, po.name AS parent_name,
       c.name AS column_name
  FROM sys.extended_properties AS ep
  LEFT JOIN sys.objects AS o ON ep.class = 1 AND o.object_id = ep.major_id
  LEFT JOIN sys.objects AS po ON po.object_id = o.parent_object_id
  LEFT JOIN sys.columns AS c ON ep.class = 1 AND ep.minor_id > 0 AND c.object_id = ep.major_id AND c.column_id = ep.minor_id
  LEFT JOIN sys.schemas AS s ON ep.class = 3 AND s.schema_id = ep.major_id
 WHERE (ep.class <> 1 OR o.is_ms_shipped = 0)
   AND NOT (ep.class = 0 AND ep.name = N'dac.journal')
 ORDER BY ep.class, schema_name, object_name, column_name, ep.name;
