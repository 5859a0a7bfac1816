/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef GUEST_X86_USERMODE_H
#define GUEST_X86_USERMODE_H

/*
 * Ring 3: code at CPL 3 runs natively under PVM (supervisor code is
 * emulated), so hot loops belong there. run_in_user() drops to ring 3 on
 * this CPU's user stack with IOPL 3 (port I/O allowed) and interrupts off,
 * calls @fn(@arg), and comes back through a #UD at a known address (see
 * start.S). Returns what @fn returned.
 */
#include "guest.h"

u64 run_in_user(u64 (*fn)(void *), void *arg);

#endif /* GUEST_X86_USERMODE_H */
