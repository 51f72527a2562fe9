-- Synonyms and the (bracketed, up to four-part) name they stand for.
SELECT SCHEMA_NAME(s.schema_id) AS schema_name, s.name AS synonym_name, s.base_object_name
  FROM sys.synonyms AS s
 ORDER BY schema_name, s.name;
