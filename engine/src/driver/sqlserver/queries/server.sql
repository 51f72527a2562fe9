-- The server: version text, major version (13 = 2016 ... 17 = 2025) and engine edition
-- (5 = Azure SQL Database, 8 = managed instance), which choose the model's DSP.
SELECT CONVERT(nvarchar(4000), @@VERSION) AS version_text,
       CONVERT(int, SERVERPROPERTY('ProductMajorVersion')) AS major_version,
       CONVERT(int, SERVERPROPERTY('EngineEdition')) AS engine_edition;
