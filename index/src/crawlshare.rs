//! What crawl workers share through the store: leases on source runs (a run is never executed
//! twice at once, and a dead worker's run is taken over) and each host's next free request slot
//! (politeness holds across every worker). Times come from the database's clock, so workers on
//! machines whose clocks disagree still agree on them.
//!
//! A run is the unit of work, not a URL. A source is almost always one host, whose politeness
//! interval already bounds how fast it can be crawled, so splitting one source's URLs between
//! workers would only add coordination; leasing whole runs spreads sources over workers, and the
//! run's frontier (stored as it goes) lets another worker resume it. A claim is one conditional
//! upsert, atomic on both backends: it takes a free or expired lease and never waits for another
//! worker's claim to finish, which is what `FOR UPDATE SKIP LOCKED` would give on PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::db::{Backend, with_pool};
use crate::error::StoreError;
use crate::store::Store;

/// What claiming a source's run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The run is ours until the lease expires (renew it before then).
    Granted,
    /// Another worker holds it.
    HeldBy {
        holder: String,
        expires_at: DateTime<Utc>,
    },
}

/// A lease on a source's run, for the operator page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lease {
    pub source_id: String,
    pub holder: String,
    pub expires_at: DateTime<Utc>,
}

/// The database clock in milliseconds since the Unix epoch, as SQL.
fn now_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Store {
    /// Claims the run of `source_id` for `holder` for `ttl`: granted when nobody holds it, when
    /// its lease expired, or when `holder` already does (a renewal).
    pub async fn claim_run(
        &self,
        source_id: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Claim, StoreError> {
        let now = now_ms(self.backend());
        let claim = format!(
            "INSERT INTO crawl_leases (source_id, holder, expires_ms) VALUES ($1, $2, {now} + $3)
             ON CONFLICT (source_id) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
             WHERE crawl_leases.expires_ms < {now} OR crawl_leases.holder = excluded.holder"
        );
        with_pool!(&self.pool, |pool| {
            // A lease given back between the claim and the look at its holder is free again:
            // claim once more.
            loop {
                let granted = sqlx::query(&claim)
                    .bind(source_id)
                    .bind(holder)
                    .bind(millis(ttl))
                    .execute(pool)
                    .await?
                    .rows_affected()
                    > 0;
                if granted {
                    return Ok(Claim::Granted);
                }
                let held: Option<(String, i64)> = sqlx::query_as(
                    "SELECT holder, expires_ms FROM crawl_leases WHERE source_id = $1",
                )
                .bind(source_id)
                .fetch_optional(pool)
                .await?;
                if let Some((holder, expires)) = held {
                    return Ok(Claim::HeldBy {
                        holder,
                        expires_at: at_ms(expires),
                    });
                }
            }
        })
    }

    /// Takes over the lease `stale` holds on `source_id` at once, without waiting for it to
    /// expire, for when `stale` is known to be dead (a process of this machine that is gone).
    /// False when the lease is no longer `stale`'s.
    pub async fn take_over_run(
        &self,
        source_id: &str,
        stale: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms(self.backend());
        let sql = format!(
            "UPDATE crawl_leases SET holder = $1, expires_ms = {now} + $2 WHERE source_id = $3 AND holder = $4"
        );
        with_pool!(&self.pool, |pool| {
            Ok(sqlx::query(&sql)
                .bind(holder)
                .bind(millis(ttl))
                .bind(source_id)
                .bind(stale)
                .execute(pool)
                .await?
                .rows_affected()
                > 0)
        })
    }

    /// Ends `holder`'s lease on `source_id` (a run that finished or failed).
    pub async fn release_run(&self, source_id: &str, holder: &str) -> Result<(), StoreError> {
        with_pool!(&self.pool, |pool| {
            sqlx::query("DELETE FROM crawl_leases WHERE source_id = $1 AND holder = $2")
                .bind(source_id)
                .bind(holder)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Leases not yet expired, by source.
    pub async fn live_leases(&self) -> Result<Vec<Lease>, StoreError> {
        let sql = format!(
            "SELECT source_id, holder, expires_ms FROM crawl_leases WHERE expires_ms >= {} ORDER BY source_id",
            now_ms(self.backend())
        );
        with_pool!(&self.pool, |pool| {
            let rows: Vec<(String, String, i64)> = sqlx::query_as(&sql).fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|(source_id, holder, expires)| Lease {
                    source_id,
                    holder,
                    expires_at: at_ms(expires),
                })
                .collect())
        })
    }

    /// Those of `source_ids` whose run stopped half-way (URLs still pending in its frontier) and
    /// that no live lease covers: their worker died or gave up, and the run should be resumed.
    pub async fn runs_to_resume(&self, source_ids: &[String]) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT DISTINCT f.source_id FROM crawl_frontier f
             LEFT JOIN crawl_leases l ON l.source_id = f.source_id AND l.expires_ms >= {}
             WHERE f.state = 'pending' AND l.source_id IS NULL ORDER BY f.source_id",
            now_ms(self.backend())
        );
        with_pool!(&self.pool, |pool| {
            let stopped: Vec<String> = sqlx::query_scalar(&sql).fetch_all(pool).await?;
            Ok(stopped
                .into_iter()
                .filter(|s| source_ids.contains(s))
                .collect())
        })
    }

    /// Reserves the next request slot for `host` (`host:port`) shared by every worker: the
    /// later of now and the end of the previous reservation, which this one moves on by
    /// `interval`. Returns how long to wait for the slot.
    pub async fn reserve_host_slot(
        &self,
        host: &str,
        interval: Duration,
    ) -> Result<Duration, StoreError> {
        let now = now_ms(self.backend());
        let sql = format!(
            "INSERT INTO host_slots (host, next_ms) VALUES ($1, {now} + $2)
             ON CONFLICT (host) DO UPDATE SET next_ms =
               CASE WHEN host_slots.next_ms > {now} THEN host_slots.next_ms ELSE {now} END + $2
             RETURNING next_ms - $2 - {now}"
        );
        with_pool!(&self.pool, |pool| {
            let wait: i64 = sqlx::query_scalar(&sql)
                .bind(host)
                .bind(millis(interval))
                .fetch_one(pool)
                .await?;
            Ok(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Claim;
    use crate::testing::store;

    #[tokio::test]
    async fn a_run_is_leased_to_one_worker_until_released_or_expired() {
        let (_d, store) = store().await;
        let minute = Duration::from_secs(60);
        assert_eq!(
            store.claim_run("s", "a:1", minute).await.unwrap(),
            Claim::Granted
        );
        match store.claim_run("s", "b:2", minute).await.unwrap() {
            Claim::HeldBy { holder, expires_at } => {
                assert_eq!(holder, "a:1");
                assert!(expires_at > chrono::Utc::now());
            }
            other => panic!("{other:?}"),
        }
        // The holder renews; another source is free.
        assert_eq!(
            store.claim_run("s", "a:1", minute).await.unwrap(),
            Claim::Granted
        );
        assert_eq!(
            store.claim_run("t", "b:2", minute).await.unwrap(),
            Claim::Granted
        );
        assert_eq!(store.live_leases().await.unwrap().len(), 2);
        // Released: free for the other worker. Only the holder can release.
        store.release_run("s", "b:2").await.unwrap();
        assert!(matches!(
            store.claim_run("s", "b:2", minute).await.unwrap(),
            Claim::HeldBy { .. }
        ));
        store.release_run("s", "a:1").await.unwrap();
        assert_eq!(
            store.claim_run("s", "b:2", minute).await.unwrap(),
            Claim::Granted
        );
        // A lease that expired is taken.
        store
            .claim_run("u", "a:1", Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            store.claim_run("u", "b:2", minute).await.unwrap(),
            Claim::Granted
        );
        // A known-dead holder's lease is taken over at once, only from that holder.
        assert!(
            !store
                .take_over_run("u", "a:1", "c:3", minute)
                .await
                .unwrap()
        );
        assert!(
            store
                .take_over_run("u", "b:2", "c:3", minute)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn stopped_runs_without_a_live_lease_are_resumable() {
        let (_d, store) = store().await;
        let queued = |s: &str| crate::FrontierOp::Queued {
            source_id: s.into(),
            url: format!("http://{s}.test/"),
            depth: 0,
        };
        store
            .frontier_apply(&[queued("a"), queued("b"), queued("c")])
            .await
            .unwrap();
        store
            .frontier_apply(&[crate::FrontierOp::Done {
                source_id: "c".into(),
                url: "http://c.test/".into(),
            }])
            .await
            .unwrap();
        store
            .claim_run("b", "w:1", Duration::from_secs(60))
            .await
            .unwrap();
        let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        // a: pending and unleased; b: leased; c: finished; d: never ran.
        assert_eq!(store.runs_to_resume(&ids).await.unwrap(), ["a"]);
        assert!(
            store
                .runs_to_resume(&["b".to_string()])
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn host_slots_are_spaced_by_the_interval() {
        let (_d, store) = store().await;
        let gap = Duration::from_millis(500);
        let first = store.reserve_host_slot("h:80", gap).await.unwrap();
        assert!(first < Duration::from_millis(50), "{first:?}");
        let mut waits = Vec::new();
        for _ in 0..3 {
            waits.push(store.reserve_host_slot("h:80", gap).await.unwrap());
        }
        // Each reservation lands one interval after the one before it (less the moments the
        // calls themselves took).
        for (i, w) in waits.iter().enumerate() {
            let expected = gap * (i as u32 + 1);
            assert!(
                *w <= expected && *w + Duration::from_millis(200) >= expected,
                "{i}: {w:?}"
            );
        }
        // Another host has its own slots.
        assert!(store.reserve_host_slot("g:80", gap).await.unwrap() < Duration::from_millis(50));
    }
}
