//! A block device the case owns, for blockIO rules: a loop device over a sparse file in
//! the case dir, detached (and its scheduler restored) when dropped, and detached by the
//! kernel anyway once no one holds it open (autoclear).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `struct loop_info64`: 232 bytes, `lo_flags` at offset 52.
const INFO_SIZE: usize = 232;
const FLAGS_AT: usize = 52;

pub struct LoopDev {
    dev: File,
    pub name: String,
    pub major: u32,
    pub minor: u32,
    /// The scheduler to put back, when the case changed it.
    restore: Option<String>,
}

fn ioctl(fd: &impl AsRawFd, req: libc::c_ulong, arg: libc::c_ulong) -> Result<i32, String> {
    // SAFETY: the loop ioctls used here take an integer or a pointer to a buffer of
    // INFO_SIZE bytes that the caller owns for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req, arg) };
    if r < 0 {
        return Err(format!(
            "ioctl {req:#x}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(r)
}

impl LoopDev {
    /// Attaches a new 64 MiB sparse file under `dir` to a free loop device.
    pub fn attach(dir: &Path) -> Result<LoopDev, String> {
        let img = dir.join("loop.img");
        let backing = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .map_err(|e| format!("create {}: {e}", img.display()))?;
        backing.set_len(64 << 20).map_err(|e| e.to_string())?;
        let ctl = File::options()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(|e| format!("/dev/loop-control (no loop driver?): {e}"))?;
        // Another process may take the same free device first: then try the next one.
        for _ in 0..10 {
            let n = ioctl(&ctl, LOOP_CTL_GET_FREE, 0)?;
            let path = format!("/dev/loop{n}");
            let dev = File::options()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| format!("{path}: {e}"))?;
            let backing_fd = libc::c_ulong::try_from(backing.as_raw_fd())
                .map_err(|_| format!("{}: not an open fd", img.display()))?;
            if ioctl(&dev, LOOP_SET_FD, backing_fd).is_err() {
                continue;
            }
            let mut info = [0u8; INFO_SIZE];
            ioctl(&dev, LOOP_GET_STATUS64, info.as_mut_ptr() as libc::c_ulong)?;
            let mut flags = [0u8; 4];
            flags.copy_from_slice(&info[FLAGS_AT..FLAGS_AT + 4]);
            let flags = u32::from_ne_bytes(flags) | LO_FLAGS_AUTOCLEAR;
            info[FLAGS_AT..FLAGS_AT + 4].copy_from_slice(&flags.to_ne_bytes());
            ioctl(&dev, LOOP_SET_STATUS64, info.as_ptr() as libc::c_ulong)?;
            let name = format!("loop{n}");
            let numbers = std::fs::read_to_string(format!("/sys/block/{name}/dev"))
                .map_err(|e| format!("/sys/block/{name}/dev: {e}"))?;
            let (major, minor) = numbers
                .trim()
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or(format!("/sys/block/{name}/dev: {numbers:?}"))?;
            return Ok(LoopDev {
                dev,
                name,
                major,
                minor,
                restore: None,
            });
        }
        Err("no free loop device could be attached".into())
    }

    fn scheduler_path(&self) -> String {
        format!("/sys/block/{}/queue/scheduler", self.name)
    }

    /// Switches the device to `sched` if the kernel offers it (`false` if not).
    pub fn set_scheduler(&mut self, sched: &str) -> Result<bool, String> {
        let path = self.scheduler_path();
        let list = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let current = list
            .split_whitespace()
            .find_map(|s| s.strip_prefix('[')?.strip_suffix(']'))
            .unwrap_or("none")
            .to_string();
        if !list
            .split_whitespace()
            .any(|s| s.trim_matches(['[', ']']) == sched)
        {
            return Ok(false);
        }
        std::fs::write(&path, sched).map_err(|e| format!("{path}: {sched}: {e}"))?;
        self.restore.get_or_insert(current);
        Ok(true)
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        if let Some(s) = self.restore.take() {
            let _ = std::fs::write(self.scheduler_path(), s);
        }
        let _ = ioctl(&self.dev, LOOP_CLR_FD, 0);
    }
}
