//! `events`: the container's statistics (runc's `stats` event) once, or a stream of
//! them with an `oom` event each time its cgroup runs out of memory, until it stops.
//! Events are JSON objects as runc prints them: `{"type":"stats","id":ID,"data":{…}}`,
//! `{"type":"oom","id":ID}`.

use crate::state::{process_alive, Saved, StateDir, Status};
use crate::{Error, Result};
use corral_cgroups::stats::Stats;
use corral_cgroups::{Cgroup, Version};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use serde::Serialize;
use std::os::fd::AsFd;
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
    let watch = watch_oom(cg);
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
        wait(watch.as_ref(), POLL.min(interval));
    }
}

/// An inotify watch on the v2 `memory.events` (the kernel notifies its changes), so that
/// an OOM is counted at once: a systemd scope's cgroup goes with its last process (systemd
/// removes it), which takes the count with it when the OOM killer ended the init, before
/// the next poll would read it. `None` on v1 (no notification) or when it cannot be set
/// up: the stream then polls only.
fn watch_oom(cg: &Cgroup) -> Option<Inotify> {
    if cg.version != Version::V2 {
        return None;
    }
    let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
    let file = cg.dirs.first()?.path.join("memory.events");
    ino.add_watch(&file, AddWatchFlags::IN_MODIFY).ok()?;
    Some(ino)
}

/// Sleeps `limit`, or less when `watch` reports a change (whose events are then drained).
fn wait(watch: Option<&Inotify>, limit: Duration) {
    let Some(ino) = watch else {
        std::thread::sleep(limit);
        return;
    };
    let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
    if matches!(poll(&mut fds, ms), Ok(n) if n > 0) {
        let _ = ino.read_events();
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
