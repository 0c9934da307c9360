//! Running the engines' client commands: each with a deadline, its output captured in
//! files (a detached container can hold a pipe open long after the client exits), and
//! ended early when the suite is interrupted. `run_pty` gives the command a terminal.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The usual deadline of one client command: 60 s, or CORRAL_ENGINES_TIMEOUT seconds
/// (an emulated guest on a loaded host needs more: dockerd's first run there compiles
/// its AppArmor profile).
pub fn timeout() -> Duration {
    static SECS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let secs = SECS.get_or_init(|| {
        std::env::var("CORRAL_ENGINES_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60)
    });
    Duration::from_secs(*secs)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM end the running command and stop the suite, which then cleans up.
pub fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

pub struct Out {
    /// The command line, for messages.
    pub what: String,
    /// Exit code; 128+N for a signal, -1 when it could not start, -2 at the deadline.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Out {
    fn fail(what: String, stderr: String) -> Out {
        Out {
            what,
            code: -1,
            stdout: String::new(),
            stderr,
            elapsed: Duration::ZERO,
        }
    }

    /// The same result, described as `program ARGS` (without global flags).
    pub fn shown_as(mut self, program: &str, args: &[&str]) -> Out {
        self.what = format!("{program} {}", args.join(" "));
        self
    }

    pub fn ok(&self) -> Result<&Self, String> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(self.describe("failed"))
        }
    }

    /// Succeeds when the command exited with `code`.
    pub fn code_is(&self, code: i32) -> Result<&Self, String> {
        if self.code == code {
            Ok(self)
        } else {
            Err(self.describe(&format!("wanted exit {code}")))
        }
    }

    pub fn describe(&self, why: &str) -> String {
        let reason = match self.code {
            -2 => "did not finish in time (killed)".to_string(),
            c => format!("exit {c}"),
        };
        format!(
            "`{}` {why}: {reason}; stdout {:?}; stderr {:?}",
            self.what,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// The last lines of `s` (engines' errors come last, after their warnings).
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.trim().lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

pub fn describe(cmd: &Command) -> String {
    let mut v = vec![cmd.get_program().to_string_lossy().into_owned()];
    v.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    v.join(" ")
}

/// Where a command's stdout and stderr go: two fresh files in `dir`.
pub struct OutFiles {
    out: PathBuf,
    err: PathBuf,
}

impl OutFiles {
    pub fn new(dir: &Path, n: usize) -> OutFiles {
        OutFiles {
            out: dir.join(format!("{n}.out")),
            err: dir.join(format!("{n}.err")),
        }
    }

    fn read(&self) -> (String, String) {
        (
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default(),
        )
    }
}

/// Runs `cmd` with stdin from /dev/null, waiting at most `limit`. When `stoppable`, an
/// interrupt of the suite ends it too.
pub fn run(mut cmd: Command, files: &OutFiles, limit: Duration, stoppable: bool) -> Out {
    let what = describe(&cmd);
    let (out, err) = match (File::create(&files.out), File::create(&files.err)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return Out::fail(what, format!("output file: {e}")),
    };
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let start = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Out::fail(what, e.to_string()),
    };
    drop(cmd);
    let code = wait(child, limit, stoppable, || {});
    let (stdout, stderr) = files.read();
    Out {
        what,
        code,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

/// Waits for `child`, calling `tick` between polls; kills it at the deadline (-2) or
/// on an interrupt (-3).
fn wait(mut child: Child, limit: Duration, stoppable: bool, mut tick: impl FnMut()) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
            Ok(None) => {}
            Err(_) => return -1,
        }
        let late = start.elapsed() > limit;
        if late || (stoppable && interrupted()) {
            let _ = child.kill();
            let _ = child.wait();
            return if late { -2 } else { -3 };
        }
        tick();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A pseudo-terminal pair: (master, slave).
fn openpty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    let ws = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the integers; the name buffer is null and
    // the termios pointer null (defaults); `ws` outlives the call.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just opened by openpty and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}

/// Runs `cmd` on a new terminal (its controlling terminal, in a new session), as a
/// user at a shell would (`docker exec -it` and `ctr task exec -t` want one). Returns
/// what it wrote to the terminal, without carriage returns.
pub fn run_pty(mut cmd: Command, limit: Duration) -> Out {
    use std::os::unix::process::CommandExt;
    let what = describe(&cmd);
    let (master, slave) = match openpty() {
        Ok(p) => p,
        Err(e) => return Out::fail(what, format!("openpty: {e}")),
    };
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    match (stdio(&slave), stdio(&slave), stdio(&slave)) {
        (Ok(i), Ok(o), Ok(e)) => cmd.stdin(i).stdout(o).stderr(e),
        _ => return Out::fail(what, "dup of the terminal failed".into()),
    };
    // SAFETY: setsid and ioctl are async-signal-safe; they run in the forked child
    // before exec and make the terminal on fd 0 its controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd.spawn();
    // Only the child may hold the slave now, so reads end (EIO) when it is done.
    drop(cmd);
    drop(slave);
    let child = match child {
        Ok(c) => c,
        Err(e) => return Out::fail(what, e.to_string()),
    };
    let mut text = Vec::new();
    let code = wait(child, limit, true, || drain(&master, &mut text));
    drain(&master, &mut text);
    let stdout = String::from_utf8_lossy(&text).replace('\r', "");
    Out {
        what,
        code,
        stdout,
        stderr: String::new(),
        elapsed: start.elapsed(),
    }
}

/// Reads what is waiting on the terminal's master side, without blocking.
fn drain(master: &OwnedFd, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd, no timeout.
        if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 || pfd.revents & libc::POLLIN == 0 {
            return;
        }
        // SAFETY: read into a buffer of the length given.
        let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => into.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}
