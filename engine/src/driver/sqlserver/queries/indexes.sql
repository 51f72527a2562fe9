-- Indexes and the PRIMARY KEY / UNIQUE constraints they back (heaps, XML and spatial indexes
-- aside), on user tables, indexed views and table types; constraint names with is_system_named.
SELECT i.object_id, i.index_id, i.name AS index_name, i.type AS index_type, i.is_unique,
       i.is_primary_key, i.is_unique_constraint, i.has_filter, i.filter_definition,
       i.ignore_dup_key, i.is_disabled, kc.is_system_named
  FROM sys.indexes AS i
  LEFT JOIN sys.key_constraints AS kc
         ON kc.parent_object_id = i.object_id AND kc.unique_index_id = i.index_id
 WHERE i.type IN (1, 2, 5, 6)
   AND i.is_hypothetical = 0
   AND i.object_id IN (SELECT t.object_id FROM sys.tables AS t WHERE t.is_ms_shipped = 0
                       UNION ALL
                       SELECT v.object_id FROM sys.views AS v WHERE v.is_ms_shipped = 0
                       UNION ALL
                       SELECT tt.type_table_object_id FROM sys.table_types AS tt
                        WHERE tt.is_user_defined = 1)
 ORDER BY i.object_id, i.index_id;
