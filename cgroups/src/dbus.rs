//! A small, blocking D-Bus client over the system bus socket, or a user's bus for a
//! rootless caller's own systemd manager: just what the systemd driver needs (start and
//! stop a transient unit, wait for its job, read a manager property). No threads: it
//! runs in the calling thread and is closed before anything is cloned.
//!
//! The wire format is the D-Bus specification's ("Message Protocol"): little-endian,
//! a 16-byte fixed header, an array of `(byte, variant)` header fields padded to 8,
//! then the body, every value aligned to its own size from the start of the message.
//! Authentication is `EXTERNAL` with the caller's uid (the bus checks it with
//! SO_PEERCRED).

use crate::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// A value of a unit property or argument (the types systemd's properties use).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    U32s(Vec<u32>),
    /// `ay`: a bitmask (AllowedCPUs, AllowedMemoryNodes).
    Bytes(Vec<u8>),
    Strs(Vec<String>),
    /// `a(ss)`: DeviceAllow's (device, access) pairs.
    Pairs(Vec<(String, String)>),
    /// `a(st)`: IODeviceWeight's and the IO limits' (device, number) pairs.
    PairsU64(Vec<(String, u64)>),
}

impl Value {
    pub fn signature(&self) -> &'static str {
        match self {
            Value::Bool(_) => "b",
            Value::I32(_) => "i",
            Value::U32(_) => "u",
            Value::I64(_) => "x",
            Value::U64(_) => "t",
            Value::F64(_) => "d",
            Value::Str(_) => "s",
            Value::U32s(_) => "au",
            Value::Bytes(_) => "ay",
            Value::Strs(_) => "as",
            Value::Pairs(_) => "a(ss)",
            Value::PairsU64(_) => "a(st)",
        }
    }
}

/// A message being marshalled (little-endian).
#[derive(Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn pad(&mut self, n: usize) {
        while self.0.len() % n != 0 {
            self.0.push(0);
        }
    }
    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(wire_len(s.len()));
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    fn sig(&mut self, s: &str) {
        // Signatures are corral's own constants, a few characters long.
        self.0.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    /// An array: its length (what `elems` writes, after the padding to `align`).
    fn array(&mut self, align: usize, elems: impl FnOnce(&mut Buf)) {
        self.pad(4);
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 4]);
        self.pad(align);
        let start = self.0.len();
        elems(self);
        let len = wire_len(self.0.len() - start);
        self.0[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Bool(b) => self.u32(u32::from(*b)),
            // Signed values go on the wire as their two's complement bits.
            Value::I32(n) => self.u32(u32::from_le_bytes(n.to_le_bytes())),
            Value::U32(n) => self.u32(*n),
            Value::I64(n) => self.u64(u64::from_le_bytes(n.to_le_bytes())),
            Value::U64(n) => self.u64(*n),
            Value::F64(n) => self.u64(n.to_bits()),
            Value::Str(s) => self.str(s),
            Value::U32s(ns) => self.array(4, |b| ns.iter().for_each(|n| b.u32(*n))),
            Value::Bytes(bs) => self.array(1, |b| b.0.extend_from_slice(bs)),
            Value::Strs(ss) => self.array(4, |b| ss.iter().for_each(|s| b.str(s))),
            Value::Pairs(ps) => self.array(8, |b| {
                for (x, y) in ps {
                    b.pad(8);
                    b.str(x);
                    b.str(y);
                }
            }),
            Value::PairsU64(ps) => self.array(8, |b| {
                for (x, y) in ps {
                    b.pad(8);
                    b.str(x);
                    b.u64(*y);
                }
            }),
        }
    }
    fn variant(&mut self, v: &Value) {
        self.sig(v.signature());
        self.value(v);
    }
    /// `a(sv)`: unit properties.
    fn properties(&mut self, props: &[(String, Value)]) {
        self.array(8, |b| {
            for (name, v) in props {
                b.pad(8);
                b.str(name);
                b.variant(v);
            }
        })
    }
}

/// A method: where it is and its input signature.
struct Method<'a> {
    dest: &'a str,
    path: &'a str,
    iface: &'a str,
    member: &'a str,
    sig: &'a str,
}

impl<'a> Method<'a> {
    /// A method of the bus itself.
    fn bus(member: &'a str, sig: &'a str) -> Self {
        let d = "org.freedesktop.DBus";
        Method {
            dest: d,
            path: "/org/freedesktop/DBus",
            iface: d,
            member,
            sig,
        }
    }

    /// A method of systemd's manager object.
    fn manager(member: &'a str, sig: &'a str) -> Self {
        Method {
            dest: "org.freedesktop.systemd1",
            path: "/org/freedesktop/systemd1",
            iface: "org.freedesktop.systemd1.Manager",
            member,
            sig,
        }
    }
}

/// A length as the wire's `u32`. The bus refuses any message over 128 MiB, so a length
/// that does not fit, written as `u32::MAX`, gets the message refused, never misread.
fn wire_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A method call: the header and `body` (already marshalled, as if at offset 0 of an
/// 8-aligned position, which the header's padding guarantees).
fn call(serial: u32, m: &Method, body: &[u8]) -> Vec<u8> {
    let (dest, path, iface, member, sig) = (m.dest, m.path, m.iface, m.member, m.sig);
    let mut m = Buf::default();
    m.0.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    m.u32(wire_len(body.len()));
    m.u32(serial);
    m.array(8, |b| {
        let field = |b: &mut Buf, code: u8, sig: &str, v: &str| {
            b.pad(8);
            b.0.push(code);
            b.sig(sig);
            if sig == "g" {
                b.sig(v);
            } else {
                b.str(v);
            }
        };
        field(b, 1, "o", path);
        field(b, 2, "s", iface);
        field(b, 3, "s", member);
        field(b, 6, "s", dest);
        if !sig.is_empty() {
            field(b, 8, "g", sig);
        }
    });
    m.pad(8);
    m.0.extend_from_slice(body);
    m.0
}

/// A message received: its type, the serial it replies to, the error name, the member
/// (signals), and the body.
#[derive(Debug, Default)]
struct Msg {
    typ: u8,
    reply_to: Option<u32>,
    error: Option<String>,
    member: Option<String>,
    body: Vec<u8>,
}

/// Reads values from a received buffer (offsets from the message's start).
struct Rd<'a> {
    b: &'a [u8],
    at: usize,
}

impl Rd<'_> {
    fn align(&mut self, n: usize) {
        self.at = self.at.div_ceil(n) * n;
    }
    fn u32(&mut self) -> Option<u32> {
        self.align(4);
        let v = u32::from_le_bytes(self.b.get(self.at..self.at + 4)?.try_into().ok()?);
        self.at += 4;
        Some(v)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let s = String::from_utf8_lossy(self.b.get(self.at..self.at + n)?).into_owned();
        self.at += n + 1;
        Some(s)
    }
    fn sig(&mut self) -> Option<String> {
        let n = *self.b.get(self.at)? as usize;
        let s = String::from_utf8_lossy(self.b.get(self.at + 1..self.at + 1 + n)?).into_owned();
        self.at += n + 2;
        Some(s)
    }
}

fn parse(raw: &[u8]) -> Option<Msg> {
    if raw.first() != Some(&b'l') {
        return None; // corral asks for little-endian; the bus answers in kind
    }
    let mut msg = Msg {
        typ: raw[1],
        ..Msg::default()
    };
    let mut r = Rd { b: raw, at: 12 };
    let fields_len = r.u32()? as usize;
    let end = 16 + fields_len;
    while r.at < end {
        r.align(8);
        let code = *raw.get(r.at)?;
        r.at += 1;
        let sig = r.sig()?;
        match sig.as_str() {
            "u" => {
                let v = r.u32()?;
                if code == 5 {
                    msg.reply_to = Some(v);
                }
            }
            "g" => {
                r.sig()?;
            }
            _ => {
                let v = r.str()?;
                match code {
                    3 => msg.member = Some(v),
                    4 => msg.error = Some(v),
                    _ => {}
                }
            }
        }
    }
    msg.body = raw[end.div_ceil(8) * 8..].to_vec();
    Some(msg)
}

/// A connection to a bus (the system's, or a user's).
pub struct Bus {
    sock: UnixStream,
    serial: u32,
    /// `JobRemoved` signals (job path, result) seen while waiting for other replies.
    removed: Vec<(String, String)>,
    subscribed: bool,
}

/// The uid the bus sees this process as (SO_PEERCRED): its effective uid as the initial
/// user namespace knows it. Inside a user namespace (rootless podman runs the runtime as
/// uid 0 of one) that is the uid the namespace's uid 0 maps to, which EXTERNAL must
/// name, or the bus refuses the connection. Read once per process (a create asks it up
/// to four times: the manager to use, its warning, and each connection); corral's own
/// process never changes its user namespace.
pub fn peer_uid() -> u32 {
    static UID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        let euid = nix::unistd::geteuid().as_raw();
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        outside(&map, euid).unwrap_or(euid)
    })
}

/// `id` of this user namespace in its parent, from `uid_map`'s lines (inside, outside,
/// count).
fn outside(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let f: Vec<u32> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [inside, out, count] = f[..] else {
            return None;
        };
        let off = id.checked_sub(inside).filter(|o| *o < count)?;
        out.checked_add(off)
    })
}

/// The socket of a `unix:path=PATH[,key=value...]` bus address.
fn unix_path(address: &str) -> Option<String> {
    address
        .split(';')
        .find_map(|a| a.strip_prefix("unix:"))
        .and_then(|kv| kv.split(',').find_map(|p| p.strip_prefix("path=")))
        .map(str::to_owned)
}

fn err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("systemd D-Bus: {what}: {e}"))
}

impl Bus {
    /// Connects to the system bus, authenticates and says Hello.
    pub fn system() -> Result<Bus> {
        let path = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .and_then(|a| unix_path(&a))
            .unwrap_or_else(|| SYSTEM_BUS.to_owned());
        Bus::connect(&path)
    }

    /// Where the caller's own bus is (its systemd user manager's): the `unix:path=` of
    /// `$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`; an error says neither
    /// gives one.
    pub fn user_path() -> Result<String> {
        if let Some(p) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
            .ok()
            .and_then(|a| unix_path(&a))
        {
            return Ok(p);
        }
        match std::env::var("XDG_RUNTIME_DIR") {
            Ok(d) if !d.is_empty() => Ok(format!("{}/bus", d.trim_end_matches('/'))),
            _ => Err(Error::Other(
                "no user bus: neither $DBUS_SESSION_BUS_ADDRESS (unix:path=...) nor \
                 $XDG_RUNTIME_DIR is set"
                    .into(),
            )),
        }
    }

    /// Connects to the bus socket `path`, authenticates (EXTERNAL, the caller's uid,
    /// which the bus checks with SO_PEERCRED) and says Hello.
    pub fn connect(path: &str) -> Result<Bus> {
        let sock =
            UnixStream::connect(path).map_err(|e| err(&format!("cannot connect to {path}"), e))?;
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| err("socket", e))?;
        let mut bus = Bus {
            sock,
            serial: 0,
            removed: vec![],
            subscribed: false,
        };
        let hex: String = peer_uid()
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let auth = format!("\0AUTH EXTERNAL {hex}\r\n");
        bus.sock
            .write_all(auth.as_bytes())
            .map_err(|e| err("auth", e))?;
        let line = bus.line()?;
        if !line.starts_with("OK ") {
            return Err(err("the bus refused EXTERNAL authentication", line));
        }
        bus.sock
            .write_all(b"BEGIN\r\n")
            .map_err(|e| err("auth", e))?;
        bus.call(Method::bus("Hello", ""), &[])?;
        Ok(bus)
    }

    /// A string property of systemd's manager (`ControlGroup`: where its units' cgroups
    /// are, below the hierarchy's root).
    pub fn manager_string(&mut self, name: &str) -> Result<String> {
        let mut b = Buf::default();
        b.str("org.freedesktop.systemd1.Manager");
        b.str(name);
        let m = Method {
            iface: "org.freedesktop.DBus.Properties",
            member: "Get",
            sig: "ss",
            ..Method::manager("", "")
        };
        let reply = self.call(m, &b.0)?;
        let mut r = Rd { b: &reply, at: 0 };
        match r.sig().as_deref() {
            Some("s") => r
                .str()
                .ok_or_else(|| err(name, "a reply corral cannot parse")),
            other => Err(err(
                name,
                format!("a value of type {other:?}, not a string"),
            )),
        }
    }

    fn line(&mut self) -> Result<String> {
        let mut out = vec![];
        let mut b = [0u8; 1];
        while !out.ends_with(b"\r\n") {
            let n = self.sock.read(&mut b).map_err(|e| err("auth", e))?;
            if n == 0 {
                return Err(err("auth", "the bus closed the connection"));
            }
            out.push(b[0]);
        }
        Ok(String::from_utf8_lossy(&out).trim_end().to_owned())
    }

    fn read_msg(&mut self) -> Result<Msg> {
        let mut head = [0u8; 16];
        self.sock
            .read_exact(&mut head)
            .map_err(|e| err("read", e))?;
        let body_len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        let fields_len = u32::from_le_bytes(head[12..16].try_into().unwrap()) as usize;
        let total = (16 + fields_len).div_ceil(8) * 8 + body_len;
        let mut raw = head.to_vec();
        raw.resize(total, 0);
        self.sock
            .read_exact(&mut raw[16..])
            .map_err(|e| err("read", e))?;
        parse(&raw).ok_or_else(|| err("read", "a message corral cannot parse"))
    }

    /// Calls a method and returns the reply's body; a D-Bus error becomes an error
    /// naming the method, the error and its message.
    fn call(&mut self, method: Method, body: &[u8]) -> Result<Vec<u8>> {
        self.serial += 1;
        let serial = self.serial;
        let member = method.member;
        let m = call(serial, &method, body);
        self.sock.write_all(&m).map_err(|e| err(member, e))?;
        loop {
            let msg = self.read_msg()?;
            match msg.typ {
                METHOD_RETURN if msg.reply_to == Some(serial) => return Ok(msg.body),
                ERROR if msg.reply_to == Some(serial) => {
                    let text = Rd {
                        b: &msg.body,
                        at: 0,
                    }
                    .str()
                    .unwrap_or_default();
                    return Err(err(
                        member,
                        format!("{}: {text}", msg.error.unwrap_or_default()),
                    ));
                }
                SIGNAL if msg.member.as_deref() == Some("JobRemoved") => {
                    self.note_removed(&msg.body)
                }
                _ => {}
            }
        }
    }

    /// `JobRemoved(u id, o job, s unit, s result)`.
    fn note_removed(&mut self, body: &[u8]) {
        let mut r = Rd { b: body, at: 0 };
        let parsed = (|| {
            r.u32()?;
            let job = r.str()?;
            r.str()?;
            Some((job, r.str()?))
        })();
        self.removed.extend(parsed);
    }

    fn manager(&mut self, member: &str, sig: &str, body: &[u8]) -> Result<Vec<u8>> {
        self.call(Method::manager(member, sig), body)
    }

    /// Asks for systemd's `JobRemoved` signals, once per connection: the bus routes a
    /// signal only to connections with a matching rule, and systemd sends its job
    /// signals only while a client is subscribed.
    fn subscribe(&mut self) -> Result<()> {
        if self.subscribed {
            return Ok(());
        }
        let rule = "type='signal',sender='org.freedesktop.systemd1',\
            interface='org.freedesktop.systemd1.Manager',member='JobRemoved',\
            path='/org/freedesktop/systemd1'";
        let mut b = Buf::default();
        b.str(rule);
        self.call(Method::bus("AddMatch", "s"), &b.0)?;
        self.manager("Subscribe", "", &[])?;
        self.subscribed = true;
        Ok(())
    }

    /// Waits for `job` to end; its result ("done" when it succeeded).
    fn wait_job(&mut self, job: &str) -> Result<String> {
        loop {
            if let Some(i) = self.removed.iter().position(|(j, _)| j == job) {
                return Ok(self.removed.remove(i).1);
            }
            let msg = self.read_msg()?;
            if msg.typ == SIGNAL && msg.member.as_deref() == Some("JobRemoved") {
                self.note_removed(&msg.body);
            }
        }
    }

    /// Starts the transient unit `name` with `props` (mode "replace") and waits for its
    /// job: an error names systemd's error or the job's result.
    pub fn start_transient(&mut self, name: &str, props: &[(String, Value)]) -> Result<()> {
        self.subscribe()?;
        let mut b = Buf::default();
        b.str(name);
        b.str("replace");
        b.properties(props);
        b.array(8, |_| {}); // a(sa(sv)): no auxiliary units
        let reply = self.manager("StartTransientUnit", "ssa(sv)a(sa(sv))", &b.0)?;
        let job = Rd { b: &reply, at: 0 }.str().unwrap_or_default();
        match self.wait_job(&job)?.as_str() {
            "done" => Ok(()),
            r => Err(Error::Other(format!(
                "systemd's job starting it ended with {r:?} (journalctl -u {name} may say why)"
            ))),
        }
    }

    /// Changes properties of the running unit `name` (`runtime`: until the next boot,
    /// as systemctl set-property --runtime).
    pub fn set_properties(&mut self, name: &str, props: &[(String, Value)]) -> Result<()> {
        let mut b = Buf::default();
        b.str(name);
        b.u32(1);
        b.properties(props);
        self.manager("SetUnitProperties", "sba(sv)", &b.0)?;
        Ok(())
    }

    /// Forgets the failed state of unit `name`, so that systemd unloads it.
    pub fn reset_failed(&mut self, name: &str) -> Result<()> {
        let mut b = Buf::default();
        b.str(name);
        self.manager("ResetFailedUnit", "s", &b.0)?;
        Ok(())
    }

    /// Stops the unit `name` and waits for the job; a unit that is not loaded any more
    /// is no error.
    pub fn stop(&mut self, name: &str) -> Result<()> {
        self.subscribe()?;
        let mut b = Buf::default();
        b.str(name);
        b.str("replace");
        let reply = match self.manager("StopUnit", "ss", &b.0) {
            Ok(r) => r,
            Err(e) if is(&e, "NoSuchUnit") => return Ok(()),
            Err(e) => return Err(e),
        };
        let job = Rd { b: &reply, at: 0 }.str().unwrap_or_default();
        self.wait_job(&job)?;
        Ok(())
    }
}

/// Whether `e` is the D-Bus error `org.freedesktop.systemd1.NAME`.
pub fn is(e: &Error, name: &str) -> bool {
    matches!(e, Error::Other(m) if m.contains(&format!("org.freedesktop.systemd1.{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of StartTransientUnit as the specification lays it out.
    #[test]
    fn properties_are_aligned() {
        let mut b = Buf::default();
        b.str("x.scope");
        b.properties(&[
            ("Delegate".into(), Value::Bool(true)),
            ("PIDs".into(), Value::U32s(vec![7])),
        ]);
        let want: Vec<u8> = [
            &[7, 0, 0, 0][..],
            b"x.scope\0",
            &[48, 0, 0, 0], // the array's length; its first struct is at 16, aligned
            &[8, 0, 0, 0],
            b"Delegate\0",
            &[1, b'b', 0], // the variant's signature, then its value at 32
            &[1, 0, 0, 0],
            &[0, 0, 0, 0], // the next struct at 40
            &[4, 0, 0, 0],
            b"PIDs\0",
            &[2, b'a', b'u', 0],
            &[0, 0, 0], // the array's length at 56
            &[4, 0, 0, 0, 7, 0, 0, 0],
        ]
        .concat();
        assert_eq!(b.0, want);
    }

    #[test]
    fn uid_maps() {
        assert_eq!(outside("         0          0 4294967295\n", 0), Some(0));
        let podman = "0 1000 1\n1 1100000 65536\n";
        assert_eq!(outside(podman, 0), Some(1000));
        assert_eq!(outside(podman, 5), Some(1100004));
        assert_eq!(outside(podman, 70000), None);
    }

    #[test]
    fn bus_addresses() {
        assert_eq!(
            unix_path("unix:path=/run/user/1000/bus").as_deref(),
            Some("/run/user/1000/bus")
        );
        assert_eq!(
            unix_path("tcp:host=x;unix:guid=1,path=/b").as_deref(),
            Some("/b")
        );
        assert_eq!(unix_path("unix:abstract=/tmp/x"), None);
    }

    #[test]
    fn replies_parse() {
        // A METHOD_RETURN replying to serial 3 with an "o" body, as the bus sends it.
        let mut body = Buf::default();
        body.str("/org/freedesktop/systemd1/job/42");
        let mut m = Buf::default();
        m.0.extend_from_slice(&[b'l', METHOD_RETURN, 0, 1]);
        m.u32(wire_len(body.0.len()));
        m.u32(9);
        m.array(8, |b| {
            b.pad(8);
            b.0.push(5);
            b.sig("u");
            b.u32(3);
            b.pad(8);
            b.0.push(8);
            b.sig("g");
            b.sig("o");
        });
        m.pad(8);
        m.0.extend_from_slice(&body.0);
        let msg = parse(&m.0).unwrap();
        assert_eq!((msg.typ, msg.reply_to), (METHOD_RETURN, Some(3)));
        assert_eq!(
            Rd {
                b: &msg.body,
                at: 0
            }
            .str()
            .unwrap(),
            "/org/freedesktop/systemd1/job/42"
        );
    }
}
