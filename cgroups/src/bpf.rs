//! The device filter of cgroup v2. v2 has no devices.allow/deny files: the kernel asks a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup, once per device access.
//! corral writes that program itself, as raw instructions (no C toolchain, no libbpf),
//! from the same rules v1 writes to files, and loads and attaches it with bpf(2).
//!
//! The program reads the access type, major and minor from its context, then tries the
//! rules from the last to the first (the last matching rule decides, as the rules written
//! in order to v1's files do); no rule matching means deny.

use crate::{DeviceRule, Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// One rule, in the order of the spec (later rules win).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a' (every device), 'b' or 'c'.
    pub typ: char,
    /// None: any.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of "rwm".
    pub access: String,
}

impl Rule {
    pub fn new(allow: bool, d: DeviceRule) -> Self {
        Rule {
            allow,
            typ: d.typ,
            major: d.major,
            minor: d.minor,
            access: d.access,
        }
    }
}

/// `struct bpf_insn`: the register pair is one byte, destination in the low nibble.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
                        // The context's numbers are u32, loaded zero-extended; a 64-bit compare with a
                        // sign-extended immediate would never match one from 2^31 on. JMP32 compares 32 bits.
const JNE32_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

// Registers: r1 the context, copied to r6; each block loads r2 type, r3 access, r4 major,
// r5 minor as it needs them.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |acc, c| {
        acc | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// The instructions of one rule: jumps to the next rule unless the access matches,
/// else returns allow (1) or deny (0). Each block loads from the context (in r6) what it
/// compares, so the only register live where a block starts is r6, the same on every
/// path: the verifier checks each block once and prunes every other way into it. With
/// values carried over from block to block, each path reached the next block knowing
/// other values, and was checked again: loading the default rules' program took 225 µs
/// of CPU here, 142 µs with the loads in each block.
fn block(r: &Rule) -> Vec<Insn> {
    let mut b = vec![];
    if r.typ != 'a' {
        b.push(insn(LDX_W, R2, R6, 0, 0));
        b.push(insn(AND32_K, R2, 0, 0, 0xffff));
        b.push(insn(
            JNE_K,
            R2,
            0,
            0,
            if r.typ == 'b' { DEV_BLOCK } else { DEV_CHAR },
        ));
        // The immediate holds the number's 32 bits as they are (no value is lost).
        if let Some(major) = r.major {
            b.push(insn(LDX_W, R4, R6, 4, 0));
            b.push(insn(
                JNE32_K,
                R4,
                0,
                0,
                i32::from_ne_bytes(major.to_ne_bytes()),
            ));
        }
        if let Some(minor) = r.minor {
            b.push(insn(LDX_W, R5, R6, 8, 0));
            b.push(insn(
                JNE32_K,
                R5,
                0,
                0,
                i32::from_ne_bytes(minor.to_ne_bytes()),
            ));
        }
    }
    let bits = access_bits(&r.access);
    if bits != ACC_MKNOD | ACC_READ | ACC_WRITE {
        // Matches when every access asked for is in the rule: (access & ~bits) == 0.
        b.push(insn(LDX_W, R3, R6, 0, 0));
        b.push(insn(RSH32_K, R3, 0, 0, 16));
        b.push(insn(AND32_K, R3, 0, 0, !bits & 7));
        b.push(insn(JNE_K, R3, 0, 0, 0));
    }
    b.push(insn(MOV64_K, R0, 0, 0, r.allow as i32));
    b.push(insn(EXIT, 0, 0, 0, 0));
    // Every jump goes to the first instruction after this block.
    let len = b.len();
    for (i, ins) in b.iter_mut().enumerate() {
        if matches!(ins.code, JNE_K | JNE32_K) {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "a block is at most 13 instructions, whatever the rule"
            )]
            let off = (len - i - 1) as i16;
            ins.off = off;
        }
    }
    b
}

/// The whole program for `rules` (in spec order).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    // r6 keeps the context: the kernel leaves it alone, and no block writes it.
    let mut p = vec![insn(MOV64_X, R6, R1, 0, 0)];
    for r in rules.iter().rev() {
        let b = block(r);
        let unconditional = !b.iter().any(|i| matches!(i.code, JNE_K | JNE32_K));
        p.extend(b);
        if unconditional {
            // Every access matches this rule: what follows could never run, and the
            // verifier refuses unreachable instructions.
            return p;
        }
    }
    p.push(insn(MOV64_K, R0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` for BPF_PROG_LOAD (the kernel zero-fills the rest).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// BPF_PROG_LOAD of `prog`; with `log`, the verifier writes what it did there.
fn load(prog: &[Insn], log: Option<&mut [u8]>) -> std::io::Result<libc::c_long> {
    let license = c"Apache-2.0";
    let too_big = |_| std::io::Error::from_raw_os_error(libc::E2BIG);
    let (log_level, log_size, log_buf) = match log {
        Some(l) => (
            1,
            u32::try_from(l.len()).map_err(too_big)?,
            l.as_mut_ptr() as u64,
        ),
        None => (0, 0, 0),
    };
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(prog.len()).map_err(too_big)?,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        ..Default::default()
    };
    bpf(BPF_PROG_LOAD, &attr)
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a valid bpf_attr prefix of the size passed; the kernel reads it (and
    // writes only to the log buffer it points to, which outlives the call).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An open fd as the kernel's `__u32` field for it.
#[allow(clippy::cast_sign_loss, reason = "an open fd is never negative")]
fn fd_field(fd: &impl AsRawFd) -> u32 {
    fd.as_raw_fd() as u32
}

/// Loads the program for `rules` and attaches it to the cgroup directory `dir`.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = program(rules);
    // Without the verifier's log: writing it made the verifier several times slower (a
    // sixth of a `run`'s CPU time). Only a failed load is tried again with it, to say why.
    let mut log = vec![];
    let fd = load(&prog, None).or_else(|_| {
        log = vec![0u8; 16384];
        load(&prog, Some(&mut log))
    });
    let fd = fd.map_err(|e| {
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let verifier = String::from_utf8_lossy(&log[..end]);
        Error::Other(format!(
            "linux.resources.devices: load the cgroup v2 device filter ({} instructions): {e}{}",
            prog.len(),
            if verifier.trim().is_empty() {
                String::new()
            } else {
                format!("; verifier: {}", verifier.trim())
            }
        ))
    })?;
    let fd = RawFd::try_from(fd).map_err(|_| {
        Error::Other(format!(
            "linux.resources.devices: BPF_PROG_LOAD returned {fd}, which is not a file descriptor"
        ))
    })?;
    // SAFETY: a successful BPF_PROG_LOAD returns a new fd that only we own.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cg = std::fs::File::open(dir).map_err(|e| Error::io("cannot open cgroup", dir, e))?;
    let at = ProgAttach {
        target_fd: fd_field(&cg),
        attach_bpf_fd: fd_field(&prog_fd),
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    crate::debug(|| {
        format!(
            "cgroup: device program ({} rules, {} instructions) attached to {}",
            rules.len(),
            prog.len(),
            dir.display()
        )
    });
    // The attachment holds the program: our fds may close after this.
    bpf(BPF_PROG_ATTACH, &at).map(drop).map_err(|e| {
        Error::Other(format!(
            "linux.resources.devices: attach the device filter to {}: {e}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, typ: char, major: u32, minor: u32, access: &str) -> Rule {
        Rule {
            allow,
            typ,
            major: Some(major),
            minor: Some(minor),
            access: access.into(),
        }
    }

    /// Runs the program on one access, as the kernel would (its 32-bit operations
    /// truncate, its 64-bit moves sign-extend).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the casts are the BPF machine's own 32-bit and sign-extending semantics"
    )]
    fn run(p: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16 | typ) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[i.off as usize / 4] as u64,
                AND32_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                RSH32_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                MOV64_X => r[dst] = r[src],
                MOV64_K => r[dst] = i.imm as i64 as u64,
                JNE_K => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                JNE32_K => {
                    if r[dst] as u32 != i.imm as u32 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn last_matching_rule_decides() {
        let rules = [
            Rule {
                allow: false,
                typ: 'a',
                major: None,
                minor: None,
                access: "rwm".into(),
            },
            rule(true, 'c', 1, 5, "rw"),
            rule(true, 'c', 10, 229, "rwm"),
            rule(false, 'c', 10, 229, "w"),
        ];
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 1, "c 1:5 r");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 5), 1, "c 1:5 rw");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 5), 0, "c 1:5 m");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 5), 0, "b 1:5");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 229), 1, "fuse r");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 10, 229), 0, "fuse w");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 4, 1), 0, "tty1");
    }

    /// Every u32 is compared whole: no number matches another one's low bits.
    #[test]
    fn large_numbers_are_compared_exactly() {
        let p = program(&[rule(true, 'c', u32::MAX, 1 << 31, "rw")]);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, u32::MAX, 1 << 31), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 1 << 31), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, u32::MAX, 0), 0);
    }

    #[test]
    fn wildcards_and_empty_list() {
        let any_char = Rule {
            allow: true,
            typ: 'c',
            major: Some(136),
            minor: None,
            access: "rwm".into(),
        };
        let p = program(&[any_char]);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 136, 7), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 137, 7), 0);
        assert_eq!(run(&program(&[]), DEV_CHAR, ACC_READ, 1, 3), 0);
    }

    /// A rule that matches everything ends the program: nothing after it is reachable.
    #[test]
    fn no_unreachable_instructions() {
        let all = |allow| Rule {
            allow,
            typ: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        };
        let p = program(&[all(false), rule(true, 'c', 1, 3, "rw")]);
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
        assert_eq!(p.iter().filter(|i| i.code == EXIT).count(), 2);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 4), 0);
        let p = program(&[rule(true, 'c', 1, 3, "rw"), all(true)]);
        assert_eq!(p.len(), 3, "the allow-all rule comes first and ends it");
    }
}
