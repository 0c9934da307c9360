//! cgroup management for corral: v2 and v1 back ends. Empty until the cgroups issue; corral refuses `linux.resources` and `linux.cgroupsPath` until then.
