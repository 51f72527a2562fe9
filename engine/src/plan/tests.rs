//! Planning decisions that need no dialect: which changes lose data, and where step kinds fall
//! in execution order. Plans rendered for each platform are tested in `script`.

use crate::model::ObjectName;
use crate::plan::{StepKind, kinds_for};

fn name(parts: &[&str]) -> ObjectName {
    ObjectName::new(parts.iter().copied())
}

#[test]
fn narrowing_is_data_loss_and_widening_is_not() {
    use crate::model::view::DataType;
    use crate::plan::tables::loses_data;
    let t = |n: &str, len: Option<i64>| DataType {
        name: name(&[n]),
        built_in: true,
        length: len,
        precision: None,
        scale: None,
        is_max: false,
        array_dimensions: 0,
    };
    assert!(loses_data(
        &t("nvarchar", Some(50)),
        &t("nvarchar", Some(10))
    ));
    assert!(!loses_data(
        &t("nvarchar", Some(10)),
        &t("nvarchar", Some(50))
    ));
    assert!(!loses_data(&t("int", None), &t("bigint", None)));
    assert!(loses_data(&t("bigint", None), &t("int", None)));
    assert!(loses_data(&t("nvarchar", Some(10)), &t("int", None)));
    assert!(!loses_data(
        &t("varchar", Some(10)),
        &t("nvarchar", Some(10))
    ));
}

#[test]
fn postgres_types_and_extensions_come_before_tables() {
    assert_eq!(
        kinds_for("PgEnumType"),
        (StepKind::CreateType, StepKind::DropType)
    );
    assert_eq!(
        kinds_for("PgDomain"),
        (StepKind::CreateType, StepKind::DropType)
    );
    let (create, drop) = kinds_for("PgExtension");
    assert!(create < StepKind::CreateType && drop > StepKind::DropTable);
}
