-- Every other user object, database-scoped DDL trigger, partition function and scheme,
-- XML schema collection, assembly, full-text catalog and XML/spatial index: kinds the inspection does not
-- model, kept as opaque objects and reported.
SELECT N'object' AS source, o.type AS object_type, o.type_desc, SCHEMA_NAME(o.schema_id) AS schema_name, o.name AS object_name,
       po.name AS parent_name
  FROM sys.objects AS o
  LEFT JOIN sys.objects AS po ON po.object_id = o.parent_object_id
 WHERE o.is_ms_shipped = 0
   AND o.type NOT IN ('U', 'V', 'P', 'FN', 'IF', 'TF', 'TR', 'SO', 'SN', 'PK', 'UQ', 'F', 'C', 'D', 'TT', 'IT', 'S')
UNION ALL
SELECT N'ddl trigger', tr.type, N'DATABASE_DDL_TRIGGER', NULL, tr.name, NULL
  FROM sys.triggers AS tr WHERE tr.parent_class = 0
UNION ALL
SELECT N'partition function', NULL, N'PARTITION_FUNCTION', NULL, pf.name, NULL FROM sys.partition_functions AS pf
UNION ALL
SELECT N'partition scheme', NULL, N'PARTITION_SCHEME', NULL, ps.name, NULL FROM sys.partition_schemes AS ps
UNION ALL
SELECT N'xml schema collection', NULL, N'XML_SCHEMA_COLLECTION', SCHEMA_NAME(x.schema_id), x.name, NULL
  FROM sys.xml_schema_collections AS x WHERE x.xml_collection_id > 1
UNION ALL
SELECT N'assembly', NULL, N'ASSEMBLY', NULL, a.name, NULL FROM sys.assemblies AS a WHERE a.is_user_defined = 1
UNION ALL
SELECT N'fulltext catalog', NULL, N'FULLTEXT_CATALOG', NULL, fc.name, NULL FROM sys.fulltext_catalogs AS fc
UNION ALL
SELECT N'index', CONVERT(char(2), i.type), i.type_desc, SCHEMA_NAME(t.schema_id), i.name, t.name
  FROM sys.indexes AS i JOIN sys.tables AS t ON t.object_id = i.object_id
 WHERE i.type IN (3, 4) AND t.is_ms_shipped = 0
 ORDER BY source, schema_name, object_name;
