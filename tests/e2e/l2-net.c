// SPDX-License-Identifier: GPL-2.0-only
/*
 * L2 side of the end-to-end net check: kestrel's net simulator loops every
 * frame the guest transmits back to its receive queue, so frames sent on the
 * virtio-net interface through a raw packet socket must come back, byte for
 * byte. Frames use the IEEE "local experimental" EtherType 0x88b5 so nothing
 * else in the guest reacts to them; half go to the interface's own MAC, half
 * to broadcast. Copies of our own transmissions (PACKET_OUTGOING) are ignored:
 * only frames the device delivered on RX count.
 *
 * Usage: l2-net IFNAME [COUNT [NONCE [CHANNELS...]]]   (built static; L2's init helper)
 * Prints "sent N received M" and exits 0 when every frame came back intact.
 *
 * With CHANNELS (a multiqueue device), for each count in turn, first what
 * `ethtool -L IFNAME combined CHANNELS` does: ETHTOOL_SCHANNELS, which virtio_net turns into
 * the control queue's VQ_PAIRS_SET, then ETHTOOL_GCHANNELS must read
 * CHANNELS back. The frames are then steered to the last queue in use
 * (XPS: every CPU on tx-(CHANNELS-1), none on the others), and that queue
 * pair's counters (ETHTOOL_GSTATS, virtio_net's tx_queue_Q_packets and
 * rx_queue_Q_packets) must grow by COUNT each way: the frames went out
 * and came back on it, so the device serves the pairs the driver asked for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_E2E	0x88b5
#define FRAME_LEN	128
#define MAX_FRAMES	64

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void fill_frame(unsigned char *f, const unsigned char *dst,
		       const unsigned char *src, int seq, const char *nonce)
{
	int i;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_P_E2E >> 8;
	f[13] = ETH_P_E2E & 0xff;
	memset(f + 14, 0, FRAME_LEN - 14);
	snprintf((char *)f + 14, 48, "KESTREL-E2E seq=%d nonce=%s", seq, nonce);
	for (i = 64; i < FRAME_LEN; i++)	/* a pattern a truncation would break */
		f[i] = (unsigned char)(seq * 31 + i);
}

/* ETHTOOL_SCHANNELS to @n combined, then GCHANNELS must agree; 0 or -1 (said why). */
static int set_channels(int fd, const char *ifname, unsigned int n)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		perror("l2-net: ETHTOOL_GCHANNELS");
		return -1;
	}
	if (ch.max_combined < n) {
		printf("max_combined %u below %u\n", ch.max_combined, n);
		return -1;
	}
	ch.cmd = ETHTOOL_SCHANNELS;
	ch.combined_count = n;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		perror("l2-net: ETHTOOL_SCHANNELS");
		return -1;
	}
	memset(&ch, 0, sizeof(ch));
	ch.cmd = ETHTOOL_GCHANNELS;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0 || ch.combined_count != n) {
		printf("combined %u after setting %u\n", ch.combined_count, n);
		return -1;
	}
	printf("channels %u of %u; ", ch.combined_count, ch.max_combined);
	return 0;
}

/* Transmit from every CPU on queue @q alone (XPS); 0 or -1. */
static int steer_tx(const char *ifname, unsigned int q, unsigned int nq)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	char all[16];

	/* A mask wider than the CPUs there are is refused (EOVERFLOW). */
	snprintf(all, sizeof(all), "%lx", ncpu >= 1 && ncpu < 32 ? (1UL << ncpu) - 1 : 0xffffffffUL);
	for (unsigned int i = 0; i < nq; i++) {
		char path[128];
		const char *mask = i == q ? all : "0";
		int f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/tx-%u/xps_cpus",
			 ifname, i);
		f = open(path, O_WRONLY);
		if (f < 0 || write(f, mask, strlen(mask)) < 0) {
			printf("cannot write %s: %s\n", path, strerror(errno));
			if (f >= 0)
				close(f);
			return -1;
		}
		close(f);
	}
	return 0;
}

/*
 * The driver's tx_queue_@q_packets and rx_queue_@q_packets (ETHTOOL_GSTATS);
 * 0 or -1.
 */
static int queue_stats(int fd, const char *ifname, unsigned int q,
		       unsigned long long *tx, unsigned long long *rx)
{
	struct { struct ethtool_sset_info hdr; __u32 len; } ss = {
		.hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS },
	};
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *vals = NULL;
	struct ifreq ifr = { 0 };
	char want_tx[ETH_GSTRING_LEN], want_rx[ETH_GSTRING_LEN];
	int ret = -1, found = 0;
	__u32 n;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ss;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0 || !ss.hdr.sset_mask) {
		perror("l2-net: ETHTOOL_GSSET_INFO");
		return -1;
	}
	n = ss.len;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	vals = calloc(1, sizeof(*vals) + (size_t)n * sizeof(__u64));
	if (!names || !vals)
		goto out;
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	ifr.ifr_data = (void *)names;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		perror("l2-net: ETHTOOL_GSTRINGS");
		goto out;
	}
	vals->cmd = ETHTOOL_GSTATS;
	vals->n_stats = n;
	ifr.ifr_data = (void *)vals;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		perror("l2-net: ETHTOOL_GSTATS");
		goto out;
	}
	snprintf(want_tx, sizeof(want_tx), "tx_queue_%u_packets", q);
	snprintf(want_rx, sizeof(want_rx), "rx_queue_%u_packets", q);
	for (__u32 i = 0; i < n; i++) {
		const char *name = (const char *)names->data + (size_t)i * ETH_GSTRING_LEN;

		if (!strncmp(name, want_tx, ETH_GSTRING_LEN)) {
			*tx = vals->data[i];
			found |= 1;
		} else if (!strncmp(name, want_rx, ETH_GSTRING_LEN)) {
			*rx = vals->data[i];
			found |= 2;
		}
	}
	if (found == 3)
		ret = 0;
	else
		printf("no %s/%s among %u statistics\n", want_tx, want_rx, n);
out:
	free(names);
	free(vals);
	return ret;
}

/*
 * Send @count frames on @fd and wait (5 s at most) for each to come back
 * intact. Prints what happened; Return: 0 all back, 1 not, -1 error.
 */
static int exchange(int fd, const unsigned char *mac, int count, const char *nonce)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned char frame[FRAME_LEN], buf[2048], want[FRAME_LEN];
	int seen[MAX_FRAMES] = { 0 };
	int i, got = 0, bad = 0;
	long long deadline;

	for (i = 0; i < count; i++) {
		fill_frame(frame, (i & 1) ? bcast : mac, mac, i, nonce);
		if (send(fd, frame, FRAME_LEN, 0) != FRAME_LEN) {
			perror("l2-net: send");
			return -1;
		}
	}

	deadline = now_ms() + 5000;
	while (got < count && now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		int seq;

		if (poll(&p, 1, (int)(deadline - now_ms())) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("l2-net: recvfrom");
			return -1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (n < 14 + 16 || sscanf((char *)buf + 14, "KESTREL-E2E seq=%d", &seq) != 1 ||
		    seq < 0 || seq >= count) {
			bad++;
			continue;
		}
		fill_frame(want, (seq & 1) ? bcast : mac, mac, seq, nonce);
		/* virtio-net may pad short frames; our frames are above the minimum */
		if (n < FRAME_LEN || memcmp(buf, want, FRAME_LEN)) {
			bad++;
			continue;
		}
		if (!seen[seq]++)
			got++;
	}
	printf("sent %d received %d corrupt %d mac %02x:%02x:%02x:%02x:%02x:%02x", count, got, bad,
	       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return got == count && !bad ? 0 : 1;
}

/* The frames with @ch channels in use, on queue @ch-1; 0, 1 or -1 as exchange(). */
static int exchange_on(int fd, const char *ifname, const unsigned char *mac, int count,
		       const char *nonce, unsigned int ch)
{
	unsigned long long tx0 = 0, rx0 = 0, tx1 = 0, rx1 = 0;
	int ret;

	printf("[combined %u: ", ch);
	if (set_channels(fd, ifname, ch) || steer_tx(ifname, ch - 1, ch) ||
	    queue_stats(fd, ifname, ch - 1, &tx0, &rx0))
		return -1;
	ret = exchange(fd, mac, count, nonce);
	if (ret < 0 || queue_stats(fd, ifname, ch - 1, &tx1, &rx1))
		return -1;
	printf("; queue %u: tx +%llu rx +%llu", ch - 1, tx1 - tx0, rx1 - rx0);
	if (tx1 - tx0 < (unsigned long long)count || rx1 - rx0 < (unsigned long long)count) {
		printf(" (wanted +%d each)", count);
		ret = 1;
	}
	printf("] ");
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { 0 };
	const char *ifname, *nonce;
	struct ifreq ifr = { 0 };
	unsigned char mac[6];
	int fd, count, ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: l2-net IFNAME [COUNT [NONCE [CHANNELS...]]]\n");
		return 2;
	}
	ifname = argv[1];
	count = argc > 2 ? atoi(argv[2]) : 8;
	nonce = argc > 3 ? argv[3] : "none";
	if (count < 1 || count > MAX_FRAMES)
		count = 8;

	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_E2E));
	if (fd < 0) {
		perror("l2-net: socket(AF_PACKET)");
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("l2-net: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_E2E);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("l2-net: bind");
		return 1;
	}

	if (argc <= 4)
		ret = exchange(fd, mac, count, nonce);
	for (int a = 4; a < argc && ret >= 0; a++) {
		int r = exchange_on(fd, ifname, mac, count, nonce, (unsigned int)atoi(argv[a]));

		ret = r < 0 ? r : ret | r;
	}
	printf("\n");
	return ret ? 1 : 0;
}
