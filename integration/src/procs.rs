//! Processes as /proc shows them; shared by corral-conformance, corral-engines and
//! corral-corpus.

/// Our live child processes (orphans included when we are a subreaper).
pub fn children() -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ppid(*p) == Some(me))
        .collect()
}

pub fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}

// corral-conformance reaps with its own waitpid(-1): these two serve the other suites.
#[allow(dead_code)]
fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s[s.rfind(')')? + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Reaps exited children except `keep` (daemons, waited for through their `Child`,
/// whose pids must not be freed behind its back).
#[allow(dead_code)]
pub fn reap_except(keep: &[i32]) {
    for pid in children() {
        if !keep.contains(&pid) && zombie(pid) {
            // SAFETY: waitpid on our own exited child, null status pointer.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        }
    }
}

/// Our live children other than `keep`, once the exited ones are reaped.
#[allow(dead_code)]
pub fn others(keep: &[i32]) -> Vec<i32> {
    reap_except(keep);
    children()
        .into_iter()
        .filter(|p| !keep.contains(p))
        .collect()
}
