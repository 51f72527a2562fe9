-- Key columns (by key_ordinal) and included columns of the indexes above.
SELECT ic.object_id, ic.index_id, c.name AS column_name, ic.key_ordinal,
       ic.is_descending_key, ic.is_included_column, ic.index_column_id
  FROM sys.index_columns AS ic
  JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
  JOIN sys.indexes AS i ON i.object_id = ic.object_id AND i.index_id = ic.index_id
 WHERE i.type IN (1, 2, 5, 6)
 ORDER BY ic.object_id, ic.index_id, ic.is_included_column, ic.key_ordinal, ic.index_column_id;
