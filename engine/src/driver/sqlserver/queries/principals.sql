-- Database roles and users (built-in principals and fixed roles aside), with the login a user
-- maps to and its default schema; role memberships in role_name/member_name rows.
SELECT N'principal' AS row_kind, p.name AS principal_name, p.type AS principal_type,
       p.default_schema_name, sp.name AS login_name, p.authentication_type,
       o.name AS owner_name, NULL AS role_name, NULL AS member_name
  FROM sys.database_principals AS p
  LEFT JOIN sys.server_principals AS sp ON sp.sid = p.sid AND p.type IN ('S', 'U', 'G')
  LEFT JOIN sys.database_principals AS o ON o.principal_id = p.owning_principal_id
 WHERE p.principal_id BETWEEN 5 AND 16383 AND p.is_fixed_role = 0 AND p.type IN ('S', 'U', 'G', 'R', 'E', 'X', 'C', 'K')
UNION ALL
SELECT N'member', NULL, NULL, NULL, NULL, NULL, NULL, r.name, m.name
  FROM sys.database_role_members AS rm
  JOIN sys.database_principals AS r ON r.principal_id = rm.role_principal_id
  JOIN sys.database_principals AS m ON m.principal_id = rm.member_principal_id
 WHERE m.name <> N'dbo'
 ORDER BY row_kind DESC, principal_name, role_name, member_name;
