-- CHECK constraints of user tables and table types.
SELECT cc.parent_object_id AS object_id, cc.name AS constraint_name, cc.definition,
       cc.is_system_named, cc.is_disabled, cc.is_not_trusted, cc.is_not_for_replication
  FROM sys.check_constraints AS cc
 WHERE cc.is_ms_shipped = 0
 ORDER BY cc.parent_object_id, cc.name;
