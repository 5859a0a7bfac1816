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
 * Usage: l2-net IFNAME [COUNT [NONCE]]    (built static; runs as L2's init helper)
 * Prints "sent N received M" and exits 0 when every frame came back intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
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

int main(int argc, char **argv)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned char mac[6], frame[FRAME_LEN], buf[2048], want[FRAME_LEN];
	int seen[MAX_FRAMES] = { 0 };
	struct sockaddr_ll sll = { 0 };
	const char *ifname, *nonce;
	int fd, count, i, got = 0, bad = 0;
	struct ifreq ifr = { 0 };
	long long deadline;

	if (argc < 2) {
		fprintf(stderr, "usage: l2-net IFNAME [COUNT [NONCE]]\n");
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

	for (i = 0; i < count; i++) {
		fill_frame(frame, (i & 1) ? bcast : mac, mac, i, nonce);
		if (send(fd, frame, FRAME_LEN, 0) != FRAME_LEN) {
			perror("l2-net: send");
			return 1;
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
			return 1;
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
	printf("sent %d received %d corrupt %d mac %02x:%02x:%02x:%02x:%02x:%02x\n", count, got, bad,
	       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return got == count && !bad ? 0 : 1;
}
