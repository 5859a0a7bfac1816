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
	report_eq(vdpa_mgmt_register_builtin(), 0, "built-in types registered");
	report_eq(vdpa_mgmt_register_builtin(), 0, "registering twice is harmless");
	n = 0;
	vdpa_mgmt_for_each(count_mgmt, &n);
	report_eq(n, 2, "two management devices listed");
	check_true(vdpa_mgmt_find("net"));
	check_true(vdpa_mgmt_find("blk"));
	report_checks("found by type");

	check_eq(parse("net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1", &c), 0);
	check_eq(c.mac[0], 0x52);
	check_eq(c.mac[5], 0x56);
	check_eq(c.mtu, 1500);
	check_eq(c.max_vqp, 1);
	check_eq(c.mask, (VDPA_ATTR_MAC | VDPA_ATTR_MTU | VDPA_ATTR_MAX_VQP));
	report_checks("net spec parsed");
	check_eq(parse("net,mac=52:54:00:AB:cd:EF", &c), 0);
	check_eq(c.mac[3], 0xab);
	check_eq(c.mac[5], 0xef);
	report_checks("mixed-case hex MAC");
	check_eq(parse("blk,capacity=8M,ro=on", &c), 0);
	check_eq(c.capacity, 8 << 20);
	check_true(c.ro);
	report_checks("blk spec parsed");
	check_eq(parse("blk,capacity=4096,ro=off,serial=abc,name=d0", &c), 0);
	check_eq(c.capacity, 4096);
	check_eq(c.ro, 0);
	check_str(c.serial, "abc");
	check_str(c.name, "d0");
	report_checks("blk spec with serial and name");
	check_eq(parse("blk,capacity=1g", &c), 0);
	check_eq(c.capacity, 1ULL << 30);
	report_checks("capacity at the limit");
	check_eq(parse("net", &c), 0);
	check_eq(c.mask, 0);
	report_checks("bare type");
	report_err(parse("nosuch", &c), -ENODEV, "unknown type: -ENODEV");

	n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = parse(bad[i], &c);

		if (ret == -EINVAL || ret == -ENODEV)
			n++;
		else
			report(false, "accepted hostile spec '%s'", bad[i]);
	}
	report_eq(n, (int)ARRAY_SIZE(bad), "%d hostile specs rejected", n);

	report_eq(vdpa_mgmt_dev_add("net,name=n0", &a), 0, "create net");
	check_eq(vdpa_get_device_id(a), 1);
	check_str(a->name, "n0");
	report_checks("named net device");
	report_err(vdpa_mgmt_dev_add("net,name=n0", &b), -EEXIST, "duplicate name refused");
	check_eq(vdpa_mgmt_dev_add("blk,capacity=64K", &b), 0);
	check_eq(vdpa_get_device_id(b), 2);
	report_checks("create blk");
	report_err(vdpa_mgmt_dev_add("blk,capacity=bad", &b), -EINVAL,
		   "bad attribute: nothing created");
	n = 0;
	vdpa_for_each_device(count_dev, &n);
	report_eq(n, 2, "two devices on the bus");
	report_eq(vdpa_mgmt_dev_del_by_name("n0"), 0, "delete by name");
	report_err(vdpa_mgmt_dev_del_by_name("n0"), -ENODEV, "delete twice: -ENODEV");
	vdpa_for_each_device(count_dev, &(int){ 0 });
	report_eq(vdpa_mgmt_dev_del(b), 0, "delete blk");
	n = 0;
	vdpa_for_each_device(count_dev, &n);
	report_eq(n, 0, "bus empty");
	return report_summary();
}
