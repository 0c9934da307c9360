//! The clone boundary. A child of `clone3_fork` runs on a copy of its parent's stack:
//! below the child's body lie the frames of `spawn`, `create` and `main`, whose
//! destructors belong to the parent (locks, state files, temporary mounts). A panic
//! that unwound out of the body would run them in the child. So no child of corral
//! ever unwinds past [`child`], in any profile:
//! - a panic hook, installed in the child only, reports the panic over the channel as
//!   the child's error and `_exit`s at once: with `panic = "abort"` (the release build)
//!   the hook still runs first, and the parent gets a message instead of a SIGABRT;
//! - should anything unwind anyway (a body that replaced the hook), `catch_unwind`
//!   stops it here, and the child `_exit`s.

use super::channel::{ChildEnd, ChildMsg};
use crate::sys;
use std::panic::{self, AssertUnwindSafe};

/// Runs `body` (which execs or exits) in a freshly cloned child; never returns. `who`
/// names the child in the report (e.g. "the container init"); `chan` is a handle on the
/// child's end of the channel for the report (`None`: a child without one, which just
/// exits).
pub(crate) fn child(who: &'static str, chan: Option<ChildEnd>, body: impl FnOnce()) -> ! {
    panic::set_hook(Box::new(move |info| {
        if let Some(c) = &chan {
            let _ = c.send(&ChildMsg::Error(format!("{who} panicked: {info}")));
        }
        sys::exit_now(1)
    }));
    let _ = panic::catch_unwind(AssertUnwindSafe(body));
    sys::exit_now(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::channel;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, getpid, ForkResult, Pid};
    use std::os::fd::{AsRawFd, OwnedFd};

    /// A frame of the parent's: its destructor writes to a pipe if it ever runs in
    /// another process.
    struct ParentFrame {
        parent: Pid,
        w: OwnedFd,
    }

    impl Drop for ParentFrame {
        fn drop(&mut self) {
            if getpid() != self.parent {
                let _ = nix::unistd::write(&self.w, b"D");
            }
        }
    }

    #[test]
    fn a_panic_in_a_child_is_reported_and_never_unwinds_into_the_parent() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let (parent, chan) = channel::pair().unwrap();
        let frame = ParentFrame {
            parent: getpid(),
            w,
        };
        // SAFETY: the child only panics (inside `child`) and exits; the test process
        // may have other threads, whose locks the child never takes.
        let pid = match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                drop(parent);
                let report = chan.try_clone().ok();
                child("the test child", report, || panic!("boom"))
            }
            ForkResult::Parent { child } => child,
        };
        drop(chan);
        drop(frame);
        let Some((ChildMsg::Error(msg), _)) = parent.recv().unwrap() else {
            panic!("no error message from the child")
        };
        assert!(msg.starts_with("the test child panicked: "), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(matches!(waitpid(pid, None), Ok(WaitStatus::Exited(_, 1))));
        let mut b = [0u8; 1];
        assert_eq!(
            nix::unistd::read(r.as_raw_fd(), &mut b).unwrap(),
            0,
            "a destructor of the parent's frame ran in the child"
        );
    }
}
