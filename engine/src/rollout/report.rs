//! Rollout status and reports: text, JSON and Markdown, from the journal alone.

use serde::Serialize;

use super::journal::{Journal, LockInfo, TargetRecord, TargetState};
use super::run::{LiveRegistration, SharedJournal, Status};
use super::spec::Mode;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
    /// For pull requests and tickets.
    Markdown,
}

/// Whether (and how) a target can be returned to its previous version, said in advance.
pub fn can_roll_back(journal: &Journal, t: &TargetRecord) -> (bool, String) {
    match t.state {
        TargetState::Pending if t.mode == Mode::SideBySide => (
            false,
            "nothing to undo yet (the side-by-side upgrade retains the original)".into(),
        ),
        TargetState::Pending if journal.keeps_copies => (
            false,
            "nothing to undo yet (a copy is kept before it is upgraded)".into(),
        ),
        TargetState::Pending => (
            false,
            "nothing to undo yet (no copy will be kept: backup = false)".into(),
        ),
        TargetState::Failed | TargetState::Current => (false, "nothing to undo".into()),
        TargetState::RolledBack => (false, "rolled back".into()),
        TargetState::BackingUp | TargetState::BackedUp | TargetState::Upgrading => {
            match &t.backup {
                Some(b) => (
                    true,
                    format!(
                        "yes, if its interrupted upgrade committed ({})",
                        b.describe()
                    ),
                ),
                None => (false, "no copy was kept".into()),
            }
        }
        TargetState::Upgraded
        | TargetState::Healthy
        | TargetState::Unhealthy
        | TargetState::RollingBack => match &t.backup {
            Some(b) => (true, format!("yes ({})", b.describe())),
            None => (
                false,
                "no: no copy was kept (deploy the previous package by hand)".into(),
            ),
        },
    }
}

/// `1.0.0 -> 2.0.0` for a target the rollout changed, its one version for one it did not
/// (pending, failed, current, rolled back): never `1.0.0 -> 1.0.0`.
fn versions(t: &TargetRecord) -> String {
    let before = t.version_before.as_deref().unwrap_or("-");
    let now = t.version_now.as_deref().unwrap_or("-");
    if before == now {
        before.to_string()
    } else {
        format!("{before} -> {now}")
    }
}

/// How long the upgrade held the target: an in-place upgrade is one transaction (writers wait
/// for it; there is no read-only window), a side-by-side one has a read-only window.
fn upgrade_time(t: &TargetRecord) -> String {
    match (t.mode, t.upgrade_ms) {
        (_, None) => "-".into(),
        (Mode::InPlace, Some(v)) => format!("{v} ms"),
        (Mode::SideBySide, Some(v)) => format!("{v} ms read-only"),
    }
}

/// What a target's registry says now, and whether the journal agrees.
fn live_line(t: &TargetRecord, live: &LiveRegistration) -> String {
    match (&live.error, &live.registered) {
        (Some(e), _) => format!("cannot read its registration: {e}"),
        (None, None) => "not registered".into(),
        (None, Some(registered)) if live.version == t.version_now => {
            format!("registered {registered}")
        }
        (None, Some(registered)) => format!(
            "registered {registered} (the journal says {})",
            t.version_now.as_deref().unwrap_or("unregistered")
        ),
    }
}

fn lock_line(lock: Option<&(LockInfo, Option<bool>)>) -> String {
    match lock {
        None => "none".into(),
        Some((info, Some(true))) => format!("held by {} (running)", info.describe()),
        Some((info, Some(false))) => format!(
            "left by {} (no longer running: the next command takes it over)",
            info.describe()
        ),
        Some((info, None)) => format!("held by {} (another host)", info.describe()),
    }
}

/// Where a shared journal is and who works on what: the lines standing for the lock's.
fn shared_lines(shared: &SharedJournal) -> (String, String) {
    let journal = format!(
        "{} (shared by workers; a heartbeat older than {} s is a dead worker's)",
        shared.journal, shared.heartbeat_timeout_seconds
    );
    let workers = if shared.claims.is_empty() {
        "none working on a target now".to_string()
    } else {
        shared
            .claims
            .iter()
            .map(|c| {
                let dead = if c.heartbeat_age_seconds > shared.heartbeat_timeout_seconds {
                    ", dead: its target is taken over by the next worker"
                } else {
                    ""
                };
                format!(
                    "{} on {} (heartbeat {:.1} s ago{dead})",
                    c.worker, c.target, c.heartbeat_age_seconds
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    (journal, workers)
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v} ms"))
}

/// Renders the status (`detail` false) or the full report (`detail` true: durations,
/// read-only windows, every health check, events).
pub fn render(status: &Status, format: Format, detail: bool) -> String {
    match format {
        Format::Json => json_report(status),
        Format::Text => text(status, detail),
        Format::Markdown => markdown(status, detail),
    }
}

/// The JSON report's shape: serialized directly (not through a `serde_json::Value`, a copy of
/// the whole journal), so a 10,000-target journal renders in one pass. Fields in alphabetical
/// order, as the report always had them.
#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    journal: &'a Journal,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a Vec<LiveRegistration>>,
    lock: Option<JsonLock<'a>>,
    rollback: Vec<JsonRollback<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<&'a SharedJournal>,
}

#[derive(Serialize)]
struct JsonLock<'a> {
    alive: Option<bool>,
    holder: &'a LockInfo,
}

#[derive(Serialize)]
struct JsonRollback<'a> {
    can_roll_back: bool,
    rollback: String,
    target: &'a str,
}

fn json_report(status: &Status) -> String {
    let j = &status.journal;
    let report = JsonReport {
        format_version: 1,
        journal: j,
        live: status.live.as_ref(),
        lock: status.lock.as_ref().map(|(holder, alive)| JsonLock {
            alive: *alive,
            holder,
        }),
        rollback: j
            .targets
            .iter()
            .map(|t| {
                let (can_roll_back, rollback) = can_roll_back(j, t);
                JsonRollback {
                    can_roll_back,
                    rollback,
                    target: &t.target,
                }
            })
            .collect(),
        shared: status.shared.as_ref(),
    };
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

fn headline(j: &Journal) -> String {
    let position = match j.current_domain() {
        Some(d) if !j.state.is_final() => format!(", at domain {d} of {}", j.domains.len()),
        _ => String::new(),
    };
    format!(
        "rollout {}: {} {} — {}{position}",
        j.id,
        j.package.name,
        j.package.version,
        j.state.as_str()
    )
}

fn text(status: &Status, detail: bool) -> String {
    let j = &status.journal;
    let mut out = String::new();
    out.push_str(&headline(j));
    out.push('\n');
    out.push_str(&format!("file      {}\n", j.rollout_file));
    out.push_str(&format!("package   {}\n", j.package.path));
    match &status.shared {
        Some(shared) => {
            let (journal, workers) = shared_lines(shared);
            out.push_str(&format!("journal   {journal}\nworkers   {workers}\n"));
        }
        None => out.push_str(&format!("lock      {}\n", lock_line(status.lock.as_ref()))),
    }
    if let Some(s) = &j.supersedes {
        out.push_str(&format!(
            "supersedes rollout {} ({} {}, journal {})\n",
            s.id,
            s.version,
            s.state.as_str(),
            s.journal
        ));
    }
    let upgraded = j.targets.iter().filter(|t| t.state.is_upgraded()).count();
    let rollbackable = j.targets.iter().filter(|t| can_roll_back(j, t).0).count();
    out.push_str(&format!(
        "targets   {} in {} domain(s); {upgraded} upgraded, {rollbackable} can be rolled back\n",
        j.targets.len(),
        j.domains.len()
    ));
    for d in &j.domains {
        out.push_str(&format!(
            "\ndomain {}  {}  {} target(s){}{}\n",
            d.index,
            d.state.as_str(),
            d.targets.len(),
            d.duration_ms
                .map(|m| format!("  {m} ms"))
                .unwrap_or_default(),
            match d.peak_per_server {
                Some(peak) if detail => format!("  at most {peak} at once on one server"),
                _ => String::new(),
            }
        ));
        for &i in &d.targets {
            let t = &j.targets[i];
            let (_, why) = can_roll_back(j, t);
            out.push_str(&format!(
                "  {:<12} {:<18} {}  rollback: {why}\n",
                t.state.as_str(),
                versions(t),
                t.target
            ));
            if let Some(live) = status.live.as_ref().and_then(|l| l.get(i)) {
                out.push_str(&format!("      live: {}\n", live_line(t, live)));
            }
            if detail {
                out.push_str(&format!(
                    "      mode {}, copy {}, upgrade {}\n",
                    t.mode.as_str(),
                    ms(t.backup_ms),
                    upgrade_time(t)
                ));
                for c in &t.health {
                    out.push_str(&format!(
                        "      {} {} ({} ms){}\n",
                        if c.ok { "ok  " } else { "FAIL" },
                        c.check,
                        c.ms,
                        if c.detail.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", c.detail.replace('\n', "\n        "))
                        }
                    ));
                    if !c.output.is_empty() {
                        out.push_str(&format!(
                            "        output:\n          {}\n",
                            c.output.replace('\n', "\n          ")
                        ));
                    }
                }
                for n in &t.notes {
                    out.push_str(&format!("      note: {n}\n"));
                }
            }
            if let Some(e) = &t.error {
                out.push_str(&format!("      error: {e}\n"));
            }
            if !detail {
                for c in t.health.iter().filter(|c| !c.ok) {
                    out.push_str(&format!("      FAIL {}: {}\n", c.check, c.detail));
                }
            }
        }
    }
    if detail && !j.events.is_empty() {
        out.push_str("\nevents\n");
        for e in &j.events {
            out.push_str(&format!(
                "  {}  {}\n",
                e.at,
                e.message.replace('\n', "\n    ")
            ));
        }
    }
    out
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

fn markdown(status: &Status, detail: bool) -> String {
    let j = &status.journal;
    let mut out = format!("## {}\n\n", md_escape(&headline(j)));
    out.push_str(&format!(
        "- file: `{}`\n- package: `{}`\n",
        j.rollout_file, j.package.path,
    ));
    match &status.shared {
        Some(shared) => {
            let (journal, workers) = shared_lines(shared);
            out.push_str(&format!(
                "- journal: {}\n- workers: {}\n",
                md_escape(&journal),
                md_escape(&workers)
            ));
        }
        None => out.push_str(&format!(
            "- lock: {}\n",
            md_escape(&lock_line(status.lock.as_ref()))
        )),
    }
    if let Some(s) = &j.supersedes {
        out.push_str(&format!(
            "- supersedes rollout `{}` ({} {})\n",
            s.id,
            s.version,
            s.state.as_str()
        ));
    }
    for d in &j.domains {
        out.push_str(&format!(
            "\n### Domain {} — {}{}{}\n\n| target | step | version | copy | upgrade | health | rollback |\n|---|---|---|---|---|---|---|\n",
            d.index,
            d.state.as_str(),
            d.duration_ms.map(|m| format!(" ({m} ms)")).unwrap_or_default(),
            match d.peak_per_server {
                Some(peak) if detail => format!(", at most {peak} at once on one server"),
                _ => String::new(),
            }
        ));
        for &i in &d.targets {
            let t = &j.targets[i];
            let health = if t.health.is_empty() {
                "-".to_string()
            } else {
                t.health
                    .iter()
                    .map(|c| {
                        let output = if detail && !c.output.is_empty() {
                            format!(" (output: {})", c.output)
                        } else {
                            String::new()
                        };
                        if c.ok {
                            format!("✓ {}{output}", c.check)
                        } else if detail {
                            format!("✗ {}: {}{output}", c.check, c.detail)
                        } else {
                            format!("✗ {}", c.check)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let health = match &t.error {
                Some(e) => format!("upgrade failed: {e}; {health}"),
                None => health,
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} |\n",
                t.target,
                t.state.as_str(),
                versions(t),
                ms(t.backup_ms),
                upgrade_time(t),
                md_escape(&health),
                md_escape(&can_roll_back(j, t).1)
            ));
        }
    }
    if detail && !j.events.is_empty() {
        out.push_str("\n### Events\n\n");
        for e in &j.events {
            out.push_str(&format!("- {} {}\n", e.at, md_escape(&e.message)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Snapshot;
    use crate::rollout::journal::{
        Backup, CheckResult, DomainRecord, DomainState, FORMAT_VERSION, PackageInfo, RolloutState,
    };

    fn target(index: usize, state: TargetState, backup: Option<Backup>) -> TargetRecord {
        TargetRecord {
            index,
            target: format!("sqlite:/f/db{index}.db"),
            platform: "sqlite".into(),
            mode: Mode::InPlace,
            domain: index,
            state,
            version_before: Some("1.0.0".into()),
            hash_before: Some("A".into()),
            version_now: Some(
                if state.is_upgraded() {
                    "2.0.0"
                } else {
                    "1.0.0"
                }
                .into(),
            ),
            backup,
            backup_ms: Some(3),
            upgrade_ms: Some(7),
            started_at: None,
            finished_at: None,
            health: Vec::new(),
            error: None,
            notes: Vec::new(),
            carry_history: Vec::new(),
            worker: None,
        }
    }

    fn journal() -> Journal {
        let copy = Some(Backup::Snapshot(Snapshot::SqliteCopy {
            path: "/f/fleet.backups/x/0000-db0.db".into(),
        }));
        let mut unhealthy = target(1, TargetState::Unhealthy, copy.clone());
        unhealthy.health.push(CheckResult {
            check: "probe stock | count".into(),
            ok: false,
            detail: "expected \"0\", got \"1\"".into(),
            ms: 1,
            output: String::new(),
        });
        let targets = vec![
            target(0, TargetState::Healthy, copy),
            unhealthy,
            target(2, TargetState::Upgraded, None),
            target(3, TargetState::Pending, None),
            target(4, TargetState::Failed, None),
        ];
        Journal {
            format_version: FORMAT_VERSION,
            id: "r1".into(),
            rollout_file: "/f/fleet.toml".into(),
            package: PackageInfo {
                path: "/f/shop-v2".into(),
                name: "shop".into(),
                version: "2.0.0".into(),
                model_hashes: Default::default(),
            },
            manual: false,
            state: RolloutState::Stuck,
            created_at: String::new(),
            updated_at: String::new(),
            supersedes: None,
            keeps_copies: true,
            domains: (0..5)
                .map(|i| {
                    let mut domain = DomainRecord::pending(i, vec![i]);
                    if i < 2 {
                        domain.state = DomainState::Healthy;
                    }
                    domain
                })
                .collect(),
            targets,
            events: Vec::new(),
            log_seq: 0,
        }
    }

    #[test]
    fn status_says_in_advance_what_can_be_rolled_back() {
        let j = journal();
        let can: Vec<bool> = j.targets.iter().map(|t| can_roll_back(&j, t).0).collect();
        assert_eq!(can, [true, true, false, false, false]);
        assert!(
            can_roll_back(&j, &j.targets[2])
                .1
                .contains("no copy was kept")
        );
        assert!(
            can_roll_back(&j, &j.targets[3])
                .1
                .contains("a copy is kept")
        );
    }

    #[test]
    fn renders_text_json_and_markdown() {
        let status = Status {
            journal: journal(),
            lock: None,
            live: None,
            shared: None,
        };
        let text = render(&status, Format::Text, false);
        assert!(text.contains("stuck, at domain 2 of 5"), "{text}");
        assert!(text.contains("2 can be rolled back"), "{text}");
        assert!(text.contains("FAIL probe stock | count"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&status, Format::Json, true)).unwrap();
        assert_eq!(json["journal"]["state"], "stuck");
        assert_eq!(json["rollback"][0]["can_roll_back"], true);
        assert_eq!(json["rollback"][3]["can_roll_back"], false);
        // A journal database shared by workers: where it is and who works on what, no lock.
        let shared = Status {
            shared: Some(SharedJournal {
                journal: "postgres://dac:***@jdb/r (rollout \"fleet\")".into(),
                claims: vec![
                    crate::rollout::WorkerClaim {
                        target: "sqlite:db2.db".into(),
                        worker: "w1".into(),
                        heartbeat_age_seconds: 0.5,
                    },
                    crate::rollout::WorkerClaim {
                        target: "sqlite:db3.db".into(),
                        worker: "w2".into(),
                        heartbeat_age_seconds: 45.0,
                    },
                ],
                heartbeat_timeout_seconds: 30.0,
            }),
            ..status.clone()
        };
        let text = render(&shared, Format::Text, false);
        assert!(!text.contains("lock "), "{text}");
        assert!(
            text.contains("workers   w1 on sqlite:db2.db (heartbeat 0.5 s ago); w2 on sqlite:db3.db (heartbeat 45.0 s ago, dead"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&shared, Format::Json, false)).unwrap();
        assert_eq!(json["shared"]["claims"][1]["worker"], "w2");
        assert!(render(&shared, Format::Markdown, false).contains("- workers: w1 on"));
        let markdown = render(&status, Format::Markdown, true);
        // A pipe in a check's name does not break the table.
        assert!(markdown.contains("probe stock \\| count"), "{markdown}");
        assert_eq!(
            markdown
                .lines()
                .filter(|l| l.starts_with("| `sqlite:"))
                .count(),
            5
        );
    }

    #[test]
    fn pending_targets_show_one_version_and_in_place_upgrades_no_read_only_window() {
        let mut journal = journal();
        journal.targets[2].mode = Mode::SideBySide;
        let status = Status {
            journal,
            lock: None,
            live: None,
            shared: None,
        };
        let text = render(&status, Format::Text, true);
        assert!(!text.contains("1.0.0 -> 1.0.0"), "{text}");
        let pending = text.lines().find(|l| l.contains("db3.db")).unwrap();
        assert!(
            pending.contains("pending") && pending.contains(" 1.0.0 "),
            "{pending}"
        );
        let upgraded = text.lines().find(|l| l.contains("db0.db")).unwrap();
        assert!(upgraded.contains("1.0.0 -> 2.0.0"), "{upgraded}");
        let windows: Vec<&str> = text.lines().filter(|l| l.contains("mode ")).collect();
        assert!(
            windows[0].contains("mode in-place") && windows[0].ends_with("upgrade 7 ms"),
            "{text}"
        );
        assert!(
            windows[2].contains("mode side-by-side")
                && windows[2].ends_with("upgrade 7 ms read-only"),
            "{text}"
        );
        let markdown = render(&status, Format::Markdown, true);
        assert_eq!(markdown.matches("read-only").count(), 1, "{markdown}");
    }
}
