// SPDX-License-Identifier: GPL-2.0-only
/*
 * Management devices: spec parsing (good and hostile), create, list,
 * delete.
 */
#include <errno.h>
#include <string.h>

#include <kestrel/vdpa.h>

#include "../test.h"
#include "driver.h"

static int parse(const char *spec, struct vdpa_dev_config *c)
{
	struct vdpa_mgmt_dev *m;

	return vdpa_mgmt_parse(spec, &m, c);
}

static int count_mgmt(struct vdpa_mgmt_dev *m, void *opaque)
{
	(*(int *)opaque)++;
	return 0;
}

static int count_dev(struct vdpa_device *v, void *opaque)
{
	(*(int *)opaque)++;
	return 0;
}

int main(void)
{
	static const char *const bad[] = {
		"", ",", "net,", "net,,mtu=1500", "nosuch", "net,foo=1",
		"net,mtu", "net,mtu=", "net,mtu=67", "net,mtu=65536",
		"net,mtu=15x0", "net,mtu=-1", "net,mtu=99999999999999999999999",
		"net,mtu=1500,mtu=1500", "net,mac=52:54:00:12:34",
		"net,mac=52:54:00:12:34:56:78", "net,mac=53:54:00:12:34:56",
		"net,mac=00:00:00:00:00:00", "net,mac=52-54-00-12-34-56",
		"net,mac=zz:54:00:12:34:56", "net,max_vqp=0", "net,max_vqp=9",
		"net,capacity=1M", "blk,mac=52:54:00:12:34:56", "blk,capacity=0",
		"blk,capacity=100", "blk,capacity=2G", "blk,capacity=1Q",
		"blk,capacity=1MB", "blk,capacity=99999999999999999999T",
		"blk,capacity=18014398509481984K", "blk,ro=maybe",
		"blk,serial=123456789012345678901", "blk,serial=a b",
		"net,name=bad/name", "net,name=0123456789012345678901234567890123",
		"NET",
	};
	struct vdpa_dev_config c;
	struct vdpa_device *a, *b;
	int n;

	log_level_set(LOG_ERR);
	report(vdpa_mgmt_register_builtin() == 0, "built-in types registered");
	report(vdpa_mgmt_register_builtin() == 0, "registering twice is harmless");
	n = 0;
	vdpa_mgmt_for_each(count_mgmt, &n);
	report(n == 2, "two management devices listed");
	report(vdpa_mgmt_find("net") && vdpa_mgmt_find("blk"), "found by type");

	report(parse("net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1", &c) == 0 &&
	       c.mac[0] == 0x52 && c.mac[5] == 0x56 && c.mtu == 1500 &&
	       c.max_vqp == 1 && c.mask == (VDPA_ATTR_MAC | VDPA_ATTR_MTU |
					    VDPA_ATTR_MAX_VQP),
	       "net spec parsed");
	report(parse("net,mac=52:54:00:AB:cd:EF", &c) == 0 && c.mac[3] == 0xab &&
	       c.mac[5] == 0xef, "mixed-case hex MAC");
	report(parse("blk,capacity=8M,ro=on", &c) == 0 &&
	       c.capacity == 8 << 20 && c.ro, "blk spec parsed");
	report(parse("blk,capacity=4096,ro=off,serial=abc,name=d0", &c) == 0 &&
	       c.capacity == 4096 && !c.ro && !strcmp(c.serial, "abc") &&
	       !strcmp(c.name, "d0"), "blk spec with serial and name");
	report(parse("blk,capacity=1g", &c) == 0 && c.capacity == 1ULL << 30,
	       "capacity at the limit");
	report(parse("net", &c) == 0 && c.mask == 0, "bare type");
	report(parse("nosuch", &c) == -ENODEV, "unknown type: -ENODEV");

	n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = parse(bad[i], &c);

		if (ret == -EINVAL || ret == -ENODEV)
			n++;
		else
			report(false, "accepted hostile spec '%s'", bad[i]);
	}
	report(n == (int)ARRAY_SIZE(bad), "%d hostile specs rejected", n);

	report(vdpa_mgmt_dev_add("net,name=n0", &a) == 0, "create net");
	report(vdpa_get_device_id(a) == 1 && !strcmp(a->name, "n0"),
	       "named net device");
	report(vdpa_mgmt_dev_add("net,name=n0", &b) == -EEXIST,
	       "duplicate name refused");
	report(vdpa_mgmt_dev_add("blk,capacity=64K", &b) == 0 &&
	       vdpa_get_device_id(b) == 2, "create blk");
	report(vdpa_mgmt_dev_add("blk,capacity=bad", &b) == -EINVAL,
	       "bad attribute: nothing created");
	n = 0;
	vdpa_for_each_device(count_dev, &n);
	report(n == 2, "two devices on the bus");
	report(vdpa_mgmt_dev_del_by_name("n0") == 0, "delete by name");
	report(vdpa_mgmt_dev_del_by_name("n0") == -ENODEV, "delete twice: -ENODEV");
	vdpa_for_each_device(count_dev, &(int){ 0 });
	report(vdpa_mgmt_dev_del(b) == 0, "delete blk");
	n = 0;
	vdpa_for_each_device(count_dev, &n);
	report(n == 0, "bus empty");
	return report_summary();
}
