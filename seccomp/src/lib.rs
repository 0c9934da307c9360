//! seccomp filters for corral, built with libseccomp. Empty until the process-security issue; corral refuses `linux.seccomp` until then.
