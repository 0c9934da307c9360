# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_corral_global_optspecs
    string join \n root= log= log-format= debug systemd-cgroup rootless= v/version h/help
end

function __fish_corral_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_corral_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_corral_using_subcommand
    set -l cmd (__fish_corral_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c corral -n "__fish_corral_needs_command" -l root -d 'Directory for the state of containers (default /run/corral; $XDG_RUNTIME_DIR/corral when not root). It must belong to the caller and not be writable by its group or others' -r -F
complete -c corral -n "__fish_corral_needs_command" -l log -d 'Write log lines to FILE instead of standard error' -r -F
complete -c corral -n "__fish_corral_needs_command" -l log-format -d 'Format of log lines' -r -f -a "text\t''
json\t''"
complete -c corral -n "__fish_corral_needs_command" -l rootless -d 'Rootless mode: true, false or auto (default: rootless when not run as root). A rootless container needs a user namespace' -r
complete -c corral -n "__fish_corral_needs_command" -l debug -d 'Log debug lines too'
complete -c corral -n "__fish_corral_needs_command" -l systemd-cgroup -d 'Manage cgroups through systemd: the container gets a transient scope (cgroupsPath slice:prefix:name, default system.slice:corral:ID; for a non-root caller user.slice:corral:ID in its own systemd user manager) made over D-Bus; later commands use the driver the state records'
complete -c corral -n "__fish_corral_needs_command" -s v -l version -d 'Print the version, the commit, the runtime-spec and libseccomp versions'
complete -c corral -n "__fish_corral_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_needs_command" -f -a "create" -d 'Create a container, ready to start'
complete -c corral -n "__fish_corral_needs_command" -f -a "start" -d 'Start a created container: run its user process (with $NOTIFY_SOCKET, wait until it is ready)'
complete -c corral -n "__fish_corral_needs_command" -f -a "run" -d 'Create and start a container, wait for it (unless --detach) and delete it'
complete -c corral -n "__fish_corral_needs_command" -f -a "state" -d 'Print the state of a container as JSON'
complete -c corral -n "__fish_corral_needs_command" -f -a "kill" -d 'Send a signal to a container\'s init (default SIGTERM)'
complete -c corral -n "__fish_corral_needs_command" -f -a "delete" -d 'Delete a stopped container and everything it holds'
complete -c corral -n "__fish_corral_needs_command" -f -a "list" -d 'List containers'
complete -c corral -n "__fish_corral_needs_command" -f -a "spec" -d 'Write a default config.json for a new bundle'
complete -c corral -n "__fish_corral_needs_command" -f -a "features" -d 'Print the features of this runtime as JSON (runtime-spec features.md)'
complete -c corral -n "__fish_corral_needs_command" -f -a "exec" -d 'Run a new process in a created or running container'
complete -c corral -n "__fish_corral_needs_command" -f -a "ps" -d 'List the processes of a container: a ps(1) table of them, or their pids as JSON'
complete -c corral -n "__fish_corral_needs_command" -f -a "pause" -d 'Freeze every process of a running container (its cgroup)'
complete -c corral -n "__fish_corral_needs_command" -f -a "resume" -d 'Thaw a paused container'
complete -c corral -n "__fish_corral_needs_command" -f -a "events" -d 'Print a container\'s statistics, and its OOM events, as JSON lines'
complete -c corral -n "__fish_corral_needs_command" -f -a "update" -d 'Change a running container\'s resource limits'
complete -c corral -n "__fish_corral_needs_command" -f -a "completion" -d 'Print a completion script for a shell (scripts/install.sh installs them)'
complete -c corral -n "__fish_corral_needs_command" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU (Debian: apt-get install criu)'
complete -c corral -n "__fish_corral_needs_command" -f -a "restore" -d 'Restore a container from a checkpoint made with `checkpoint`, under ID'
complete -c corral -n "__fish_corral_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c corral -n "__fish_corral_using_subcommand create" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l console-socket -d 'Unix socket to send the pseudo-terminal master to (with process.terminal)' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l pid-file -d 'Write the container init\'s pid to FILE' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l pidfd-socket -d 'Unix socket to send a pidfd of the container\'s init to (SCM_RIGHTS), once it is ready' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l preserve-fds -d 'Number of extra fds to pass to the container, after stdio and those of socket activation ($LISTEN_FDS)' -r
complete -c corral -n "__fish_corral_using_subcommand create" -l no-pivot -d 'Do not use pivot_root to enter the rootfs (for a ramfs root): move it and chroot'
complete -c corral -n "__fish_corral_using_subcommand create" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c corral -n "__fish_corral_using_subcommand create" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand start" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand run" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l console-socket -d 'Unix socket to send the pseudo-terminal master to (with process.terminal)' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l pid-file -d 'Write the container init\'s pid to FILE' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l pidfd-socket -d 'Unix socket to send a pidfd of the container\'s init to (SCM_RIGHTS), once it is ready' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l preserve-fds -d 'Number of extra fds to pass to the container, after stdio and those of socket activation ($LISTEN_FDS)' -r
complete -c corral -n "__fish_corral_using_subcommand run" -l no-pivot -d 'Do not use pivot_root to enter the rootfs (for a ramfs root): move it and chroot'
complete -c corral -n "__fish_corral_using_subcommand run" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c corral -n "__fish_corral_using_subcommand run" -s d -l detach -d 'Return once the container is started'
complete -c corral -n "__fish_corral_using_subcommand run" -l keep -d 'Do not delete the container after it exits'
complete -c corral -n "__fish_corral_using_subcommand run" -l no-subreaper -d 'Do not become the subreaper of processes the container leaves behind'
complete -c corral -n "__fish_corral_using_subcommand run" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand state" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand kill" -s a -l all -d 'Send the signal to every process of the container'
complete -c corral -n "__fish_corral_using_subcommand kill" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand delete" -s f -l force -d 'Kill the container first if it is not stopped (created, running or paused)'
complete -c corral -n "__fish_corral_using_subcommand delete" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand list" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c corral -n "__fish_corral_using_subcommand list" -s q -l quiet -d 'Print only the ids'
complete -c corral -n "__fish_corral_using_subcommand list" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand spec" -s b -l bundle -d 'Directory to write config.json in' -r -F
complete -c corral -n "__fish_corral_using_subcommand spec" -l rootless -d 'Write a config for running as an unprivileged user'
complete -c corral -n "__fish_corral_using_subcommand spec" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand features" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand exec" -s p -l process -d 'A JSON file with an OCI process object: the whole process (no COMMAND, no process flags)' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l console-socket -d 'Unix socket to send the pseudo-terminal master to (with --tty)' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l pidfd-socket -d 'Unix socket to send a pidfd of the process to (SCM_RIGHTS)' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l pid-file -d 'Write the process\'s pid to FILE' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l cwd -d 'Working directory in the container (absolute)' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -s e -l env -d 'Set an environment variable (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s u -l user -d 'Run as this user (numbers)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s g -l additional-gids -d 'An additional group (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s c -l cap -d 'Add a capability to the bounding, effective and permitted sets (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l apparmor -d 'AppArmor profile of the process' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l process-label -d 'SELinux label of the process' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l preserve-fds -d 'Number of extra fds after stdio to pass to the process' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l cgroup -d 'Run in an existing sub-cgroup of the container\'s: PATH, or CONTROLLER[,CONTROLLER...]:PATH on cgroup v1 (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s t -l tty -d 'Give the process a pseudo-terminal (sent to --console-socket)'
complete -c corral -n "__fish_corral_using_subcommand exec" -s d -l detach -d 'Return once the process runs instead of waiting for it'
complete -c corral -n "__fish_corral_using_subcommand exec" -l no-new-privs -d 'Set no_new_privs for the process'
complete -c corral -n "__fish_corral_using_subcommand exec" -l ignore-paused -d 'Run the process even if the container is paused (it runs once the container is resumed)'
complete -c corral -n "__fish_corral_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand ps" -s f -l format -d 'Output format: table (ps\'s own, filtered to the container) or json (pids)' -r -f -a "table\t''
json\t''"
complete -c corral -n "__fish_corral_using_subcommand ps" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand pause" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand resume" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_using_subcommand events" -l interval -d 'Time between two statistics (Go syntax: 5s, 500ms, 1m30s)' -r
complete -c corral -n "__fish_corral_using_subcommand events" -l stats -d 'Print the statistics once and exit'
complete -c corral -n "__fish_corral_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand update" -s r -l resources -d 'File with the resources to change (linux.resources JSON), or - for standard input' -r -F
complete -c corral -n "__fish_corral_using_subcommand update" -l memory -d 'Memory limit in bytes (512m, 1g; -1: unlimited)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l memory-swap -d 'Memory + swap limit in bytes (-1: unlimited swap)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l memory-reservation -d 'Memory reservation (soft limit) in bytes' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l kernel-memory -d 'Kernel memory limit: ignored with a warning, as runc does' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-quota -d 'CPU CFS quota in µs per period (-1: unlimited)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-period -d 'CPU CFS period in µs' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-burst -d 'CPU CFS burst in µs' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-share -d 'CPU shares (relative weight)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-idle -d 'SCHED_IDLE for the cgroup: 1 or 0' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-rt-period -d 'CPU realtime period in µs (not supported by corral yet)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-rt-runtime -d 'CPU realtime runtime in µs (not supported by corral yet)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpuset-cpus -d 'CPUs to run on (0-3,5)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpuset-mems -d 'Memory nodes to use (0-1)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l pids-limit -d 'Maximum number of pids (-1: unlimited)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l blkio-weight -d 'Block IO weight, 10 to 1000' -r
complete -c corral -n "__fish_corral_using_subcommand update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l image-path -d 'Directory of the checkpoint images (default ./checkpoint)' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l work-path -d 'Directory for CRIU\'s log and temporary files (default: the image path)' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l status-fd -d 'Fd to report lazy-pages readiness on: not supported by corral (refused)' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l page-server -d 'Page server ADDRESS:PORT: not supported by corral (refused)' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l manage-cgroups-mode -d 'CRIU\'s cgroups mode: soft (default), full, strict or ignore' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l empty-ns -d 'Create this namespace empty on restore instead of restoring it (network only; repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l parent-path -d 'Images of a previous pre-dump, relative to the image path' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l leave-running -d 'Leave the container running after the checkpoint'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l tcp-established -d 'Allow established TCP connections'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l tcp-skip-in-flight -d 'Skip in-flight TCP connections'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l link-remap -d 'Allow linking unlinked files back'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l shell-job -d 'Allow shell jobs'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l file-locks -d 'Handle file locks'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l lazy-pages -d 'Lazy migration through a page server: not supported by corral (refused)'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l auto-dedup -d 'Deduplicate the parent\'s images as the dump goes'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l pre-dump -d 'Dump memory only, and leave the container running (for a later dump with --parent-path)'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand restore" -l image-path -d 'Directory of the checkpoint images (default ./checkpoint)' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l work-path -d 'Directory for CRIU\'s log and temporary files (default: the image path)' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l status-fd -d 'Fd to report lazy-pages readiness on: not supported by corral (refused)' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l page-server -d 'Page server ADDRESS:PORT: not supported by corral (refused)' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l manage-cgroups-mode -d 'CRIU\'s cgroups mode: soft (default), full, strict or ignore' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l empty-ns -d 'Create this namespace empty on restore instead of restoring it (network only; repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l pid-file -d 'Write the restored init\'s pid to FILE' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l console-socket -d 'Unix socket to send the restored terminal\'s new pty master to' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l lsm-profile -d 'LSM profile of the restored processes, TYPE:NAME (apparmor:P, selinux:L)' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l lsm-mount-context -d 'SELinux mount context for the restored mounts' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l leave-running -d 'Leave the container running after the checkpoint'
complete -c corral -n "__fish_corral_using_subcommand restore" -l tcp-established -d 'Allow established TCP connections'
complete -c corral -n "__fish_corral_using_subcommand restore" -l tcp-skip-in-flight -d 'Skip in-flight TCP connections'
complete -c corral -n "__fish_corral_using_subcommand restore" -l link-remap -d 'Allow linking unlinked files back'
complete -c corral -n "__fish_corral_using_subcommand restore" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c corral -n "__fish_corral_using_subcommand restore" -l shell-job -d 'Allow shell jobs'
complete -c corral -n "__fish_corral_using_subcommand restore" -l file-locks -d 'Handle file locks'
complete -c corral -n "__fish_corral_using_subcommand restore" -l lazy-pages -d 'Lazy migration through a page server: not supported by corral (refused)'
complete -c corral -n "__fish_corral_using_subcommand restore" -l auto-dedup -d 'Deduplicate the parent\'s images as the dump goes'
complete -c corral -n "__fish_corral_using_subcommand restore" -s d -l detach -d 'Return once the container is restored'
complete -c corral -n "__fish_corral_using_subcommand restore" -l no-subreaper -d 'Do not become the subreaper of processes the container leaves behind'
complete -c corral -n "__fish_corral_using_subcommand restore" -l no-pivot -d 'Do not use pivot_root: not supported by corral\'s restore (refused)'
complete -c corral -n "__fish_corral_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "create" -d 'Create a container, ready to start'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "start" -d 'Start a created container: run its user process (with $NOTIFY_SOCKET, wait until it is ready)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "run" -d 'Create and start a container, wait for it (unless --detach) and delete it'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "state" -d 'Print the state of a container as JSON'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "kill" -d 'Send a signal to a container\'s init (default SIGTERM)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "delete" -d 'Delete a stopped container and everything it holds'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "list" -d 'List containers'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "spec" -d 'Write a default config.json for a new bundle'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "features" -d 'Print the features of this runtime as JSON (runtime-spec features.md)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "exec" -d 'Run a new process in a created or running container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "ps" -d 'List the processes of a container: a ps(1) table of them, or their pids as JSON'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "pause" -d 'Freeze every process of a running container (its cgroup)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "resume" -d 'Thaw a paused container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "events" -d 'Print a container\'s statistics, and its OOM events, as JSON lines'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "update" -d 'Change a running container\'s resource limits'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "completion" -d 'Print a completion script for a shell (scripts/install.sh installs them)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU (Debian: apt-get install criu)'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "restore" -d 'Restore a container from a checkpoint made with `checkpoint`, under ID'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run state kill delete list spec features exec ps pause resume events update completion checkpoint restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
