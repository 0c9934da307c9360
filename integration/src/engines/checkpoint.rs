//! Checkpoint and restore through the engines (`--criu`: CRIU 3.17 runs only in the
//! systemd guest, not on the build host's kernel). The container is a counter that
//! appends 1, 2, 3, … to /count in its root and prints each number on stdout. A restored
//! counter that continues where it was leaves one unbroken sequence in /count (read from
//! the host through /proc/PID/root); one that started again would write 1 a second time.
//! Its stdout after the restore is a pipe of the new conmon or shim: the output that
//! follows the restore proves the runtime connected it (runc's descriptors.json).

use crate::args::CgroupManager;
use crate::containerd::Containerd;
use crate::dockerlike::Cli;
use crate::podman::Podman;
use crate::world::World;
use crate::{ensure, wait_until, CaseResult};
use std::time::Duration;

const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i; echo $i >>/count; usleep 100000; done";

/// CRIU under emulation is slow: generous limits.
const LIMIT: Duration = Duration::from_secs(120);
/// The deadline of a checkpoint or restore command.
pub const CRIU_TIMEOUT: Duration = Duration::from_secs(300);

/// The numbers in the counter's /count, seen from the host.
fn counts(pid: i32) -> Vec<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/root/count"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until the counter `pid` wrote more than `n`; returns its last number.
fn wait_count(pid: i32, n: u64) -> Result<u64, String> {
    let mut last = 0;
    wait_until(&format!("the counter {pid} past {n}"), LIMIT, || {
        last = counts(pid).last().copied().unwrap_or(0);
        Ok(last > n)
    })
    .map_err(|e| format!("{e} (at {last})"))?;
    Ok(last)
}

/// /count of `pid` holds 1, 2, …, N without a gap or a restart.
fn unbroken(pid: i32) -> CaseResult {
    let c = counts(pid);
    let bad = c.iter().enumerate().find(|(i, n)| **n != *i as u64 + 1);
    ensure!(
        bad.is_none(),
        "/count of the restored counter breaks at line {:?}: it did not continue where it was",
        bad.map(|(i, n)| (i + 1, *n))
    );
    Ok(())
}

/// The numbers of a container's output.
fn numbers(out: &str) -> Vec<u64> {
    out.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn podman_pid(cli: &Cli, w: &mut World, name: &str) -> Result<i32, String> {
    let o = cli.call(w, &["inspect", "-f", "{{.State.Pid}}", name]);
    let pid = o.ok()?.stdout.trim().to_string();
    pid.parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or(format!("inspect {name}: pid {pid:?}"))
}

/// Starts the counter as `name`; returns its pid once it counts.
fn podman_counter(cli: &Cli, w: &mut World, name: &str) -> Result<i32, String> {
    let extra = ["-d", "--name", name];
    cli.run(w, &extra, &["sh", "-c", COUNTER]).ok()?;
    let pid = podman_pid(cli, w, name)?;
    wait_count(pid, 3)?;
    Ok(pid)
}

/// After a restore as `name`: it runs, counts on past `last` in /count without a
/// break, and its output (`podman logs`, from the new conmon) goes on past `last`.
fn podman_restored(cli: &Cli, w: &mut World, name: &str, last: u64) -> CaseResult {
    let st = cli.call(w, &["inspect", "-f", "{{.State.Status}}", name]);
    let st = st.ok()?.stdout.trim().to_string();
    ensure!(st == "running", "{name} is {st:?} after restore");
    let pid = podman_pid(cli, w, name)?;
    let now = wait_count(pid, last + 3)?;
    unbroken(pid)?;
    let mut seen = vec![];
    wait_until("output after the restore in podman logs", LIMIT, || {
        seen = numbers(&cli.call(w, &["logs", name]).ok()?.stdout);
        Ok(seen.iter().any(|n| *n > last))
    })
    .map_err(|e| format!("{e}: logs end {:?}", &seen[seen.len().saturating_sub(3)..]))?;
    ensure!(now > last, "the counter is at {now}, it was at {last}");
    Ok(())
}

/// `podman container checkpoint` then `podman container restore` of the same container.
pub fn podman_restore(p: &mut Podman, w: &mut World) -> CaseResult {
    let (cli, name) = (&p.cli, "criueng-pm");
    let pid = podman_counter(cli, w, name)?;
    cli.call_for(w, &["container", "checkpoint", name], CRIU_TIMEOUT)
        .ok()?;
    let last = counts(pid).last().copied().unwrap_or(0);
    let st = cli.call(w, &["inspect", "-f", "{{.State.Status}}", name]);
    let st = st.ok()?.stdout.trim().to_string();
    ensure!(st == "exited", "{name} is {st:?} after checkpoint");
    cli.call_for(w, &["container", "restore", name], CRIU_TIMEOUT)
        .ok()?;
    podman_restored(cli, w, name, last)
}

/// `checkpoint --export FILE`, the container removed, `restore --import FILE --name NEW`:
/// the counter goes on in a new container made from the archive.
pub fn podman_export_import(p: &mut Podman, w: &mut World) -> CaseResult {
    let (cli, name) = (&p.cli, "criueng-pm");
    let pid = podman_counter(cli, w, name)?;
    let file = w.path("podman")?.join("criueng-export.tar.gz");
    let f = file.to_string_lossy().into_owned();
    let args = ["container", "checkpoint", "--export", &f, name];
    cli.call_for(w, &args, CRIU_TIMEOUT).ok()?;
    let last = counts(pid).last().copied().unwrap_or(0);
    ensure!(file.is_file(), "no archive at {f}");
    let old = cli.call(w, &["inspect", "-f", "{{.Id}}", name]);
    let old = old.ok()?.stdout.trim().to_string();
    cli.call(w, &["rm", "-f", name]).ok()?;
    let new = "criueng-pm-imported";
    let args = ["container", "restore", "--import", &f, "--name", new];
    cli.call_for(w, &args, CRIU_TIMEOUT).ok()?;
    podman_restored(cli, w, new, last)?;
    cli.call(w, &["rm", "-f", "-t", "0", new]).ok()?;
    // runc 1.1.5 restores a container under a new id into the cgroup CRIU remakes from
    // the images (the old container's) and leaves it when the new one is removed: the
    // old container's cgroup of podman's cgroupfs driver, or of its scope under systemd.
    let stale = match w.cgroup_manager {
        CgroupManager::Cgroupfs => format!("/sys/fs/cgroup/libpod_parent/libpod-{old}"),
        CgroupManager::Systemd => format!("/sys/fs/cgroup/machine.slice/libpod-{old}.scope"),
    };
    let stale = std::path::PathBuf::from(stale);
    if w.runtime.file_name().is_some_and(|n| n == "runc") && stale.is_dir() {
        println!(
            "     note: runc left the old container's cgroup {}",
            stale.display()
        );
        let _ = std::fs::remove_dir(&stale);
    }
    Ok(())
}

/// `ctr task checkpoint --image-path` leaves the task running and writes CRIU's images;
/// `ctr containers checkpoint --task --rw` makes a checkpoint image, and `ctr containers
/// restore --live --rw` makes a new container and task from it, which counts on.
pub fn containerd_restore(c: &mut Containerd, w: &mut World) -> CaseResult {
    let id = "eng-criueng-ctr";
    let pid = c.detached(w, id, &["sh", "-c", COUNTER])?;
    wait_count(pid, 3)?;
    let dir = w.path("containerd/criueng-images")?;
    let d = dir.to_string_lossy().into_owned();
    let o = c.ctr_for(w, &["tasks", "checkpoint", "--image-path", &d, id]);
    o.ok()?;
    ensure!(
        dir.join("inventory.img").is_file(),
        "task checkpoint --image-path: no inventory.img in {d}"
    );
    c.wait_status(w, id, "RUNNING")?;
    wait_count(pid, counts(pid).last().copied().unwrap_or(0) + 2)?;
    let reference = "localhost/criueng-checkpoint:1";
    let o = c.ctr_for(
        w,
        &["containers", "checkpoint", "--task", "--rw", id, reference],
    );
    o.ok()?;
    c.ctr(w, &["tasks", "kill", "-s", "SIGKILL", id]).ok()?;
    c.wait_status(w, id, "STOPPED")?;
    let last = counts(pid).last().copied().unwrap_or(0);
    c.ctr(w, &["tasks", "delete", id]).ok()?;
    c.ctr(w, &["containers", "rm", id]).ok()?;
    let new = "eng-criueng-ctr-restored";
    let o = c.ctr_for(
        w,
        &["containers", "restore", "--live", "--rw", new, reference],
    );
    o.ok()?;
    c.wait_status(w, new, "RUNNING")?;
    let pid = c.task(w, new)?.0;
    wait_count(pid, last + 3)?;
    unbroken(pid)?;
    c.ctr(w, &["images", "rm", reference]).ok()?;
    Ok(())
}
