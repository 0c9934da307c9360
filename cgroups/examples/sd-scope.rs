//! Probe of the D-Bus client against a real systemd (run in scripts/systemd-guest.sh):
//! puts a `sleep` into a transient scope with a memory limit, shows where it landed,
//! stops the scope. usage: sd-scope SLICE NAME
use corral_cgroups::dbus::{Bus, Value};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (slice, name) = (&args[1], &args[2]);
    let mut child = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let pid = child.id();
    let t0 = std::time::Instant::now();
    let mut bus = Bus::system().unwrap();
    let r = bus.start_transient(
        name,
        &[
            ("Description".into(), Value::Str("corral probe".into())),
            ("Slice".into(), Value::Str(slice.clone())),
            ("Delegate".into(), Value::Bool(true)),
            ("PIDs".into(), Value::U32s(vec![pid])),
            ("MemoryMax".into(), Value::U64(64 << 20)),
            ("TasksMax".into(), Value::U64(42)),
        ],
    );
    println!("start {name}: {r:?} in {:?}", t0.elapsed());
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    println!("sleep's cgroup: {}", cg.trim());
    let dir = format!("/sys/fs/cgroup{}", cg.trim().trim_start_matches("0::"));
    for f in ["memory.max", "pids.max", "cgroup.subtree_control"] {
        println!("{f}: {:?}", std::fs::read_to_string(format!("{dir}/{f}")));
    }
    let bad = bus.start_transient(name, &[("PIDs".into(), Value::U32s(vec![pid]))]);
    println!("starting it again: {bad:?}");
    let t0 = std::time::Instant::now();
    println!("stop: {:?} in {:?}", bus.stop(name), t0.elapsed());
    println!("sleep after stop: {:?}", child.try_wait());
    println!("stop again: {:?}", bus.stop(name));
    let _ = child.kill();
    let _ = child.wait();
}
