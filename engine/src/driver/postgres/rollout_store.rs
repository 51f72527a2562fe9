//! A rollout journal in a PostgreSQL database ([`RolloutStore`]): three tables, created on first
//! use under a transaction-level advisory lock (so workers starting together do not race).
//!
//! * `dac_rollout_journal`: one row per rollout (its name, id, head document, the health gate's
//!   holder and heartbeat); a name's current rollout is its last row.
//! * `dac_rollout_target`: one row per target (record document, domain, settled, the claiming
//!   worker and its heartbeat). Claims are `SELECT ... FOR UPDATE SKIP LOCKED`.
//!
//! Heartbeats and their ages use the server's clock, so workers on machines whose clocks differ
//! agree on who is stale.

use std::time::Duration;

use postgres::Client;

use super::{PostgresDriver, driver_error};
use crate::driver::redact;
use crate::driver::rollout_store::{
    Claim, LiveClaim, NewTarget, RolloutStore, ServerCap, StoredRollout,
};
use crate::{Error, Result};

const CREATE_TABLES: &str = r#"
SELECT pg_advisory_xact_lock(hashtext('dac_rollout_tables'));
CREATE TABLE IF NOT EXISTS "dac_rollout_journal" (
    "seq" bigserial PRIMARY KEY,
    "name" text NOT NULL,
    "rollout_id" text NOT NULL UNIQUE,
    "head" text NOT NULL,
    "gate_worker" text,
    "gate_heartbeat" timestamptz
);
CREATE TABLE IF NOT EXISTS "dac_rollout_target" (
    "rollout_id" text NOT NULL,
    "position" integer NOT NULL,
    "domain" integer NOT NULL,
    "record" text NOT NULL,
    "settled" boolean NOT NULL,
    "worker" text,
    "heartbeat" timestamptz,
    PRIMARY KEY ("rollout_id", "position")
);
"#;

const LOCK_NAME: &str = r#"SELECT pg_advisory_lock(hashtext('dac_rollout:' || $1))"#;
const UNLOCK_NAME: &str = r#"SELECT pg_advisory_unlock(hashtext('dac_rollout:' || $1))"#;
const CURRENT: &str = r#"SELECT "rollout_id", "head" FROM "dac_rollout_journal"
    WHERE "name" = $1 ORDER BY "seq" DESC LIMIT 1"#;
const TARGETS: &str = r#"SELECT "record" FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 ORDER BY "position""#;
const INSERT_JOURNAL: &str =
    r#"INSERT INTO "dac_rollout_journal" ("name", "rollout_id", "head") VALUES ($1, $2, $3)"#;
const INSERT_TARGET: &str = r#"INSERT INTO "dac_rollout_target"
    ("rollout_id", "position", "domain", "record", "settled") VALUES ($1, $2, $3, $4, $5)"#;
const HEAD: &str = r#"SELECT "head" FROM "dac_rollout_journal" WHERE "rollout_id" = $1"#;
const HEAD_FOR_UPDATE: &str =
    r#"SELECT "head" FROM "dac_rollout_journal" WHERE "rollout_id" = $1 FOR UPDATE"#;
const WRITE_HEAD: &str = r#"UPDATE "dac_rollout_journal" SET "head" = $2 WHERE "rollout_id" = $1"#;
const WRITE_TARGET: &str = r#"UPDATE "dac_rollout_target" SET "record" = $3, "settled" = $4
    WHERE "rollout_id" = $1 AND "position" = $2"#;
const WRITE_CLAIMED_TARGET: &str = r#"UPDATE "dac_rollout_target" SET "record" = $3, "settled" = $4
    WHERE "rollout_id" = $1 AND "position" = $2 AND ("worker" = $5 OR "settled")"#;
const DOMAIN: &str = r#"SELECT "position", "record" FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 AND "domain" = $2 ORDER BY "position""#;
const CLAIMABLE: &str = r#"SELECT "position", "record", "worker" FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 AND "domain" = $2 AND NOT "settled"
      AND ("worker" IS NULL OR "heartbeat" < now() - make_interval(secs => $3))
    ORDER BY "position" LIMIT $4 FOR UPDATE SKIP LOCKED"#;
/// Taken before claiming under a server cap: claims are then made one at a time, so the live
/// claims counted stay true until the claim commits.
const CLAIM_TURN: &str =
    r#"SELECT 1 FROM "dac_rollout_journal" WHERE "rollout_id" = $1 FOR UPDATE"#;
const LIVE_POSITIONS: &str = r#"SELECT "position" FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 AND NOT "settled" AND "worker" IS NOT NULL
      AND "heartbeat" >= now() - make_interval(secs => $2)"#;
const TAKE: &str = r#"UPDATE "dac_rollout_target" SET "worker" = $3, "heartbeat" = now()
    WHERE "rollout_id" = $1 AND "position" = ANY($2)"#;
const UNSETTLED: &str = r#"SELECT count(*) FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 AND "domain" = $2 AND NOT "settled""#;
const BEAT_TARGETS: &str = r#"UPDATE "dac_rollout_target" SET "heartbeat" = now()
    WHERE "rollout_id" = $1 AND "worker" = $2 AND "position" = ANY($3)"#;
const BEAT_GATE: &str = r#"UPDATE "dac_rollout_journal" SET "gate_heartbeat" = now()
    WHERE "rollout_id" = $1 AND "gate_worker" = $2"#;
const GATE: &str = r#"SELECT "gate_worker",
    "gate_worker" IS NULL OR "gate_worker" = $2
        OR "gate_heartbeat" < now() - make_interval(secs => $3)
    FROM "dac_rollout_journal" WHERE "rollout_id" = $1 FOR UPDATE"#;
const TAKE_GATE: &str = r#"UPDATE "dac_rollout_journal"
    SET "gate_worker" = $2, "gate_heartbeat" = now() WHERE "rollout_id" = $1"#;
const RELEASE_GATE: &str = r#"UPDATE "dac_rollout_journal"
    SET "gate_worker" = NULL, "gate_heartbeat" = NULL
    WHERE "rollout_id" = $1 AND "gate_worker" = $2"#;
const LIVE_CLAIMS: &str = r#"SELECT "position", "worker",
    extract(epoch FROM now() - "heartbeat")::float8 FROM "dac_rollout_target"
    WHERE "rollout_id" = $1 AND NOT "settled" AND "worker" IS NOT NULL ORDER BY "position""#;

/// A rollout journal in a PostgreSQL database.
pub struct PostgresRolloutStore {
    driver: PostgresDriver,
    shown: String,
}

impl std::fmt::Debug for PostgresRolloutStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresRolloutStore({})", self.shown)
    }
}

fn position(value: usize) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::Invalid(format!("target position {value} too large")))
}

fn from_row(value: i32) -> usize {
    usize::try_from(value).unwrap_or(0)
}

impl PostgresRolloutStore {
    /// Connects to the journal database `url` and creates the tables it lacks.
    pub fn open(url: &str) -> Result<PostgresRolloutStore> {
        let driver = PostgresDriver::connect(url)?;
        let mut store = PostgresRolloutStore {
            driver,
            shown: redact(url),
        };
        let mut tx = store.client().transaction().map_err(|e| store_error(&e))?;
        tx.batch_execute(CREATE_TABLES)
            .map_err(|e| driver_error(&e, Some(CREATE_TABLES)))?;
        tx.commit().map_err(|e| store_error(&e))?;
        Ok(store)
    }

    fn client(&mut self) -> &mut Client {
        &mut self.driver.client
    }
}

fn store_error(err: &postgres::Error) -> Error {
    driver_error(err, None)
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl RolloutStore for PostgresRolloutStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn lock(&mut self, name: &str) -> Result<()> {
        self.client()
            .execute(LOCK_NAME, &[&name])
            .map_err(|e| driver_error(&e, Some(LOCK_NAME)))?;
        Ok(())
    }

    fn unlock(&mut self, name: &str) -> Result<()> {
        self.client()
            .execute(UNLOCK_NAME, &[&name])
            .map_err(|e| driver_error(&e, Some(UNLOCK_NAME)))?;
        Ok(())
    }

    fn read(&mut self, name: &str) -> Result<Option<StoredRollout>> {
        // One snapshot of both tables: a reader never sees a head newer than its targets.
        let mut tx = self
            .client()
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| store_error(&e))?;
        let Some(row) = tx
            .query_opt(CURRENT, &[&name])
            .map_err(|e| driver_error(&e, Some(CURRENT)))?
        else {
            return Ok(None);
        };
        let id: String = row.get(0);
        let head: String = row.get(1);
        let targets = tx
            .query(TARGETS, &[&id])
            .map_err(|e| driver_error(&e, Some(TARGETS)))?
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        tx.commit().map_err(|e| store_error(&e))?;
        Ok(Some(StoredRollout { id, head, targets }))
    }

    fn create(&mut self, name: &str, id: &str, head: &str, targets: &[NewTarget]) -> Result<()> {
        let mut tx = self.client().transaction().map_err(|e| store_error(&e))?;
        tx.execute(INSERT_JOURNAL, &[&name, &id, &head])
            .map_err(|e| driver_error(&e, Some(INSERT_JOURNAL)))?;
        let insert = tx.prepare(INSERT_TARGET).map_err(|e| store_error(&e))?;
        for (n, t) in targets.iter().enumerate() {
            let domain = position(t.domain)?;
            tx.execute(
                &insert,
                &[&id, &position(n)?, &domain, &t.record, &t.settled],
            )
            .map_err(|e| driver_error(&e, Some(INSERT_TARGET)))?;
        }
        tx.commit().map_err(|e| store_error(&e))
    }

    fn read_head(&mut self, id: &str) -> Result<String> {
        let row = self
            .client()
            .query_opt(HEAD, &[&id])
            .map_err(|e| driver_error(&e, Some(HEAD)))?;
        row.map(|r| r.get(0))
            .ok_or_else(|| Error::Invalid(format!("journal {}: rollout {id} is gone", self.shown)))
    }

    fn update_head(
        &mut self,
        id: &str,
        change: &mut dyn FnMut(&str) -> Result<String>,
    ) -> Result<()> {
        let shown = self.shown.clone();
        let mut tx = self.client().transaction().map_err(|e| store_error(&e))?;
        let row = tx
            .query_opt(HEAD_FOR_UPDATE, &[&id])
            .map_err(|e| driver_error(&e, Some(HEAD_FOR_UPDATE)))?
            .ok_or_else(|| Error::Invalid(format!("journal {shown}: rollout {id} is gone")))?;
        let head: String = row.get(0);
        let new = change(&head)?;
        tx.execute(WRITE_HEAD, &[&id, &new])
            .map_err(|e| driver_error(&e, Some(WRITE_HEAD)))?;
        tx.commit().map_err(|e| store_error(&e))
    }

    fn write_target(
        &mut self,
        id: &str,
        at: usize,
        record: &str,
        settled: bool,
        worker: Option<&str>,
    ) -> Result<()> {
        let p = position(at)?;
        let written = match worker {
            None => self
                .client()
                .execute(WRITE_TARGET, &[&id, &p, &record, &settled])
                .map_err(|e| driver_error(&e, Some(WRITE_TARGET)))?,
            Some(worker) => self
                .client()
                .execute(WRITE_CLAIMED_TARGET, &[&id, &p, &record, &settled, &worker])
                .map_err(|e| driver_error(&e, Some(WRITE_CLAIMED_TARGET)))?,
        };
        if written != 1 {
            return Err(Error::Blocked {
                reason: format!(
                    "journal {}: worker {} no longer holds target {at} of rollout {id}: its heartbeat was late and another worker took it over",
                    self.shown,
                    worker.unwrap_or("?")
                ),
            });
        }
        Ok(())
    }

    fn read_domain(&mut self, id: &str, domain: usize) -> Result<Vec<(usize, String)>> {
        let d = position(domain)?;
        Ok(self
            .client()
            .query(DOMAIN, &[&id, &d])
            .map_err(|e| driver_error(&e, Some(DOMAIN)))?
            .iter()
            .map(|r| (from_row(r.get(0)), r.get(1)))
            .collect())
    }

    fn claim(
        &mut self,
        id: &str,
        domain: usize,
        worker: &str,
        limit: usize,
        stale: Duration,
        cap: Option<&ServerCap>,
    ) -> Result<Vec<Claim>> {
        let d = position(domain)?;
        let mut tx = self.client().transaction().map_err(|e| store_error(&e))?;
        let rows = match cap {
            None => {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                tx.query(CLAIMABLE, &[&id, &d, &seconds(stale), &limit])
                    .map_err(|e| driver_error(&e, Some(CLAIMABLE)))?
            }
            Some(cap) => {
                tx.query(CLAIM_TURN, &[&id])
                    .map_err(|e| driver_error(&e, Some(CLAIM_TURN)))?;
                let live = tx
                    .query(LIVE_POSITIONS, &[&id, &seconds(stale)])
                    .map_err(|e| driver_error(&e, Some(LIVE_POSITIONS)))?;
                let server = |p: usize| {
                    cap.server_of
                        .get(&p)
                        .cloned()
                        .unwrap_or_else(|| format!("#{p}"))
                };
                let mut on_server: std::collections::BTreeMap<String, usize> =
                    std::collections::BTreeMap::new();
                for row in &live {
                    *on_server.entry(server(from_row(row.get(0)))).or_default() += 1;
                }
                let candidates = tx
                    .query(CLAIMABLE, &[&id, &d, &seconds(stale), &i64::MAX])
                    .map_err(|e| driver_error(&e, Some(CLAIMABLE)))?;
                let mut chosen = Vec::new();
                for row in candidates {
                    if chosen.len() >= limit {
                        break;
                    }
                    let count = on_server.entry(server(from_row(row.get(0)))).or_default();
                    if *count < cap.per_server {
                        *count += 1;
                        chosen.push(row);
                    }
                }
                chosen
            }
        };
        let claims: Vec<Claim> = rows
            .iter()
            .map(|r| Claim {
                position: from_row(r.get(0)),
                record: r.get(1),
                taken_from: r.get(2),
            })
            .collect();
        let positions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        if !positions.is_empty() {
            tx.execute(TAKE, &[&id, &positions, &worker])
                .map_err(|e| driver_error(&e, Some(TAKE)))?;
        }
        tx.commit().map_err(|e| store_error(&e))?;
        Ok(claims)
    }

    fn unsettled(&mut self, id: &str, domain: usize) -> Result<usize> {
        let d = position(domain)?;
        let row = self
            .client()
            .query_one(UNSETTLED, &[&id, &d])
            .map_err(|e| driver_error(&e, Some(UNSETTLED)))?;
        Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn heartbeat(&mut self, id: &str, worker: &str, positions: &[usize], gate: bool) -> Result<()> {
        if !positions.is_empty() {
            let positions = positions
                .iter()
                .map(|&p| position(p))
                .collect::<Result<Vec<i32>>>()?;
            self.client()
                .execute(BEAT_TARGETS, &[&id, &worker, &positions])
                .map_err(|e| driver_error(&e, Some(BEAT_TARGETS)))?;
        }
        if gate {
            self.client()
                .execute(BEAT_GATE, &[&id, &worker])
                .map_err(|e| driver_error(&e, Some(BEAT_GATE)))?;
        }
        Ok(())
    }

    fn take_gate(
        &mut self,
        id: &str,
        worker: &str,
        stale: Duration,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.client().transaction().map_err(|e| store_error(&e))?;
        let row = tx
            .query_one(GATE, &[&id, &worker, &seconds(stale)])
            .map_err(|e| driver_error(&e, Some(GATE)))?;
        let holder: Option<String> = row.get(0);
        let free: bool = row.get(1);
        if !free {
            return Ok(None);
        }
        tx.execute(TAKE_GATE, &[&id, &worker])
            .map_err(|e| driver_error(&e, Some(TAKE_GATE)))?;
        tx.commit().map_err(|e| store_error(&e))?;
        Ok(Some(holder.filter(|h| h != worker)))
    }

    fn release_gate(&mut self, id: &str, worker: &str) -> Result<()> {
        self.client()
            .execute(RELEASE_GATE, &[&id, &worker])
            .map_err(|e| driver_error(&e, Some(RELEASE_GATE)))?;
        Ok(())
    }

    fn live_claims(&mut self, id: &str) -> Result<Vec<LiveClaim>> {
        Ok(self
            .client()
            .query(LIVE_CLAIMS, &[&id])
            .map_err(|e| driver_error(&e, Some(LIVE_CLAIMS)))?
            .iter()
            .map(|r| LiveClaim {
                position: from_row(r.get(0)),
                worker: r.get(1),
                age_seconds: r.get::<_, Option<f64>>(2).unwrap_or(0.0),
            })
            .collect())
    }
}
