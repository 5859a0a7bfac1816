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

/* Room for any type's config struct, aligned as the bus requires. */
static _Alignas(max_align_t) u8 cbuf[VDPA_CONFIG_MAX];
static const struct vdpa_dev_args *c = (const void *)cbuf;
static struct vdpa_mgmt_dev *pm;

static int parse(const char *spec)
{
	return vdpa_mgmt_parse(spec, &pm, cbuf, sizeof(cbuf));
}

static bool given(const char *key)
{
	return vdpa_attr_given(pm, c, key);
}

/* Create @spec and read @len bytes of its config space at @off. */
static bool created_config(const char *spec, unsigned int off, void *buf,
			   unsigned int len)
{
	struct vdpa_device *v;
	bool ok;

	if (vdpa_mgmt_dev_add(spec, &v))
		return false;
	ok = vdpa_get_config(v, off, buf, len) == 0;
	vdpa_mgmt_dev_del(v);
	return ok;
}

/* A type of the test's own: every generic value parser. */
struct test_args {
	struct vdpa_dev_args common;
	u8 small;
	u64 bytes;
	bool flag;
	char word[8];
	u32 choice;
};

static const char *const test_words[] = { "alpha", "beta", NULL };

static const struct vdpa_attr test_attrs[] = {
	VDPA_ATTR_UINT(struct test_args, small, "small", 2, 200, "a u8"),
	VDPA_ATTR_SIZE(struct test_args, bytes, "bytes", 4096, 1073741824, "a size"),
	VDPA_ATTR_BOOL(struct test_args, flag, "flag", "a bool"),
	VDPA_ATTR_STRING(struct test_args, word, "word", "<1..7 characters>", "a string"),
	VDPA_ATTR_CHOICE(struct test_args, choice, "choice", "<alpha|beta>",
			 test_words, "a choice"),
};

static const struct test_args test_defaults = { .small = 7, .choice = 1 };

static int test_dev_add(struct vdpa_mgmt_dev *mdev, const void *config,
			struct vdpa_device **out)
{
	return -EOPNOTSUPP;
}

static struct vdpa_mgmt_dev test_mgmt = {
	.type = "test",
	.description = "parser test type",
	.attrs = test_attrs,
	.nattrs = ARRAY_SIZE(test_attrs),
	.config_size = sizeof(struct test_args),
	.defaults = &test_defaults,
	.dev_add = test_dev_add,
};

static void test_own_type(void)
{
	const struct test_args *t = (const void *)cbuf;
	static const char *const bad[] = {
		"test,small=1", "test,small=201", "test,small=256",
		"test,bytes=4097", "test,bytes=0", "test,bytes=2G", "test,flag=2",
		"test,word=eightchr", "test,choice=gamma", "test,choice=",
		"test,other=1",
	};
	int n = 0;

	report(vdpa_mgmt_dev_register(&test_mgmt) == 0, "own type registered");
	report(parse("test") == 0 && t->small == 7 && t->choice == 1 &&
	       !given("small"), "defaults apply, nothing given");
	report(parse("test,small=200,bytes=8KiB,flag=yes,word=seven77,choice=alpha") == 0 &&
	       t->small == 200 && t->bytes == 8192 && t->flag &&
	       !strcmp(t->word, "seven77") && t->choice == 0 && given("small") &&
	       given("choice"), "every parser stores its value");
	report(parse("test,word=a,,b=c,flag=on") == 0 && !strcmp(t->word, "a,b=c") &&
	       t->flag, "',,' is a comma in a value, '=' after the first is the value's");
	report(parse("test,word=ab,,,,,flag=on") == 0 && !strcmp(t->word, "ab,,") &&
	       t->flag, "',,,,,' is two commas, then the separator");
	report(parse("test,word=,,x") == 0 && !strcmp(t->word, ",x"), "a value starting with ','");
	report(parse("test,word=x,") == -EINVAL && parse("test,,word=x") == -ENODEV,
	       "a trailing single comma is an empty attribute; ',,' in the type is no type");
	{
		char esc[16];

		report(vdpa_mgmt_escape("a,b,", esc, sizeof(esc)) == 0 && !strcmp(esc, "a,,b,,"),
		       "vdpa_mgmt_escape doubles each comma");
		report(vdpa_mgmt_escape("a,b", esc, 4) == -E2BIG &&
		       vdpa_mgmt_escape("a,b", esc, 5) == 0, "and says when it does not fit");
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse(bad[i]) == -EINVAL)
			n++;
		else
			report(false, "accepted bad spec '%s'", bad[i]);
	}
	report(n == (int)ARRAY_SIZE(bad), "%d bad values of the own type rejected", n);
	report(vdpa_mgmt_parse("test", &pm, cbuf, sizeof(struct test_args) - 1) == -ENOSPC,
	       "a config buffer too small: -ENOSPC");
	vdpa_mgmt_dev_unregister(&test_mgmt);
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
		"blk,capacity=99999999999999999999T",
		"blk,capacity=18014398509481984K", "blk,ro=maybe",
		"blk,serial=123456789012345678901", "blk,serial=a b",
		"net,name=bad/name", "net,name=0123456789012345678901234567890123",
		"NET",
	};
	struct vdpa_device *a, *b;
	u8 cfg[12];
	le64 cap;
	int n;

	log_level_set(LOG_ERR);
	report(vdpa_register_types() == 0, "built-in types registered");
	report(vdpa_register_types() == 0, "registering twice is harmless");
	n = 0;
	vdpa_mgmt_for_each(count_mgmt, &n);
	report_eq(n, 8, "eight management devices listed (net, blk, tap, file-blk, console, rng, balloon, vsock)");
	report(vdpa_mgmt_find("net") && vdpa_mgmt_find("blk"), "found by type");

	report(parse("net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1") == 0 &&
	       given("mac") && given("mtu") && given("max_vqp") && !given("mode"),
	       "net spec parsed");
	report(created_config("net,mac=52:54:00:12:34:56,mtu=1500,max_vqp=1", 0,
			      cfg, sizeof(cfg)) &&
	       cfg[0] == 0x52 && cfg[5] == 0x56 && (cfg[10] | cfg[11] << 8) == 1500 &&
	       (cfg[8] | cfg[9] << 8) == 1, "net attributes reach the device");
	report(created_config("net,mac=52:54:00:AB:cd:EF", 0, cfg, 6) &&
	       cfg[3] == 0xab && cfg[5] == 0xef, "mixed-case hex MAC");
	report(parse("blk,capacity=8M,ro=on") == 0 && given("capacity") && given("ro"),
	       "blk spec parsed");
	report(created_config("blk,capacity=8M,ro=on", 0, &cap, sizeof(cap)) &&
	       le64_to_cpu(cap) == (8 << 20) / 512, "blk capacity reaches the device");
	report(parse("blk,capacity=4096,ro=off,serial=abc,name=d0") == 0 &&
	       given("serial") && !strcmp(c->name, "d0"),
	       "blk spec with serial and name");
	report(parse("blk,capacity=1g") == 0, "capacity at the limit");
	/* The one size parser: the same spellings as --memory. */
	report(parse("blk,capacity=1GiB") == 0 && parse("blk,capacity=1MB") == 0,
	       "capacity takes the iB/B spellings");
	report(created_config("blk,capacity=1GiB", 0, &cap, sizeof(cap)) &&
	       le64_to_cpu(cap) == (1ULL << 30) / 512, "1GiB is 2^30 bytes");
	report(parse("net") == 0 && !given("mac") && !given("mtu") && !c->name[0],
	       "bare type");
	report(parse("nosuch") == -ENODEV, "unknown type: -ENODEV");

	n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = parse(bad[i]);

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
	report(n == 0, "bus empty");
	test_own_type();
	return report_summary();
}
