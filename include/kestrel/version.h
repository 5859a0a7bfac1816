/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KESTREL_VERSION_H
#define KESTREL_VERSION_H

/* kestrel's own version: `kestrel --version`, GET /version, GET /. */
#define KESTREL_VERSION		"0.1.0"

#endif /* KESTREL_VERSION_H */
