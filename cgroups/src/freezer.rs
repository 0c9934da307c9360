//! Freezing and thawing the container's cgroup (`pause`, `resume`, and `destroy`, which
//! freezes a v1 cgroup so that a fork loop cannot outrun its kill loop).
//!
//! - v2: `cgroup.freeze` holds the wanted state; `cgroup.events` says `frozen 1` once
//!   every task has stopped.
//! - v1: the freezer hierarchy's `freezer.state` takes `FROZEN` or `THAWED` and reads
//!   `FREEZING` while tasks are still on their way; writing `FROZEN` again retries the
//!   tasks that were missed (new children, tasks in an uninterruptible sleep).

use crate::{write, Cgroup, Error, Result, Version};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `freeze` waits for every task to stop before it gives up and thaws.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

impl Cgroup {
    /// Stops every process of the cgroup; returns once the kernel says all are frozen.
    /// On failure (timeout) the cgroup is thawed again.
    pub fn freeze(&self) -> Result<()> {
        self.freeze_within(FREEZE_TIMEOUT)
    }

    pub(crate) fn freeze_within(&self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let r = match self.version {
            Version::V2 => freeze_v2(&self.freezer_dir()?, deadline),
            Version::V1 => freeze_v1(&self.freezer_dir()?, deadline),
        };
        if r.is_err() {
            let _ = self.thaw();
        }
        r
    }

    /// v1's kill for `destroy`: freeze (at most 1 s), SIGKILL every task, thaw. Frozen,
    /// no task can fork between the listing and the kill; thawed, the killed die. Without
    /// a freezer the caller's kill loop does it all.
    pub(crate) fn kill_frozen(&self) {
        let frozen = self.freeze_within(Duration::from_secs(1)).is_ok();
        for p in crate::pidfd::pin_listed(|| self.pids()) {
            let _ = p.signal(libc::SIGKILL);
        }
        if frozen {
            let _ = self.thaw();
        }
    }

    /// Lets the processes run again. Thawing a cgroup that is not frozen does nothing.
    pub fn thaw(&self) -> Result<()> {
        let dir = self.freezer_dir()?;
        match self.version {
            Version::V2 => write(&dir, "cgroup.freeze", "0", "freezer"),
            Version::V1 => write(&dir, "freezer.state", "THAWED", "freezer"),
        }
    }

    /// Whether the kernel reports the cgroup frozen (every task stopped). A cgroup with
    /// no freezer, or gone, is not frozen.
    pub fn frozen(&self) -> bool {
        let Ok(dir) = self.freezer_dir() else {
            return false;
        };
        match self.version {
            Version::V2 => events_frozen(&dir),
            Version::V1 => read_trim(&dir.join("freezer.state")) == "FROZEN",
        }
    }

    /// The directory with the freezer files: the v2 directory, or v1's freezer hierarchy.
    fn freezer_dir(&self) -> Result<PathBuf> {
        let dir = self.dir_of("freezer").ok_or_else(|| {
            Error::Other("this host has no freezer cgroup hierarchy: cannot freeze".into())
        })?;
        let probe = match self.version {
            Version::V2 => "cgroup.freeze",
            Version::V1 => "freezer.state",
        };
        if !dir.join(probe).exists() {
            return Err(Error::Other(format!(
                "{} has no {probe} (a kernel without the cgroup freezer, or the cgroup is gone)",
                dir.display()
            )));
        }
        Ok(dir.to_path_buf())
    }
}

fn read_trim(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn events_frozen(dir: &Path) -> bool {
    read_trim(&dir.join("cgroup.events"))
        .lines()
        .any(|l| l.trim() == "frozen 1")
}

/// Sleeps a little longer each round: the first checks come quickly (an idle container
/// freezes in microseconds), later ones do not spin.
fn backoff(round: u32) {
    std::thread::sleep(Duration::from_micros(100 << round.min(7)));
}

fn freeze_v2(dir: &Path, deadline: Instant) -> Result<()> {
    write(dir, "cgroup.freeze", "1", "freezer")?;
    let mut round = 0;
    while !events_frozen(dir) {
        if Instant::now() > deadline {
            return Err(timeout(dir));
        }
        backoff(round);
        round += 1;
    }
    Ok(())
}

fn freeze_v1(dir: &Path, deadline: Instant) -> Result<()> {
    let mut round = 0;
    loop {
        // Every 50 rounds, a short thaw: tasks that keep forking get a chance to finish
        // what they were doing, and the next freeze catches them all at once.
        if round % 50 == 49 {
            write(dir, "freezer.state", "THAWED", "freezer")?;
            std::thread::sleep(Duration::from_millis(1));
        }
        write(dir, "freezer.state", "FROZEN", "freezer")?;
        match read_trim(&dir.join("freezer.state")).as_str() {
            "FROZEN" => return Ok(()),
            "FREEZING" => {}
            other => {
                return Err(Error::Other(format!(
                    "{}: freezer.state reads {other:?} after writing FROZEN",
                    dir.display()
                )))
            }
        }
        if Instant::now() > deadline {
            return Err(timeout(dir));
        }
        backoff(round);
        round += 1;
    }
}

fn timeout(dir: &Path) -> Error {
    Error::Other(format!(
        "cgroup {}: the processes did not all freeze in time",
        dir.display()
    ))
}
