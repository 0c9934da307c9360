"""Makes the configs captured by scripts/capture-corpus.sh neutral (run by it).

usage: corpus-normalize.py CAPTURE_DIR OUT_DIR

CAPTURE_DIR/raw/NAME.json are the copies; CAPTURE_DIR/commands lists NAME<TAB>command.
Every config gets root.path "rootfs"; 64-hex container ids become corpus-N ids (their
12-character short forms too); a mount source under the capture directory becomes
@BUNDLE@/files/file-NAME or dir-NAME (made empty by corral-corpus); a namespace path
/proc/PID/ns/T becomes @NS:T@ and one under the capture directory (Docker's host network)
@HOSTNS:T@; linux.cgroupsPath becomes @CGROUP@ (corral-corpus gives each replay its own);
hooks are dropped (they name the engine's binary, gone after the capture); creation times
become 2000-01-01; podman's own binds go last, sorted, and its environment is sorted (its
order varies from run to run). Anything else
still naming the capture directory is an error.
"""
import json
import os
import re
import sys

cap, out = sys.argv[1], sys.argv[2]
raw = os.path.join(cap, "raw")
HEX = re.compile(r"[0-9a-f]{64}")
NS = re.compile(r"^/proc/\d+/ns/(\w+)$")
names = sorted(f[:-5] for f in os.listdir(raw) if f.endswith(".json"))
index = ["# The corpus: what each config was captured from (scripts/capture-corpus.sh).", ""]
commands = dict(
    line.rstrip("\n").split("\t", 1) for line in open(os.path.join(cap, "commands"))
)
for name in names:
    with open(os.path.join(raw, name + ".json")) as f:
        text = f.read()
    ids = {}
    for h in HEX.findall(text):
        ids.setdefault(h, "corpus-%d" % (len(ids) + 1))
    for h, n in ids.items():
        text = text.replace(h, n.ljust(64, "0")).replace(h[:12], n)
    # A short id whose full form is not in the config (a joined container's hostname).
    text = re.sub(r'"HOSTNAME=[0-9a-f]{12}"', '"HOSTNAME=corpus-peer"', text)
    cfg = json.loads(text)
    notes = []
    for k in cfg.get("annotations", {}):
        if k.endswith(".Created"):
            cfg["annotations"][k] = "2000-01-01T00:00:00Z"
    cfg.setdefault("root", {})["path"] = "rootfs"
    for m in cfg.get("mounts", []):
        src = m.get("source", "")
        if src.startswith(cap + "/"):
            is_dir = os.path.isdir(src) or m.get("destination") == "/dev/shm"
            kind = "dir" if is_dir else "file"
            m["source"] = "@BUNDLE@/files/%s-%s" % (kind, os.path.basename(src.rstrip("/")))
    # podman orders its own bind mounts (files, and /dev/shm, whose parents come before
    # them) and its environment differently from run to run: the binds go last, sorted by
    # destination, the environment is sorted.
    mounts = cfg.get("mounts", [])
    own = [m for m in mounts if m.get("source", "").startswith("@BUNDLE@/files/")]
    rest = [m for m in mounts if m not in own]
    if own:
        cfg["mounts"] = rest + sorted(own, key=lambda m: m.get("destination", ""))
    if name.startswith("podman"):
        cfg["process"]["env"] = sorted(cfg["process"].get("env", []))
    linux = cfg.get("linux")
    if isinstance(linux, dict):
        for ns in linux.get("namespaces", []):
            p = ns.get("path")
            if not p:
                continue
            mt = NS.match(p)
            if mt:
                ns["path"] = "@NS:%s@" % mt.group(1)
            elif p.startswith(cap + "/"):
                ns["path"] = "@HOSTNS:%s@" % ns["type"]
                notes.append("the %s namespace is the host's (a bind under the engine's state)" % ns["type"])
        if "cgroupsPath" in linux:
            linux["cgroupsPath"] = "@CGROUP@"
    if cfg.pop("hooks", None):
        notes.append("hooks dropped (they ran the engine's own binary)")
    text = json.dumps(cfg, indent=2, sort_keys=True) + "\n"
    if cap in text:
        sys.exit("%s: still names the capture directory %s" % (name, cap))
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(text)
    cmd = re.sub(r"/proc/\d+/", "/proc/PID/", commands.get(name, "?").replace(cap, "$T"))
    index.append("- `%s`: `%s`%s" % (name, cmd, "".join("; " + n for n in notes)))
with open(os.path.join(out, "INDEX.md"), "w") as f:
    f.write("\n".join(index) + "\n")
