//! plan(diff) -> [`Plan`]: the changes of a [`Diff`] as ordered steps, with hazards.
//!
//! Steps are ordered by [`StepKind`] (an `Ord` enum in execution order) and, inside a kind, by
//! dependencies. A table is rebuilt only where the platform cannot ALTER it, and the step says
//! why. Hazards (possible data loss, rebuilds, objects that cannot be scripted) are data: each
//! names its object, and data-loss hazards carry a run-time guard that refuses to go on when the
//! table holds rows, as DacFx's `BlockOnPossibleDataLoss` does, so an empty table never blocks.
//!
//! Pure: no IO, and it cannot fail on user data.

mod capabilities;
mod dependents;
mod filters;
mod graph;
mod hosts;
mod risks;
mod tables;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::compare::renames_from_refactor_log;
use crate::compare::{Action, Change, Diff};
use crate::model::kind::prop;
use crate::model::refactor::RefactorLog;
use crate::model::symbol::WordBuildHasher;
use crate::model::{Element, Entry, Model, ObjectName, kind, view};

pub use capabilities::Capabilities;
pub use filters::check_filters;

/// How to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Refuse at run time, before anything is changed, when a step could lose data and its table
    /// holds rows (DacFx `BlockOnPossibleDataLoss`, on by default).
    pub block_on_possible_data_loss: bool,
    /// Give new NOT NULL columns without a default a type-appropriate default (0, '', ...) so
    /// tables with rows can take them (DacFx `GenerateSmartDefaults`).
    pub smart_defaults: bool,
    /// Pre-deployment script, run first.
    pub predeploy: Option<String>,
    /// Post-deployment script, run last.
    pub postdeploy: Option<String>,
    /// The desired package's refactor log: the keys of the operations the plan applies are
    /// recorded in the target (SQL Server's `__RefactorLog`), as DacFx does.
    pub refactor_log: Option<RefactorLog>,
    /// Rebuild a table whose columns are in another order than the package's, on a platform
    /// that otherwise keeps the order it has and reports the difference (PostgreSQL, SQLite).
    pub rebuild_for_column_order: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            block_on_possible_data_loss: true,
            smart_defaults: false,
            predeploy: None,
            postdeploy: None,
            refactor_log: None,
            rebuild_for_column_order: false,
        }
    }
}

impl PlanOptions {
    /// The defaults, with `package`'s pre- and post-deployment scripts and refactor log.
    pub fn for_package(package: &crate::package::Package) -> PlanOptions {
        PlanOptions {
            predeploy: package.predeploy.clone(),
            postdeploy: package.postdeploy.clone(),
            refactor_log: package.refactor_log.clone(),
            ..PlanOptions::default()
        }
    }
}

/// Kinds of step, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    // Order matters: the pre-deployment script sees the database as it was.
    /// The package's pre-deployment script.
    PreDeploy,
    // Order matters: renames first, so every later step sees desired names (DacFx does the same).
    /// Rename an object (from the refactor log or a rename annotation).
    Rename,
    /// Detach a partition from its partitioned table (it stays, as a table of its own).
    DetachPartition,
    // Order matters: drops run before creates, dependents before what they depend on.
    /// Drop a foreign key (before the tables and keys it references change).
    DropForeignKey,
    /// Drop a trigger.
    DropTrigger,
    /// Drop a view, procedure or function.
    DropProgrammable,
    /// Drop an index.
    DropIndex,
    /// Drop a primary key, unique, check or default constraint.
    DropConstraint,
    /// Drop a table.
    DropTable,
    /// Drop anything else (synonyms, permissions, principals, opaque objects).
    DropOther,
    /// Drop a sequence.
    DropSequence,
    /// Drop a user-defined type.
    DropType,
    /// Drop a schema (after everything in it).
    DropSchema,
    // Order matters: containers and types before the tables that use them.
    /// Create a schema.
    CreateSchema,
    /// Create a role, user or role membership.
    CreatePrincipal,
    /// Create a user-defined type.
    CreateType,
    /// Create a sequence.
    CreateSequence,
    /// Create a table with its keys, checks and defaults.
    CreateTable,
    /// Add, drop or alter columns of a table in place.
    AlterTable,
    /// Drop the temporary default a smart default added a NOT NULL column with.
    DropSmartDefault,
    /// Rebuild a table the platform cannot alter in place: create the new shape, copy rows, swap.
    RebuildTable,
    /// Attach a table to a partitioned table, with its bound.
    AttachPartition,
    /// Add a primary key, unique, check or default constraint.
    AddConstraint,
    /// Create an index.
    CreateIndex,
    /// Create or alter a view, function or procedure.
    CreateProgrammable,
    /// Create a trigger.
    CreateTrigger,
    // Order matters: foreign keys last, when every table and key they reference exists.
    /// Add a foreign key.
    AddForeignKey,
    /// Create anything else (synonyms, permissions, extended properties, options).
    CreateOther,
    /// Record the keys of the refactor operations applied (renames), so a later upgrade does
    /// not apply them again.
    RecordRefactorLog,
    /// The package's post-deployment script.
    PostDeploy,
}

impl StepKind {
    /// Every kind, in execution order.
    pub const ALL: [StepKind; 30] = [
        StepKind::PreDeploy,
        StepKind::Rename,
        StepKind::DetachPartition,
        StepKind::DropForeignKey,
        StepKind::DropTrigger,
        StepKind::DropProgrammable,
        StepKind::DropIndex,
        StepKind::DropConstraint,
        StepKind::DropTable,
        StepKind::DropOther,
        StepKind::DropSequence,
        StepKind::DropType,
        StepKind::DropSchema,
        StepKind::CreateSchema,
        StepKind::CreatePrincipal,
        StepKind::CreateType,
        StepKind::CreateSequence,
        StepKind::CreateTable,
        StepKind::AlterTable,
        StepKind::DropSmartDefault,
        StepKind::RebuildTable,
        StepKind::AttachPartition,
        StepKind::AddConstraint,
        StepKind::CreateIndex,
        StepKind::CreateProgrammable,
        StepKind::CreateTrigger,
        StepKind::AddForeignKey,
        StepKind::CreateOther,
        StepKind::RecordRefactorLog,
        StepKind::PostDeploy,
    ];

    /// The kind [`StepKind::as_str`] names.
    pub fn parse(name: &str) -> Option<StepKind> {
        StepKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The name shown in script headers and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::PreDeploy => "PreDeploy",
            StepKind::Rename => "Rename",
            StepKind::DetachPartition => "DetachPartition",
            StepKind::DropForeignKey => "DropForeignKey",
            StepKind::DropTrigger => "DropTrigger",
            StepKind::DropProgrammable => "DropProgrammable",
            StepKind::DropIndex => "DropIndex",
            StepKind::DropConstraint => "DropConstraint",
            StepKind::DropTable => "DropTable",
            StepKind::DropOther => "DropOther",
            StepKind::DropSequence => "DropSequence",
            StepKind::DropType => "DropType",
            StepKind::DropSchema => "DropSchema",
            StepKind::CreateSchema => "CreateSchema",
            StepKind::CreatePrincipal => "CreatePrincipal",
            StepKind::CreateType => "CreateType",
            StepKind::CreateSequence => "CreateSequence",
            StepKind::CreateTable => "CreateTable",
            StepKind::AlterTable => "AlterTable",
            StepKind::DropSmartDefault => "DropSmartDefault",
            StepKind::RebuildTable => "RebuildTable",
            StepKind::AttachPartition => "AttachPartition",
            StepKind::AddConstraint => "AddConstraint",
            StepKind::CreateIndex => "CreateIndex",
            StepKind::CreateProgrammable => "CreateProgrammable",
            StepKind::CreateTrigger => "CreateTrigger",
            StepKind::AddForeignKey => "AddForeignKey",
            StepKind::CreateOther => "CreateOther",
            StepKind::RecordRefactorLog => "RecordRefactorLog",
            StepKind::PostDeploy => "PostDeploy",
        }
    }

    /// Whether the step removes something.
    pub fn is_drop(self) -> bool {
        self >= StepKind::DropForeignKey && self <= StepKind::DropSchema
    }
}

/// A table with the constraints that are written inside its CREATE TABLE.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    /// The table element.
    pub table: Element,
    /// Primary key, unique, check and default constraints (and foreign keys where the platform
    /// declares them inline only).
    pub constraints: Vec<Element>,
}

/// One column change of an in-place ALTER TABLE.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnChange {
    /// Add a column, with its default constraint when it has one.
    Add {
        /// The column.
        column: Element,
        /// Its default constraint.
        default: Option<Element>,
    },
    /// Drop a column.
    Drop {
        /// The column.
        column: Element,
    },
    /// Change a column's type or nullability.
    Alter {
        /// The column now.
        current: Element,
        /// The column wanted.
        desired: Element,
        /// A value (SQL) for the rows holding NULL, set before the column becomes NOT NULL
        /// (smart defaults: the column's default, or one of its type).
        fill_nulls: Option<String>,
    },
}

/// Rows to copy in a rebuild: current column -> desired column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnCopy {
    /// The column in the current table.
    pub from: String,
    /// The column in the new table.
    pub to: String,
    /// A value (SQL literal) for every row instead of a current column: smart defaults.
    pub value: Option<String>,
}

/// A run-time check that stops the upgrade before a step that could lose data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// The table that must be empty for the step to go ahead.
    pub table: ObjectName,
    /// Why (names the object).
    pub message: String,
}

/// One planned step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step does.
    pub kind: StepKind,
    /// DacFx type of the object.
    pub object_kind: String,
    /// The object (desired name).
    pub name: ObjectName,
    /// The object as wanted (creates, alters).
    pub desired: Option<Element>,
    /// The object as it is (drops, alters).
    pub current: Option<Element>,
    /// Old name, for renames.
    pub renamed_from: Option<ObjectName>,
    /// Table definition for CreateTable and RebuildTable.
    pub table: Option<TableDefinition>,
    /// Column changes for AlterTable.
    pub columns: Vec<ColumnChange>,
    /// Rows to copy for RebuildTable.
    pub copy: Vec<ColumnCopy>,
    /// Indexes and triggers re-created after a rebuild (the platform drops them with the table).
    pub dependents: Vec<Element>,
    /// Why the step is needed when it is not obvious (rebuild reasons).
    pub reason: Option<String>,
    /// Data-loss guard to run before the step.
    pub guard: Option<Guard>,
    /// Script text (pre/post-deployment).
    pub script: Option<String>,
    /// Keys of the refactor operations applied, for RecordRefactorLog.
    pub refactor_keys: Vec<String>,
    /// An extended property's host as (kind, name) levels from the outermost, resolved against
    /// the model (`[("SqlSchema", "dbo"), ("SqlTable", "T"), ("SqlSimpleColumn", "c")]`; empty
    /// for the database); `None` when the host is not in the model, or for other objects.
    pub host: Option<Vec<(String, String)>>,
}

impl Step {
    /// A step of a kind for an object, with nothing else set.
    pub(crate) fn new(kind: StepKind, object_kind: &str, name: ObjectName) -> Self {
        Step {
            kind,
            object_kind: object_kind.to_string(),
            name,
            desired: None,
            current: None,
            renamed_from: None,
            table: None,
            columns: Vec::new(),
            copy: Vec::new(),
            dependents: Vec::new(),
            reason: None,
            guard: None,
            script: None,
            refactor_keys: Vec::new(),
            host: None,
        }
    }
}

/// Kinds of hazard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HazardKind {
    /// Rows or values could be lost (drop table/column, narrowing, incompatible type change).
    DataLoss,
    /// A NOT NULL column without a default is added to, or made on, a table that may hold rows.
    NotNullWithoutDefault,
    /// The table is rebuilt (copied into a new table); informational.
    TableRebuild,
    /// An object the engine cannot script for this platform (opaque objects without a definition).
    Unscriptable,
    /// Objects whose definitions need each other to exist first: no order creates or drops them
    /// all, so an upgrade refuses the plan.
    DependencyCycle,
    /// A table's columns stay in another order than the package's (new columns are added at
    /// the end); informational.
    ColumnOrder,
    /// An object whose package leaves a reference it is scripted from empty (`<Entry />` for an
    /// index's table or columns, as some system packages have): no statement can create it, so
    /// the plan is refused.
    EmptyReference,
    /// A column's new type makes the platform rewrite the whole table, with reads and writes
    /// blocked while it runs.
    TableRewrite,
    /// An index (or a key's index) is built on a table that is there: writes wait while it
    /// builds.
    BlockingIndexBuild,
    /// A constraint or NOT NULL reads every row of a table that is there, under a lock that
    /// blocks writes.
    TableScan,
    /// The package's database options differ from the database's: dac leaves a database's
    /// options as they are (SqlPackage's `ScriptDatabaseOptions=False`); informational.
    DatabaseOptionsKept,
}

impl HazardKind {
    /// Every kind.
    pub const ALL: [HazardKind; 11] = [
        HazardKind::DataLoss,
        HazardKind::NotNullWithoutDefault,
        HazardKind::TableRebuild,
        HazardKind::Unscriptable,
        HazardKind::DependencyCycle,
        HazardKind::ColumnOrder,
        HazardKind::EmptyReference,
        HazardKind::TableRewrite,
        HazardKind::BlockingIndexBuild,
        HazardKind::TableScan,
        HazardKind::DatabaseOptionsKept,
    ];

    /// The kind [`HazardKind::as_str`] names.
    pub fn parse(name: &str) -> Option<HazardKind> {
        HazardKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }

    /// Name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            HazardKind::DataLoss => "DataLoss",
            HazardKind::NotNullWithoutDefault => "NotNullWithoutDefault",
            HazardKind::TableRebuild => "TableRebuild",
            HazardKind::Unscriptable => "Unscriptable",
            HazardKind::DependencyCycle => "DependencyCycle",
            HazardKind::ColumnOrder => "ColumnOrder",
            HazardKind::EmptyReference => "EmptyReference",
            HazardKind::TableRewrite => "TableRewrite",
            HazardKind::BlockingIndexBuild => "BlockingIndexBuild",
            HazardKind::TableScan => "TableScan",
            HazardKind::DatabaseOptionsKept => "DatabaseOptionsKept",
        }
    }

    /// Whether the hazard blocks an upgrade unless the user allows data loss.
    pub fn is_data_loss(self) -> bool {
        matches!(
            self,
            HazardKind::DataLoss | HazardKind::NotNullWithoutDefault
        )
    }
}

/// A risk in a plan, naming its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// What kind of risk.
    pub kind: HazardKind,
    /// The object at risk.
    pub object: ObjectName,
    /// The table whose rows are at risk, when there is one.
    pub table: Option<ObjectName>,
    /// A sentence for people.
    pub message: String,
}

/// An ordered plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Steps in execution order.
    pub steps: Vec<Step>,
    /// Hazards, in step order.
    pub hazards: Vec<Hazard>,
}

impl Plan {
    /// Whether the plan changes nothing (scripts alone do not count as changes).
    pub fn is_empty(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.kind, StepKind::PreDeploy | StepKind::PostDeploy))
    }

    /// The deployment scripts the plan runs, as people call them (`pre-deployment`,
    /// `post-deployment`), in order.
    pub fn deployment_scripts(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter_map(|s| match s.kind {
                StepKind::PreDeploy => Some("pre-deployment"),
                StepKind::PostDeploy => Some("post-deployment"),
                _ => None,
            })
            .collect()
    }

    /// Hazards that could lose data.
    pub fn data_loss(&self) -> impl Iterator<Item = &Hazard> {
        self.hazards.iter().filter(|h| h.kind.is_data_loss())
    }

    /// Cycles of dependencies no order of steps resolves: a plan with one cannot run.
    pub fn cycles(&self) -> impl Iterator<Item = &Hazard> {
        self.hazards
            .iter()
            .filter(|h| h.kind == HazardKind::DependencyCycle)
    }

    /// What makes the plan impossible to run: cycles, and objects with empty references.
    pub fn blockers(&self) -> impl Iterator<Item = &Hazard> {
        self.hazards.iter().filter(|h| {
            matches!(
                h.kind,
                HazardKind::DependencyCycle | HazardKind::EmptyReference
            )
        })
    }
}

/// Sub-objects of tables (constraints, indexes, triggers) keyed by owner table.
pub(crate) struct Owned<'a> {
    by_table: HashMap<String, Vec<&'a Element>, WordBuildHasher>,
    case_sensitive: bool,
}

impl<'a> Owned<'a> {
    fn new(model: &'a Model) -> Self {
        let case_sensitive = model.collation_case_sensitive;
        let mut by_table: HashMap<String, Vec<&'a Element>, WordBuildHasher> =
            HashMap::with_capacity_and_hasher(model.elements.len() / 2, WordBuildHasher::default());
        for element in &model.elements {
            if let Some(owner) = view::owner(element) {
                by_table
                    .entry(owner.key(case_sensitive))
                    .or_default()
                    .push(element);
            }
        }
        Owned {
            by_table,
            case_sensitive,
        }
    }

    pub(crate) fn of(&self, table: &ObjectName) -> &[&'a Element] {
        self.by_table
            .get(&table.key(self.case_sensitive))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Constraint kinds written inside CREATE TABLE.
pub(crate) fn is_inline_constraint(kind: &str, caps: Capabilities) -> bool {
    matches!(
        kind,
        kind::PRIMARY_KEY | kind::UNIQUE | kind::CHECK | kind::DEFAULT
    ) || (kind == kind::FOREIGN_KEY && caps.foreign_keys_inline_only)
}

/// Kinds whose statement is written from their references (a table's column types, an index's
/// table and columns), not from a kept text.
fn scripted_from_references(element_kind: &str) -> bool {
    matches!(
        element_kind,
        kind::TABLE
            | kind::INDEX
            | kind::COLUMN_STORE_INDEX
            | kind::PRIMARY_KEY
            | kind::UNIQUE
            | kind::FOREIGN_KEY
            | kind::DEFAULT
            | kind::CHECK
            | kind::TABLE_TYPE
            | kind::USER_DEFINED_DATA_TYPE
            | kind::SEQUENCE
    )
}

/// The first relationship of `element` (at any depth) with an empty entry where a reference
/// belongs, as `IndexedObject` or `ColumnSpecifications.Column`.
fn empty_reference(element: &Element) -> Option<String> {
    for rel in &element.relationships {
        for entry in &rel.entries {
            match entry {
                Entry::Empty => return Some(rel.name.to_string()),
                Entry::Element(child) => {
                    if let Some(inner) = empty_reference(child) {
                        return Some(format!("{}.{inner}", rel.name));
                    }
                }
                _ => {}
            }
        }
    }
    None
}

/// A change's object as reports name it: unnamed constraints by kind and table.
fn display_name(change: &Change) -> String {
    match change.desired.as_ref().and_then(view::owner) {
        Some(table) if change.desired.as_ref().is_some_and(|e| e.name.is_none()) => {
            format!("on {table}")
        }
        _ => change.name.to_string(),
    }
}

/// The plan that creates every object of `desired` in an empty database of its platform (a
/// first deployment, a scratch copy, the new database of a side-by-side upgrade).
pub fn create_all(desired: &Model, caps: Capabilities, options: &PlanOptions) -> Plan {
    let mut empty = Model::empty(desired.dsp.clone());
    empty.collation_case_sensitive = desired.collation_case_sensitive;
    let diff = crate::compare::compare(
        &empty,
        desired,
        &crate::compare::CompareOptions {
            drop_objects_not_in_source: true,
            ..crate::compare::CompareOptions::default()
        },
    );
    plan(&diff, &empty, desired, caps, options)
}

/// Plans a diff between `current` and `desired` for a platform with `caps`.
pub fn plan(
    diff: &Diff,
    current: &Model,
    desired: &Model,
    caps: Capabilities,
    options: &PlanOptions,
) -> Plan {
    let (current_owned, desired_owned) =
        if current.elements.len() + desired.elements.len() >= 2 * crate::parallel::MIN_ELEMENTS {
            crate::parallel::join(|| Owned::new(current), || Owned::new(desired))
        } else {
            (Owned::new(current), Owned::new(desired))
        };
    let mut planner = Planner {
        caps,
        options,
        current_owned,
        desired_owned,
        case_sensitive: desired.collation_case_sensitive,
        plan: Plan::default(),
        handled_tables: BTreeMap::new(),
        views: view_pairs(current, desired),
        current,
        desired,
        edges: Vec::new(),
        dependents: None,
        refreshed: HashMap::new(),
        by_name: None,
    };
    if let Some(text) = &options.predeploy {
        let mut step = Step::new(
            StepKind::PreDeploy,
            "Script",
            ObjectName::new(["predeploy"]),
        );
        step.script = Some(text.clone());
        planner.plan.steps.push(step);
    }
    let mut changes: Vec<&Change> = diff.differences().collect();
    // Where constraints cannot be altered in place, a constraint change alters its table.
    let implied = implied_table_changes(&changes, current, desired, caps);
    changes.extend(implied.iter());
    // Tables first: whether a table is created, dropped or rebuilt decides its sub-objects.
    for change in changes.iter().filter(|c| c.kind == kind::TABLE) {
        planner.table(change, &changes);
    }
    for change in changes.iter().filter(|c| c.kind != kind::TABLE) {
        planner.other(change, &changes);
    }
    planner.report_column_order_kept();
    planner.own_sequences_after_their_columns();
    planner.restore_properties_after_rebuilds();
    if let Some(log) = &options.refactor_log {
        let keys = applied_refactor_keys(log, &planner.plan.steps, planner.case_sensitive);
        if !keys.is_empty() {
            let mut step = Step::new(
                StepKind::RecordRefactorLog,
                "RefactorLog",
                ObjectName::new(["__RefactorLog"]),
            );
            step.refactor_keys = keys;
            planner.plan.steps.push(step);
        }
    }
    if let Some(text) = &options.postdeploy {
        let mut step = Step::new(
            StepKind::PostDeploy,
            "Script",
            ObjectName::new(["postdeploy"]),
        );
        step.script = Some(text.clone());
        planner.plan.steps.push(step);
    }
    let extra = std::mem::take(&mut planner.edges);
    let mut plan = std::mem::take(&mut planner.plan);
    risks::add_risk_hazards(&mut plan, current, caps, planner.case_sensitive);
    let index = graph::NameIndex::new(&[current, desired]);
    for cycle in order(&mut plan.steps, &index, &planner.current_owned, &extra) {
        let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
        let message = format!(
            "a cycle of dependencies: {} each need another to exist first; no order of steps can create or drop them",
            names.join(", ")
        );
        if let Some(first) = cycle.first() {
            plan.hazards.push(Hazard {
                kind: HazardKind::DependencyCycle,
                object: first.clone(),
                table: None,
                message,
            });
        }
    }
    plan
}

/// Keys of the refactor operations that rename steps apply: an operation is applied when a
/// rename step of its kind starts from its old name or ends at its new name (chained renames
/// fold into one step).
fn applied_refactor_keys(log: &RefactorLog, steps: &[Step], case_sensitive: bool) -> Vec<String> {
    let mut keys = Vec::new();
    for operation in &log.operations {
        let single = RefactorLog {
            version: log.version.clone(),
            operations: vec![operation.clone()],
        };
        let Some(rename) = renames_from_refactor_log(&single).into_iter().next() else {
            continue;
        };
        let applied = steps.iter().any(|s| {
            s.kind == StepKind::Rename
                && s.object_kind == rename.kind
                && (s.name.matches(&rename.to, case_sensitive)
                    || s.renamed_from
                        .as_ref()
                        .is_some_and(|f| f.matches(&rename.from, case_sensitive)))
        });
        if applied && !operation.key.is_empty() && !keys.contains(&operation.key) {
            keys.push(operation.key.clone());
        }
    }
    keys
}

/// Table changes implied by constraint changes on platforms that cannot alter constraints in
/// place (SQLite): the table is then rebuilt even though its own definition is unchanged.
fn implied_table_changes<'a>(
    changes: &[&Change],
    current: &'a Model,
    desired: &'a Model,
    caps: Capabilities,
) -> Vec<Change> {
    if caps.alter_constraints {
        return Vec::new();
    }
    let case_sensitive = desired.collation_case_sensitive;
    // Keyed once: a scan of the changes and the models per constraint would be quadratic.
    let tables = |model: &'a Model| -> HashMap<String, &'a Element> {
        model
            .elements
            .iter()
            .filter(|e| e.kind == kind::TABLE)
            .filter_map(|e| e.name.as_ref().map(|n| (n.key(case_sensitive), e)))
            .collect()
    };
    let (current_tables, desired_tables) = (tables(current), tables(desired));
    let mut changed: HashSet<String> = changes
        .iter()
        .filter(|c| c.kind == kind::TABLE)
        .map(|c| c.name.key(case_sensitive))
        .collect();
    let mut out: Vec<Change> = Vec::new();
    for change in changes {
        if !is_inline_constraint(&change.kind, caps) {
            continue;
        }
        let Some(owner) = change
            .desired
            .as_ref()
            .or(change.current.as_ref())
            .and_then(view::owner)
        else {
            continue;
        };
        let key = owner.key(case_sensitive);
        if changed.contains(&key) {
            continue;
        }
        let (Some(current_table), Some(desired_table)) =
            (current_tables.get(&key), desired_tables.get(&key))
        else {
            continue;
        };
        changed.insert(key);
        out.push(Change {
            action: Action::Alter,
            kind: kind::TABLE.to_string(),
            name: desired_table.name_or_empty(),
            current: Some((*current_table).clone()),
            desired: Some((*desired_table).clone()),
            renamed_from: None,
            details: Vec::new(),
        });
    }
    out
}

/// What happened to a table, deciding the fate of its sub-objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TableFate {
    Created,
    Dropped,
    Rebuilt,
}

struct Planner<'a> {
    caps: Capabilities,
    options: &'a PlanOptions,
    current_owned: Owned<'a>,
    desired_owned: Owned<'a>,
    case_sensitive: bool,
    plan: Plan,
    handled_tables: BTreeMap<String, TableFate>,
    /// Views in both models, as (current, desired).
    views: Vec<(&'a Element, &'a Element)>,
    current: &'a Model,
    desired: &'a Model,
    /// Order the graph cannot see (before, after), by position in `plan.steps`: dependents
    /// taken down before a change and put back after it.
    edges: Vec<(usize, usize)>,
    /// Who refers to what in the current model, made when a change first needs it.
    dependents: Option<dependents::Dependents<'a>>,
    /// Objects taken down and put back so far, by kind and key: (drop, create) positions.
    refreshed: HashMap<(String, String), (usize, usize)>,
    /// Top-level elements by name, (current, desired), made when an extended property first
    /// needs its host resolved.
    by_name: Option<(hosts::ByName<'a>, hosts::ByName<'a>)>,
}

fn view_pairs<'a>(current: &'a Model, desired: &'a Model) -> Vec<(&'a Element, &'a Element)> {
    let case_sensitive = desired.collation_case_sensitive;
    let current_views: HashMap<String, &Element> = current
        .of_kind(kind::VIEW)
        .filter_map(|e| Some((e.name.as_ref()?.key(case_sensitive), e)))
        .collect();
    desired
        .of_kind(kind::VIEW)
        .filter_map(|d| {
            let c = current_views.get(&d.name.as_ref()?.key(case_sensitive))?;
            Some((*c, d))
        })
        .collect()
}

impl Planner<'_> {
    fn fate(&self, table: &ObjectName) -> Option<TableFate> {
        self.handled_tables
            .get(&table.key(self.case_sensitive))
            .copied()
    }

    fn hazard(
        &mut self,
        kind: HazardKind,
        object: &ObjectName,
        table: Option<&ObjectName>,
        message: String,
    ) {
        self.plan.hazards.push(Hazard {
            kind,
            object: object.clone(),
            table: table.cloned(),
            message,
        });
    }

    fn guard(&self, table: &ObjectName, message: &str) -> Option<Guard> {
        self.options.block_on_possible_data_loss.then(|| Guard {
            table: table.clone(),
            message: message.to_string(),
        })
    }

    fn other(&mut self, change: &Change, changes: &[&Change]) {
        // ALTER DATABASE ... SET cannot run in a script's transaction (SQL Server) and has no
        // counterpart elsewhere: the options are reported, not changed.
        if change.kind == kind::DATABASE_OPTIONS {
            let differing: Vec<String> = change
                .details
                .iter()
                .map(|d| {
                    format!(
                        "{}: {} -> {}",
                        d.path,
                        d.current.as_deref().unwrap_or("(unset)"),
                        d.desired.as_deref().unwrap_or("(unset)")
                    )
                })
                .collect();
            self.hazard(
                HazardKind::DatabaseOptionsKept,
                &change.name,
                None,
                format!(
                    "the package's database options are not deployed: the database keeps its own, as SqlPackage does with ScriptDatabaseOptions=False{}",
                    if differing.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", differing.join("; "))
                    }
                ),
            );
            return;
        }
        let owner = change
            .desired
            .as_ref()
            .or(change.current.as_ref())
            .and_then(view::owner)
            .cloned();
        if let Some(owner) = &owner {
            match self.fate(owner) {
                // Created and rebuilt tables bring their sub-objects; dropped ones take them.
                Some(TableFate::Created) | Some(TableFate::Rebuilt)
                    if is_inline_constraint(&change.kind, self.caps)
                        || (self.fate(owner) == Some(TableFate::Rebuilt)
                            && matches!(
                                change.kind.as_str(),
                                kind::INDEX | kind::COLUMN_STORE_INDEX | kind::DML_TRIGGER
                            )) =>
                {
                    return;
                }
                // Foreign keys and triggers of dropped tables are dropped first where the
                // platform can, so referenced tables and trigger functions can go in any order.
                Some(TableFate::Dropped)
                    if change.action == Action::Drop
                        && !(matches!(
                            change.kind.as_str(),
                            kind::FOREIGN_KEY | kind::DML_TRIGGER
                        ) && self.caps.alter_constraints) =>
                {
                    return;
                }
                _ => {}
            }
        }
        // A default added with its column is written inside the ADD of that column.
        if change.action == Action::Create && self.added_with_column(change) {
            return;
        }
        let (create, drop) = kinds_for(&change.kind);
        match change.action {
            Action::Create => self.create(change, create),
            Action::Drop | Action::Keep => {
                self.drop(change, drop);
                if drop == StepKind::DropProgrammable && change.action == Action::Drop {
                    let at = self.plan.steps.len() - 1;
                    self.refresh_around(
                        at,
                        dependents::Disruption::Replaced(&change.name),
                        changes,
                    );
                }
            }
            Action::Rename => {
                let mut step = Step::new(StepKind::Rename, &change.kind, change.name.clone());
                step.renamed_from = change.renamed_from.clone();
                step.current = change.current.clone();
                step.desired = change.desired.clone();
                self.plan.steps.push(step);
                // A renamed column's other changes belong to its table's alter.
                let is_column = matches!(
                    change.kind.as_str(),
                    kind::SIMPLE_COLUMN | kind::COMPUTED_COLUMN
                );
                if !change.details.is_empty() && !is_column {
                    self.drop(change, drop);
                    self.create(change, create);
                }
            }
            Action::Alter => {
                let in_place = self.caps.alter_routine_in_place
                    && matches!(
                        change.kind.as_str(),
                        kind::VIEW
                            | kind::PROCEDURE
                            | kind::SCALAR_FUNCTION
                            | kind::INLINE_TVF
                            | kind::MULTI_TVF
                            | kind::DML_TRIGGER
                    )
                    && change.current.as_ref().map(|e| &e.kind)
                        == change.desired.as_ref().map(|e| &e.kind)
                    // Another signature is another routine (PostgreSQL overloads): the old
                    // one is dropped, not replaced.
                    && change.current.as_ref().and_then(|e| e.text_prop(prop::ARGUMENTS))
                        == change.desired.as_ref().and_then(|e| e.text_prop(prop::ARGUMENTS));
                // A property's value changes in place (sp_updateextendedproperty, COMMENT ON).
                let in_place = in_place
                    || change.kind == kind::EXTENDED_PROPERTY
                    || (self.caps.alter_types_in_place
                        && matches!(
                            change.kind.as_str(),
                            kind::SEQUENCE | "PgEnumType" | "PgDomain" | "PgCompositeType"
                        ));
                if in_place {
                    let mut step = Step::new(create, &change.kind, change.name.clone());
                    step.current = change.current.clone();
                    step.desired = change.desired.clone();
                    step.host = self.host_of(change.desired.as_ref(), false);
                    self.plan.steps.push(step);
                    let at = self.plan.steps.len() - 1;
                    if create == StepKind::CreateType {
                        self.refresh_around(
                            at,
                            dependents::Disruption::Type(&change.name),
                            changes,
                        );
                    } else if create == StepKind::CreateProgrammable {
                        // A replacement can fall back to DROP and CREATE.
                        self.refresh_around(
                            at,
                            dependents::Disruption::Replaced(&change.name),
                            changes,
                        );
                    }
                } else {
                    self.drop(change, drop);
                    let at = self.plan.steps.len() - 1;
                    self.create(change, create);
                    if drop == StepKind::DropProgrammable {
                        self.refresh_around(
                            at,
                            dependents::Disruption::Replaced(&change.name),
                            changes,
                        );
                    }
                }
            }
        }
    }

    /// Whether `change` creates a default constraint that an AlterTable step already adds with
    /// its column.
    fn added_with_column(&self, change: &Change) -> bool {
        change.kind == kind::DEFAULT
            && change.desired.is_some()
            && self.plan.steps.iter().any(|s| {
                s.kind == StepKind::AlterTable
                    && s.columns.iter().any(|c| {
                        matches!(c, ColumnChange::Add { default: Some(d), .. }
                            if Some(d) == change.desired.as_ref())
                    })
            })
    }

    /// A created sequence owned by a column (PostgreSQL `OWNED BY`) cannot name that column
    /// before it exists: it is created unowned, and owned by an in-place alter of the sequence
    /// after the step that makes its column.
    fn own_sequences_after_their_columns(&mut self) {
        if !self.caps.alter_types_in_place {
            return;
        }
        let case_sensitive = self.case_sensitive;
        let mut owning = Vec::new();
        for at in 0..self.plan.steps.len() {
            let step = &mut self.plan.steps[at];
            if step.kind != StepKind::CreateSequence || step.current.is_some() {
                continue;
            }
            let Some(desired) = step.desired.as_mut() else {
                continue;
            };
            let Some(column) = desired.reference_name(kind::rel::OWNED_BY).cloned() else {
                continue;
            };
            let owned = desired.clone();
            desired
                .relationships
                .retain(|r| r.name != kind::rel::OWNED_BY);
            let mut own = Step::new(
                StepKind::CreateSequence,
                &step.object_kind,
                step.name.clone(),
            );
            own.current = Some(desired.clone());
            own.desired = Some(owned);
            owning.push((at, column, own));
        }
        for (created_at, column, own) in owning {
            // An identity's sequence has the name a serial's would: the identity goes first.
            let drops_identity = column.parent().and_then(|table| {
                let table = table.key(case_sensitive);
                self.plan.steps.iter().position(|s| {
                    s.kind == StepKind::AlterTable
                        && s.name.key(case_sensitive) == table
                        && s.columns.iter().any(|c| {
                            matches!(c, ColumnChange::Alter { current, desired, .. }
                                if current.name_or_empty().key(case_sensitive) == column.key(case_sensitive)
                                    && view::ColumnView(current).is_identity()
                                    && !view::ColumnView(desired).is_identity())
                        })
                })
            });
            if let Some(alter) = drops_identity {
                self.edges.push((alter, created_at));
            }
            let maker = column.parent().and_then(|table| {
                let table = table.key(case_sensitive);
                self.plan.steps.iter().position(|s| {
                    s.name.key(case_sensitive) == table
                        && match s.kind {
                            StepKind::CreateTable | StepKind::RebuildTable => true,
                            StepKind::AlterTable => s.columns.iter().any(|c| {
                                matches!(c, ColumnChange::Add { column: added, .. }
                                    if added.name_or_empty().key(case_sensitive) == column.key(case_sensitive))
                            }),
                            _ => false,
                        }
                })
            });
            self.plan.steps.push(own);
            if let Some(maker) = maker {
                self.edges.push((maker, self.plan.steps.len() - 1));
            }
        }
    }

    /// A rebuilt table is a new table: the extended properties of the old one, its columns,
    /// constraints, indexes and triggers go with it. Each the package gives them is added again
    /// after the rebuild (`sp_addextendedproperty`, `COMMENT ON`), a changed one added rather
    /// than updated, and a dropped one is not dropped again.
    fn restore_properties_after_rebuilds(&mut self) {
        let case_sensitive = self.case_sensitive;
        let rebuilt: Vec<ObjectName> = self
            .plan
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::RebuildTable)
            .map(|s| s.name.clone())
            .collect();
        if rebuilt.is_empty() {
            return;
        }
        // The rebuilt table a host chain (schema, table, ...) hangs under, if any.
        let under_rebuild = |host: &[(String, String)]| -> Option<ObjectName> {
            let [(schema_kind, schema), (table_kind, table), ..] = host else {
                return None;
            };
            if schema_kind != kind::SCHEMA || table_kind != kind::TABLE {
                return None;
            }
            let name = ObjectName::new([schema.as_str(), table.as_str()]);
            rebuilt
                .iter()
                .find(|t| t.matches(&name, case_sensitive))
                .cloned()
        };
        // Gone with the old table: a drop after the rebuild would find nothing to drop.
        let gone: Vec<usize> = (0..self.plan.steps.len())
            .filter(|&at| {
                let step = &self.plan.steps[at];
                step.object_kind == kind::EXTENDED_PROPERTY
                    && step.kind == StepKind::DropOther
                    && step.host.as_deref().and_then(under_rebuild).is_some()
            })
            .collect();
        for at in gone.into_iter().rev() {
            self.plan.steps.remove(at);
            self.edges.retain(|(a, b)| *a != at && *b != at);
            for (a, b) in &mut self.edges {
                *a -= usize::from(*a > at);
                *b -= usize::from(*b > at);
            }
        }
        let desired = self.desired;
        for property in desired.of_kind(kind::EXTENDED_PROPERTY) {
            let Some(name) = property.name.clone() else {
                continue;
            };
            let Some(host) = self.host_of(Some(property), false) else {
                continue;
            };
            let Some(table) = under_rebuild(&host) else {
                continue;
            };
            let Some(rebuild) = self.plan.steps.iter().position(|s| {
                s.kind == StepKind::RebuildTable && s.name.matches(&table, case_sensitive)
            }) else {
                continue;
            };
            let reason = format!("added again after the rebuild of {table}");
            let existing = self.plan.steps.iter().position(|s| {
                s.kind == StepKind::CreateOther
                    && s.object_kind == kind::EXTENDED_PROPERTY
                    && s.name.matches(&name, case_sensitive)
            });
            let at = match existing {
                Some(at) => {
                    // A changed value: the old property is gone, so it is added, not updated.
                    let step = &mut self.plan.steps[at];
                    if step.current.take().is_some() {
                        step.reason = Some(reason);
                    }
                    at
                }
                None => {
                    let mut step = Step::new(StepKind::CreateOther, kind::EXTENDED_PROPERTY, name);
                    step.desired = Some(property.clone());
                    step.host = Some(host);
                    step.reason = Some(reason);
                    self.plan.steps.push(step);
                    self.plan.steps.len() - 1
                }
            };
            self.edges.push((rebuild, at));
        }
    }

    /// The host of an extended property, resolved in the current or the desired model.
    fn host_of(
        &mut self,
        element: Option<&Element>,
        current: bool,
    ) -> Option<Vec<(String, String)>> {
        let element = element.filter(|e| e.kind == kind::EXTENDED_PROPERTY)?;
        let (current_model, desired_model) = (self.current, self.desired);
        let (in_current, in_desired) = self.by_name.get_or_insert_with(|| {
            (
                hosts::ByName::new(current_model),
                hosts::ByName::new(desired_model),
            )
        });
        hosts::host_chain(if current { in_current } else { in_desired }, element)
    }

    fn create(&mut self, change: &Change, kind: StepKind) {
        let mut step = Step::new(kind, &change.kind, change.name.clone());
        step.desired = change.desired.clone();
        step.host = self.host_of(change.desired.as_ref(), false);
        if scripted_from_references(&change.kind)
            && let Some(rel) = change.desired.as_ref().and_then(empty_reference)
        {
            let table = change.desired.as_ref().and_then(view::owner);
            self.hazard(
                HazardKind::EmptyReference,
                &change.name,
                table,
                format!(
                    "{} {} cannot be created: its {rel} in the package is empty (`<Entry />`), so the package does not say what it is on",
                    change.kind,
                    display_name(change)
                ),
            );
        }
        // SQL Server writes XML schema collections and XML indexes from their properties.
        let from_properties = matches!(
            change.kind.as_str(),
            kind::XML_SCHEMA_COLLECTION | kind::XML_INDEX
        );
        if !kind::is_modelled(&change.kind)
            && !from_properties
            && !has_definition(change.desired.as_ref())
        {
            self.hazard(
                HazardKind::Unscriptable,
                &change.name,
                None,
                format!(
                    "{} {} is kept as an opaque object without a script; it cannot be created by dac",
                    change.kind, change.name
                ),
            );
        }
        self.plan.steps.push(step);
    }

    fn drop(&mut self, change: &Change, kind: StepKind) {
        let mut step = Step::new(
            kind,
            &change.kind,
            change
                .renamed_from
                .clone()
                .unwrap_or_else(|| change.name.clone()),
        );
        step.current = change.current.clone();
        step.host = self.host_of(change.current.as_ref(), true);
        self.plan.steps.push(step);
    }
}

/// Whether an element carries a definition a dialect can script (opaque objects built from
/// source keep their statement text).
fn has_definition(element: Option<&Element>) -> bool {
    element.is_some_and(|e| e.text_prop(DEFINITION).is_some())
}

/// Property holding the statement text of objects the engine keeps but does not model.
pub const DEFINITION: &str = "Definition";

/// Step kinds that create and drop an object of a DacFx kind.
fn kinds_for(object_kind: &str) -> (StepKind, StepKind) {
    match object_kind {
        kind::SCHEMA => (StepKind::CreateSchema, StepKind::DropSchema),
        kind::FOREIGN_KEY => (StepKind::AddForeignKey, StepKind::DropForeignKey),
        kind::PRIMARY_KEY | kind::UNIQUE | kind::CHECK | kind::DEFAULT => {
            (StepKind::AddConstraint, StepKind::DropConstraint)
        }
        kind::INDEX | kind::COLUMN_STORE_INDEX => (StepKind::CreateIndex, StepKind::DropIndex),
        kind::VIEW
        | kind::PROCEDURE
        | kind::SCALAR_FUNCTION
        | kind::INLINE_TVF
        | kind::MULTI_TVF => (StepKind::CreateProgrammable, StepKind::DropProgrammable),
        kind::DML_TRIGGER => (StepKind::CreateTrigger, StepKind::DropTrigger),
        kind::SEQUENCE => (StepKind::CreateSequence, StepKind::DropSequence),
        kind::USER_DEFINED_DATA_TYPE
        | kind::TABLE_TYPE
        | kind::XML_SCHEMA_COLLECTION
        | "PgEnumType"
        | "PgCompositeType"
        | "PgRangeType"
        | "PgType"
        | "PgDomain"
        | "PgCollation" => (StepKind::CreateType, StepKind::DropType),
        // Extensions bring types and functions that tables use: made early, dropped late.
        "PgExtension" => (StepKind::CreatePrincipal, StepKind::DropSchema),
        kind::ROLE | kind::USER => (StepKind::CreatePrincipal, StepKind::DropOther),
        // A catalog holds full-text indexes: made early, dropped late.
        kind::FULL_TEXT_CATALOG => (StepKind::CreatePrincipal, StepKind::DropSchema),
        // A membership needs its role and its member, made by CreatePrincipal steps.
        kind::ROLE_MEMBERSHIP => (StepKind::CreateOther, StepKind::DropOther),
        _ => (StepKind::CreateOther, StepKind::DropOther),
    }
}

/// Sorts steps by kind (parents before inheriting tables, indexes on views after the views),
/// then by the dependency graph with that order breaking ties: creates after what they use,
/// drops before what they used. `extra` are edges (before, after) between positions of `steps`
/// as planned. Returns the cycles of hard dependencies found.
fn order(
    steps: &mut Vec<Step>,
    index: &graph::NameIndex,
    current_owned: &Owned<'_>,
    extra: &[(usize, usize)],
) -> Vec<graph::Cycle> {
    // Kind order, stable, remembering where each planned step went.
    let mut positions: Vec<usize> = (0..steps.len()).collect();
    positions.sort_by_key(|&i| steps[i].kind);
    let mut taken: Vec<Option<Step>> = steps.drain(..).map(Some).collect();
    let mut tagged: Vec<(usize, Step)> = positions
        .iter()
        .filter_map(|&i| Some((i, taken[i].take()?)))
        .collect();
    order_parents_first(&mut tagged, StepKind::CreateTable);
    order_parents_first(&mut tagged, StepKind::DropTable);
    indexes_after_their_views(&mut tagged);
    let mut at = vec![0usize; tagged.len()];
    for (position, (planned, _)) in tagged.iter().enumerate() {
        at[*planned] = position;
    }
    let extra: Vec<(usize, usize)> = extra.iter().map(|&(a, b)| (at[a], at[b])).collect();
    steps.extend(tagged.into_iter().map(|(_, s)| s));
    graph::sort(steps, index, current_owned, &extra)
}

/// Indexes on views (materialized views) created in this plan go after the views.
fn indexes_after_their_views(steps: &mut Vec<(usize, Step)>) {
    let views: Vec<ObjectName> = steps
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.kind == StepKind::CreateProgrammable && s.object_kind == kind::VIEW)
        .map(|s| s.name.clone())
        .collect();
    let Some(last) = steps
        .iter()
        .rposition(|(_, s)| s.kind == StepKind::CreateProgrammable)
    else {
        return;
    };
    let on_view = |(_, s): &(usize, Step)| {
        s.kind == StepKind::CreateIndex
            && s.desired
                .as_ref()
                .and_then(view::owner)
                .is_some_and(|o| views.contains(o))
    };
    let moved: Vec<(usize, Step)> = steps.iter().filter(|s| on_view(s)).cloned().collect();
    if moved.is_empty() {
        return;
    }
    let insert_at = last + 1 - moved.len();
    steps.retain(|s| !on_view(s));
    for (offset, step) in moved.into_iter().enumerate() {
        steps.insert(insert_at + offset, step);
    }
}

/// Tables created after the tables they inherit from or are partitions of, and dropped before
/// them (PostgreSQL).
fn order_parents_first(steps: &mut [(usize, Step)], step_kind: StepKind) {
    let Some(start) = steps.iter().position(|(_, s)| s.kind == step_kind) else {
        return;
    };
    let end = steps[start..]
        .iter()
        .position(|(_, s)| s.kind != step_kind)
        .map_or(steps.len(), |n| start + n);
    let group = &mut steps[start..end];
    let dropping = step_kind == StepKind::DropTable;
    if dropping {
        group.reverse();
    }
    let parents = |step: &Step| -> Vec<ObjectName> {
        let Some(table) = step.desired.as_ref().or(step.current.as_ref()) else {
            return Vec::new();
        };
        let mut out: Vec<ObjectName> = table
            .text_prop(prop::INHERITS)
            .map(|t| {
                t.split(", ")
                    .filter_map(|p| ObjectName::parse(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.extend(table.reference_name("PartitionOf").cloned());
        out
    };
    // Repeatedly move a table behind the last of its parents (bounded: cycles stay as they are).
    for _ in 0..group.len() {
        let mut moved = false;
        for i in 0..group.len() {
            let wanted = parents(&group[i].1);
            let last_parent = group
                .iter()
                .enumerate()
                .filter(|(_, (_, s))| wanted.contains(&s.name))
                .map(|(j, _)| j)
                .max();
            if let Some(j) = last_parent
                && j > i
            {
                group[i..=j].rotate_left(1);
                moved = true;
                break;
            }
        }
        if !moved {
            break;
        }
    }
    if dropping {
        group.reverse();
    }
}

/// The text a programmable object is defined by.
pub(crate) fn definition_text(element: &Element) -> String {
    let mut text = String::new();
    for prop in ["QueryScript", "BodyScript", DEFINITION] {
        if let Some(t) = element.text_prop(prop) {
            text.push_str(t);
            text.push('\n');
        }
    }
    for body in element.children(kind::rel::FUNCTION_BODY) {
        if let Some(t) = body.text_prop(prop::BODY_SCRIPT) {
            text.push_str(t);
        }
    }
    text
}

/// Whether `text` mentions `name` as a whole word.
pub(crate) fn mentions(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '@' || c == '#' || c == '$';
    let mut from = 0;
    while let Some(pos) = text[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests;
