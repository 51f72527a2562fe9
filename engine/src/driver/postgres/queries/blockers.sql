-- The sessions the session $1 waits for, as people recognise them.
SELECT a.pid::text,
       coalesce(nullif(a.application_name, ''), '(no application_name)'),
       coalesce(a.usename::text, ''),
       coalesce(a.state, '')
FROM pg_stat_activity a
WHERE a.pid = ANY (pg_blocking_pids($1))
ORDER BY a.pid
