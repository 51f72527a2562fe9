-- Rows that violate a foreign key: the child table, the row and the parent table.
SELECT "table", rowid, parent, fkid FROM pragma_foreign_key_check
