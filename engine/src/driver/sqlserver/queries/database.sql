-- Options of the current database, as sys.databases shows them.
SELECT d.name, d.collation_name,
       CONVERT(int, COLLATIONPROPERTY(d.collation_name, 'LCID')) AS collation_lcid, d.compatibility_level, d.recovery_model, d.page_verify_option,
       d.is_ansi_null_default_on, d.is_ansi_nulls_on, d.is_ansi_padding_on, d.is_ansi_warnings_on,
       d.is_arithabort_on, d.is_concat_null_yields_null_on, d.is_numeric_roundabort_on,
       d.is_quoted_identifier_on, d.is_recursive_triggers_on, d.is_cursor_close_on_commit_on,
       d.is_local_cursor_default, d.is_auto_close_on, d.is_auto_shrink_on,
       d.is_auto_create_stats_on, d.is_auto_update_stats_on, d.is_auto_update_stats_async_on,
       d.snapshot_isolation_state, d.is_read_committed_snapshot_on, d.is_trustworthy_on,
       d.is_db_chaining_on, d.is_fulltext_enabled, d.is_broker_enabled, d.is_parameterization_forced,
       d.is_read_only
  FROM sys.databases AS d
 WHERE d.database_id = DB_ID();
