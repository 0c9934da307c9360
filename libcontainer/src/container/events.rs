//! `events`: the container's statistics (runc's `stats` event) once, or a stream of
//! them with an `oom` event each time its cgroup runs out of memory, until it stops.
//! Events are JSON objects as runc prints them: `{"type":"stats","id":ID,"data":{…}}`,
//! `{"type":"oom","id":ID}`.

use crate::state::{process_alive, Saved, StateDir, Status};
use crate::{Error, Result};
use corral_cgroups::stats::Stats;
use corral_cgroups::Cgroup;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the stream looks for OOMs and for the container's end between two stats.
const POLL: Duration = Duration::from_millis(100);

/// One event, serialised in runc's order: type, id, data.
#[derive(Debug, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// The `stats` event of a created, running or paused container.
pub fn stats(root: &Path, id: &str) -> Result<Event> {
    let saved = load_active(root, id)?;
    Ok(stats_event(super::pause::cgroup(&saved, "events")?, id))
}

/// Calls `emit` with a `stats` event now and every `interval`, and with an `oom` event
/// each time the OOM count of the cgroup grows; returns once the container has stopped
/// or `emit` returns false (nobody reads any more)
/// (its init is gone). The state dir is not held, so other commands are not held up.
pub fn events(
    root: &Path,
    id: &str,
    interval: Duration,
    emit: &mut dyn FnMut(&Event) -> bool,
) -> Result<()> {
    let saved = load_active(root, id)?;
    let cg = super::pause::cgroup(&saved, "events")?;
    let mut ooms = cg.oom_count();
    let mut next_stats = Instant::now();
    loop {
        let now = cg.oom_count();
        if now > ooms {
            let oom = Event {
                kind: "oom",
                id: id.to_string(),
                data: None,
            };
            if !emit(&oom) {
                return Ok(());
            }
        }
        ooms = now;
        if !process_alive(saved.pid, saved.pid_start) {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            if !emit(&stats_event(cg, id)) {
                return Ok(());
            }
            next_stats += interval;
        }
        std::thread::sleep(POLL.min(interval));
    }
}

fn stats_event(cg: &Cgroup, id: &str) -> Event {
    Event {
        kind: "stats",
        id: id.to_string(),
        data: Some(cg.stats()),
    }
}

/// The saved state of a container that is not stopped.
fn load_active(root: &Path, id: &str) -> Result<Saved> {
    let dir = StateDir::peek(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    match (status, saved) {
        (Status::Created | Status::Running | Status::Paused, Some(s)) => Ok(s),
        _ => Err(Error::BadStatus {
            id: id.to_string(),
            status: status.as_str(),
            msg: "no events from a container that is not running",
        }),
    }
}
