-- Who holds dac's upgrade lock: the sessions granted the session advisory lock $key (a bigint
-- key is split into classid, the high half, and objid, the low half, with objsubid 1) in this
-- database.
SELECT a.pid::text,
       coalesce(nullif(a.application_name, ''), '(none)'),
       coalesce(host(a.client_addr), 'local socket'),
       coalesce(a.usename::text, ''),
       coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((l.classid::bigint << 32) | l.objid::bigint) = $key
ORDER BY a.pid
