//! The object types `--do-not-drop` and `--exclude-type` name: an element type of the model
//! (`SqlIndex`, `PgPolicy`), or one of SqlPackage's `ObjectType` names (`Indexes`, `Tables`, the
//! `DoNotDropObjectTypes`/`ExcludeObjectTypes` vocabulary), which stands for the element types
//! it covers. A name that is neither is an error listing the valid ones: an option that names
//! nothing would protect nothing.

use std::collections::BTreeSet;

use crate::model::kind;
use crate::{Error, Result};

/// SqlPackage's `ObjectType` names and the element types each covers. `Indexes`, `Constraints`
/// and `DmlTriggers` are not `ObjectType` values: SqlPackage has `DropIndexesNotInSource` and
/// the like for them, and they are accepted here under those names.
const SQLPACKAGE_NAMES: &[(&str, &[&str])] = &[
    ("Aggregates", &["SqlAggregate"]),
    ("ApplicationRoles", &["SqlApplicationRole"]),
    ("Assemblies", &["SqlAssembly"]),
    ("AssemblyFiles", &["SqlAssemblySource"]),
    ("AsymmetricKeys", &["SqlAsymmetricKey"]),
    ("Audits", &["SqlServerAudit"]),
    ("BrokerPriorities", &["SqlBrokerPriority"]),
    ("Certificates", &["SqlCertificate"]),
    ("ClrUserDefinedTypes", &["SqlUserDefinedType"]),
    ("ColumnEncryptionKeys", &["SqlColumnEncryptionKey"]),
    ("ColumnMasterKeys", &["SqlColumnMasterKey"]),
    (
        "Constraints",
        &[
            kind::PRIMARY_KEY,
            kind::UNIQUE,
            kind::FOREIGN_KEY,
            kind::CHECK,
            kind::DEFAULT,
            "PgExcludeConstraint",
        ],
    ),
    ("Contracts", &["SqlContract"]),
    ("Credentials", &["SqlCredential"]),
    ("CryptographicProviders", &["SqlCryptographicProvider"]),
    (
        "DatabaseAuditSpecifications",
        &["SqlDatabaseAuditSpecification"],
    ),
    ("DatabaseEncryptionKeys", &["SqlDatabaseEncryptionKey"]),
    ("DatabaseOptions", &[kind::DATABASE_OPTIONS]),
    ("DatabaseRoles", &[kind::ROLE, "PgRole"]),
    ("DatabaseScopedCredentials", &["SqlDatabaseCredential"]),
    (
        "DatabaseTriggers",
        &["SqlDatabaseDdlTrigger", "PgEventTrigger"],
    ),
    ("DatabaseWorkloadGroups", &["SqlWorkloadGroup"]),
    ("Defaults", &["SqlDefault"]),
    ("DmlTriggers", &[kind::DML_TRIGGER]),
    ("Endpoints", &["SqlEndpoint"]),
    ("ErrorMessages", &["SqlErrorMessage"]),
    ("EventNotifications", &["SqlEventNotification"]),
    ("EventSessions", &["SqlEventSession"]),
    (
        "ExtendedProperties",
        &[kind::EXTENDED_PROPERTY, "PgComment"],
    ),
    ("ExternalDataSources", &["SqlExternalDataSource"]),
    ("ExternalFileFormats", &["SqlExternalFileFormat"]),
    ("ExternalLanguages", &["SqlExternalLanguage"]),
    ("ExternalLibraries", &["SqlExternalLibrary"]),
    ("ExternalStreamingJobs", &["SqlExternalStreamingJob"]),
    ("ExternalStreams", &["SqlExternalStream"]),
    ("ExternalTables", &["SqlExternalTable", "PgForeignTable"]),
    ("Filegroups", &["SqlFilegroup"]),
    ("Files", &["SqlFile"]),
    ("FileTables", &["SqlFileTable"]),
    ("FullTextCatalogs", &["SqlFullTextCatalog"]),
    ("FullTextStoplists", &["SqlFullTextStopList"]),
    (
        "Indexes",
        &[
            kind::INDEX,
            kind::COLUMN_STORE_INDEX,
            "SqlFullTextIndex",
            "SqlSpatialIndex",
            "SqlXmlIndex",
            "SqlSelectiveXmlIndex",
        ],
    ),
    ("LinkedServerLogins", &["SqlLinkedServerLogin"]),
    ("LinkedServers", &["SqlLinkedServer"]),
    ("Logins", &["SqlLogin"]),
    ("MasterKeys", &["SqlMasterKey"]),
    ("MessageTypes", &["SqlMessageType"]),
    ("PartitionFunctions", &["SqlPartitionFunction"]),
    ("PartitionSchemes", &["SqlPartitionScheme"]),
    (
        "Permissions",
        &[kind::PERMISSION, "PgGrant", "PgDefaultPrivileges"],
    ),
    ("Queues", &["SqlQueue"]),
    ("RemoteServiceBindings", &["SqlRemoteServiceBinding"]),
    ("RoleMembership", &[kind::ROLE_MEMBERSHIP]),
    ("Routes", &["SqlRoute"]),
    ("Rules", &["SqlRule"]),
    ("ScalarValuedFunctions", &[kind::SCALAR_FUNCTION]),
    ("SearchPropertyLists", &["SqlSearchPropertyList"]),
    ("SecurityPolicies", &["SqlSecurityPolicy", "PgPolicy"]),
    ("Sequences", &[kind::SEQUENCE]),
    (
        "ServerAuditSpecifications",
        &["SqlServerAuditSpecification"],
    ),
    ("ServerRoleMembership", &["SqlServerRoleMembership"]),
    ("ServerRoles", &["SqlServerRole"]),
    ("ServerTriggers", &["SqlServerDdlTrigger"]),
    ("Services", &["SqlService"]),
    ("Signatures", &["SqlSignature"]),
    ("StoredProcedures", &[kind::PROCEDURE]),
    ("SymmetricKeys", &["SqlSymmetricKey"]),
    ("Synonyms", &[kind::SYNONYM]),
    ("Tables", &[kind::TABLE, "SqliteVirtualTable"]),
    ("TableValuedFunctions", &[kind::INLINE_TVF, kind::MULTI_TVF]),
    (
        "UserDefinedDataTypes",
        &[
            kind::USER_DEFINED_DATA_TYPE,
            "PgDomain",
            "PgEnumType",
            "PgCompositeType",
            "PgRangeType",
            "PgType",
        ],
    ),
    ("UserDefinedTableTypes", &[kind::TABLE_TYPE]),
    ("Users", &[kind::USER]),
    ("Views", &[kind::VIEW]),
    ("WorkloadClassifiers", &["SqlWorkloadClassifier"]),
    ("XmlSchemaCollections", &["SqlXmlSchemaCollection"]),
];

/// Element types that may be named as they are, besides those `SQLPACKAGE_NAMES` covers.
const ELEMENT_TYPES: &[&str] = &[kind::SCHEMA, "PgCollation", "PgExtension", "PgTextSearch"];

/// The element types `names` stand for, for the option called `option` (`--do-not-drop`):
/// element types and SqlPackage's names, matched ignoring case. An unknown name is an error
/// that lists the valid ones.
pub fn object_types(option: &str, names: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for name in names {
        let name = name.trim();
        if let Some((_, types)) = SQLPACKAGE_NAMES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        {
            out.extend(types.iter().map(|t| t.to_string()));
        } else if let Some(element_type) = element_types().find(|t| t.eq_ignore_ascii_case(name)) {
            out.insert(element_type.to_string());
        } else {
            let aliases: Vec<&str> = SQLPACKAGE_NAMES.iter().map(|(alias, _)| *alias).collect();
            let mut types: Vec<&str> = element_types().collect();
            types.sort_unstable();
            return Err(Error::Invalid(format!(
                "{option} {name:?}: not an object type; use one of SqlPackage's names ({}) or an element type ({})",
                aliases.join(", "),
                types.join(", ")
            )));
        }
    }
    Ok(out)
}

/// Every element type an option may name as it is.
fn element_types() -> impl Iterator<Item = &'static str> {
    let mut seen = BTreeSet::new();
    kind::MODELLED
        .iter()
        .chain(ELEMENT_TYPES)
        .chain(SQLPACKAGE_NAMES.iter().flat_map(|(_, types)| types.iter()))
        .copied()
        .filter(move |t| seen.insert(*t))
}

#[cfg(test)]
mod tests {
    use super::object_types;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sqlpackage_names_stand_for_element_types() {
        let types = object_types("--do-not-drop", &names(&["Indexes", "tables"])).unwrap();
        assert!(types.contains("SqlIndex") && types.contains("SqlColumnStoreIndex"));
        assert!(types.contains("SqlTable"));
        assert!(!types.contains("SqlView"));
    }

    #[test]
    fn element_types_are_taken_as_they_are() {
        let types = object_types("--do-not-drop", &names(&["SqlIndex", "PgPolicy"])).unwrap();
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            ["PgPolicy", "SqlIndex"]
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_listing_the_valid_ones() {
        let err = object_types("--do-not-drop", &names(&["Bogus"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--do-not-drop \"Bogus\": not an object type"),
            "{err}"
        );
        for valid in [
            "Indexes",
            "Tables",
            "XmlSchemaCollections",
            "SqlIndex",
            "SqlTable",
        ] {
            assert!(err.contains(valid), "{valid}: {err}");
        }
    }
}
