//! Crawl workers sharing one store (several `patroli run` or `patroli crawl` processes, on one
//! machine or on several against PostgreSQL): each source's run is leased to one worker and
//! renewed while it runs, a dead worker's run is taken over, and on PostgreSQL every request
//! keeps to per-host slots shared by all workers. The store holds the leases and slots
//! (`index::crawlshare`); this module decides when to take, keep and give them back.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use patroli_crawler::{SharedPoliteness, Source};
use patroli_index::{Claim, Store};
use tracing::{info, warn};

/// How long a run's lease lasts unless renewed; a dead worker's run waits this long at most
/// before another worker takes it over.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Per-host request slots from the store, shared by every worker.
pub struct StoreSlots(pub Store);

impl SharedPoliteness for StoreSlots {
    fn reserve<'a>(
        &'a self,
        host: &'a str,
        interval: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Duration, String>> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .reserve_host_slot(host, interval)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// This process as a lease holder: `host:pid/space`, where `space` names the process-id space
/// it lives in (this boot of this kernel, this PID namespace), so that a process id is only
/// ever compared with others from the same space.
pub fn worker_id() -> String {
    format!("{}:{}/{}", host_name(), std::process::id(), pid_space())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// A short tag for this process-id space: the kernel's boot id and the PID namespace. Empty
/// where either cannot be read, and then no holder is ever judged dead here.
fn pid_space() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
    let namespace = std::fs::read_link("/proc/self/ns/pid");
    match (boot, namespace) {
        (Ok(boot), Ok(ns)) => {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(
                format!("{}{}", boot.trim(), ns.display()).as_bytes(),
            );
            hex::encode(&digest[..3])
        }
        _ => String::new(),
    }
}

/// Whether `holder` was a process of this machine, in this process-id space, that no longer
/// runs (a crashed or killed worker), so its leases can be taken over without waiting for them
/// to expire. Anything else (another machine, another container or boot, a process that still
/// runs) is left to its lease's expiry.
fn is_dead_here(holder: &str) -> bool {
    let Some((host, rest)) = holder.rsplit_once(':') else {
        return false;
    };
    let Some((pid, space)) = rest.split_once('/') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let here = pid_space();
    !here.is_empty()
        && space == here
        && host == host_name()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The leases of one crawl: taken before it starts, renewed while it runs, given back after.
pub struct Leases {
    store: Store,
    holder: String,
    ttl: Duration,
    held: Vec<String>,
}

impl Leases {
    /// Claims the runs of `sources`: returns the leases and the sources they cover, and logs
    /// the sources skipped because another worker runs them.
    pub async fn claim(
        store: &Store,
        ttl: Duration,
        sources: Vec<Source>,
    ) -> anyhow::Result<(Leases, Vec<Source>)> {
        let holder = worker_id();
        let mut mine = Vec::new();
        for source in sources {
            let granted = match store.claim_run(&source.id, &holder, ttl).await? {
                Claim::Granted => true,
                Claim::HeldBy { holder: other, .. } if is_dead_here(&other) => {
                    info!(source = %source.id, dead = %other, "taking over the run of a worker that is gone");
                    store
                        .take_over_run(&source.id, &other, &holder, ttl)
                        .await?
                }
                Claim::HeldBy {
                    holder: other,
                    expires_at,
                } => {
                    warn!(source = %source.id, worker = %other, until = %expires_at, "another worker is running this source; skipped");
                    false
                }
            };
            if granted {
                mine.push(source);
            }
        }
        let held = mine.iter().map(|s| s.id.clone()).collect();
        Ok((
            Leases {
                store: store.clone(),
                holder,
                ttl,
                held,
            },
            mine,
        ))
    }

    /// Renews the leases every third of their time, until one is lost to another worker (this
    /// worker was stalled past its lease); then returns why, and the crawl should stop. A store
    /// that cannot be reached is retried at the next renewal.
    pub async fn keep(&self) -> anyhow::Error {
        loop {
            tokio::time::sleep(self.ttl / 3).await;
            for id in &self.held {
                match self.store.claim_run(id, &self.holder, self.ttl).await {
                    Ok(Claim::Granted) => {}
                    Ok(Claim::HeldBy { holder, .. }) => {
                        return anyhow::anyhow!(
                            "the run of `{id}` was taken over by worker {holder} while this worker was stalled; stopping so the run is not done twice"
                        );
                    }
                    Err(e) => {
                        warn!(source = %id, error = %e, "cannot renew the run's lease; retrying")
                    }
                }
            }
        }
    }

    /// Gives the leases back (a failure only delays the next run until they expire).
    pub async fn release(self) {
        for id in &self.held {
            if let Err(e) = self.store.release_run(id, &self.holder).await {
                warn!(source = %id, error = %e, "cannot release the run's lease; it expires by itself");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gone_processes_of_this_machine_and_pid_space_are_dead() {
        let (host, space) = (host_name(), pid_space());
        assert!(!space.is_empty(), "this test runs on Linux");
        assert!(!is_dead_here(&worker_id()), "this process is alive");
        // Process ids above the kernel's limit (2^22) are never in use.
        assert!(is_dead_here(&format!("{host}:99999999/{space}")));
        assert!(!is_dead_here(&format!("another-machine:99999999/{space}")));
        // Another container with this host name, or this machine before a reboot.
        assert!(!is_dead_here(&format!("{host}:99999999/000000")));
        assert!(!is_dead_here(&format!("{host}:99999999")));
        assert!(!is_dead_here("no-pid"));
    }
}
