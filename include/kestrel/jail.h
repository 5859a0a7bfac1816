/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_JAIL_H
#define KESTREL_JAIL_H

/*
 * `kestrel jail`: Firecracker's jailer for kestrel (docs/jail.md). Builds
 * <chroot-base>/<exec-file name>/<id>/root, links the exec file and the
 * /dev/kvm and /dev/net/tun nodes into it, puts the process in its cgroup,
 * network and mount namespaces (and a new PID namespace on request),
 * pivots into the chroot, drops every capability and privilege, closes
 * every inherited fd and execs the exec file with the arguments after --.
 */

/**
 * jail_main() - `kestrel jail` (also kestrel called as "...jailer")
 * @argc: arguments, argv[0] included
 * @argv: Firecracker's jailer command line
 *
 * Needs root. Does not return when it execs.
 *
 * Return: the exit status: 2 for a bad argument (one line names it), 4
 * when the host refused a step (one line names it); with --new-pid-ns
 * and no --daemonize, the jailed process's own status.
 */
int jail_main(int argc, char **argv);

#endif /* KESTREL_JAIL_H */
