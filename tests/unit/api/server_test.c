// SPDX-License-Identifier: GPL-2.0-only
/*
 * src/api/server.c and mailbox.c over a real Unix socket: requests reach
 * the handler and VM changes reach the VMM thread; hostile clients (a body
 * over the limit, huge headers, garbage, 1000 requests in a row, a client
 * that disconnects mid-request, one that never finishes) get a 4xx or a
 * closed connection while others are still served; nothing leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../../src/api/internal.h"
#include "../test.h"
#include "fake_vmm.h"

static char sock_path[108];
static struct api_mailbox *mb;
static struct fake_vmm fake;
static atomic_bool vmm_stop;
static pthread_t vmm_thread_id;

/* The test's VMM thread: serves the mailbox as fcmain.c's loop does. */
static void *vmm_thread(void *arg)
{
	while (!atomic_load(&vmm_stop)) {
		struct pollfd p = { .fd = api_mailbox_fd(mb), .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			api_mailbox_serve(mb, &fake.vmm);
	}
	return NULL;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int connect_api(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * Read one response (head + Content-Length body) within @timeout_ms.
 * Return: its status, 0 if the connection closed first, -1 on timeout.
 */
static int read_response(int fd, char *body, size_t bodylen, int timeout_ms)
{
	char buf[8192];
	size_t got = 0;
	double end = now_ms() + timeout_ms;

	body[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *head_end;
		ssize_t n;

		buf[got] = '\0';
		head_end = strstr(buf, "\r\n\r\n");
		if (head_end) {
			const char *cl = strcasestr(buf, "Content-Length:");
			size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
			size_t have = got - (size_t)(head_end + 4 - buf);

			if (have >= want) {
				snprintf(body, bodylen, "%.*s", (int)want, head_end + 4);
				return atoi(buf + 9);
			}
		}
		if (got == sizeof(buf) - 1 || poll(&p, 1, (int)(end - now_ms())) <= 0)
			return -1;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
}

/* One request on a new connection. Return: the status. */
static int request(const char *method, const char *path, const char *json,
		   char *body, size_t bodylen)
{
	size_t len = json ? strlen(json) : 0;
	int fd = connect_api(), st;
	char msg[512];

	if (fd < 0)
		return -1;
	snprintf(msg, sizeof(msg), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 method, path, len);
	st = send_all(fd, msg, strlen(msg)) && send_all(fd, json ? json : "", len) ?
	     read_response(fd, body, bodylen, 2000) : -1;
	close(fd);
	return st;
}

/* Closed by the server: recv() sees EOF (after any 4xx) within @ms. */
static bool closed_within(int fd, int ms, int *status)
{
	char body[1024];

	*status = read_response(fd, body, sizeof(body), ms);
	if (*status > 0)	/* an error response first; then it must close */
		return read_response(fd, body, sizeof(body), ms) == 0;
	return *status == 0;
}

static void test_requests(void)
{
	char body[2048];
	int st;

	st = request("GET", "/", NULL, body, sizeof(body));
	report(st == 200 && strstr(body, "\"state\":\"Not started\""), "GET /: %d %s", st, body);
	st = request("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}",
		     body, sizeof(body));
	report(st == 204, "PUT /machine-config: %d", st);
	st = request("PATCH", "/vm", "{\"state\": \"Paused\"}", body, sizeof(body));
	report(st == 400 && strstr(body, "fault_message"), "PATCH /vm before boot: %d %s", st, body);
	st = request("DELETE", "/machine-config", NULL, body, sizeof(body));
	report(st == 400 && strstr(body, "Invalid request method"), "DELETE: %d %s", st, body);
	st = request("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", body, sizeof(body));
	report(st == 204 && fake.starts == 1 && fake.start_vcpus == 2,
	       "InstanceStart goes through the mailbox to the VMM thread: %d", st);
	st = request("GET", "/", NULL, body, sizeof(body));
	report(st == 200 && strstr(body, "\"state\":\"Running\""), "GET /: Running");
	st = request("PATCH", "/vm", "{\"state\": \"Paused\"}", body, sizeof(body));
	report(st == 204 && fake.pauses == 1, "PATCH /vm Paused: %d", st);
	st = request("PATCH", "/vm", "{\"state\": \"Resumed\"}", body, sizeof(body));
	report(st == 204 && fake.resumes == 1, "PATCH /vm Resumed: %d", st);
}

static void test_hostile_clients(void)
{
	char *big = malloc(API_MAX_BODY + 2048), body[1024], msg[256];
	int fd, st, ok = 0, slow, other;
	double t0, t1;

	/* A body one byte over the limit. */
	snprintf(msg, sizeof(msg), "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
		 "Content-Length: %d\r\n\r\n", API_MAX_BODY + 1);
	fd = connect_api();
	memset(big, ' ', API_MAX_BODY + 1);
	st = -1;
	if (fd >= 0 && send_all(fd, msg, strlen(msg)))
		send_all(fd, big, API_MAX_BODY + 1);
	ok = fd >= 0 && closed_within(fd, 2000, &st);
	report(ok && (st == 0 || (st >= 400 && st < 500)),
	       "a body over %d bytes: %d and closed", API_MAX_BODY, st);
	close(fd);
	/* Exactly at the limit: parsed (and refused as JSON, not as size). */
	memset(big, ' ', API_MAX_BODY);
	memcpy(big + API_MAX_BODY - 2, "{}", 2);
	big[API_MAX_BODY] = '\0';
	st = request("PUT", "/actions", big, body, sizeof(body));
	report(st == 400 && strstr(body, "missing required field"), "a body of exactly %d bytes: %d %s",
	       API_MAX_BODY, st, body);

	/* Headers far over the limit. */
	fd = connect_api();
	snprintf(big, API_MAX_BODY, "GET / HTTP/1.1\r\nX-Big: ");
	memset(big + strlen(big), 'a', 20000);
	strcpy(big + strlen("GET / HTTP/1.1\r\nX-Big: ") + 20000, "\r\n\r\n");
	if (fd >= 0)
		send_all(fd, big, strlen(big));
	ok = fd >= 0 && closed_within(fd, 2000, &st);
	report(ok && (st == 0 || (st >= 400 && st < 500)), "20 kB of headers: %d and closed", st);
	close(fd);

	/* Not HTTP at all. */
	fd = connect_api();
	if (fd >= 0)
		send_all(fd, "\x16\x03\x01 hello\r\n\r\n", 13);
	ok = fd >= 0 && closed_within(fd, 2000, &st);
	report(ok && (st == 0 || (st >= 400 && st < 500)), "garbage instead of a request: %d and closed",
	       st);
	close(fd);

	/* 1000 requests in a row on one keep-alive connection. */
	ok = 0;
	fd = connect_api();
	for (int i = 0; i < 1000 && fd >= 0; i++) {
		const char *get = "GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n";

		if (!send_all(fd, get, strlen(get)))
			break;
		ok += read_response(fd, body, sizeof(body), 2000) == 200 &&
		      strstr(body, "\"vcpu_count\":2");
	}
	close(fd);
	report(ok == 1000, "1000 requests on one connection: %d answered", ok);
	ok = 0;
	for (int i = 0; i < 1000; i++)
		ok += request("GET", "/version", NULL, body, sizeof(body)) == 200;
	report(ok == 1000, "1000 connections in a row: %d answered", ok);

	/* A client that disconnects mid-request, twice. */
	for (int i = 0; i < 2; i++) {
		const char *part = i ? "PUT /drives/x HTTP/1.1\r\nContent-Le" :
			"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu";

		fd = connect_api();
		if (fd >= 0)
			send_all(fd, part, strlen(part));
		close(fd);
	}
	st = request("GET", "/", NULL, body, sizeof(body));
	report(st == 200, "after clients vanished mid-request, the next is served: %d", st);

	/* A slow client never finishing; others are served meanwhile. */
	slow = connect_api();
	if (slow >= 0)
		send_all(slow, "PUT /machine-config HTTP/1.1\r\nContent-Length: 50\r\n\r\n{", 53);
	t0 = now_ms();
	other = request("GET", "/", NULL, body, sizeof(body));
	t1 = now_ms() - t0;
	report(other == 200 && t1 < 500, "while a slow client stalls, another is answered in %.1f ms",
	       t1);
	ok = slow >= 0 && closed_within(slow, 10000, &st);
	t1 = now_ms() - t0;
	report(ok && t1 < 6000, "the slow client is cut off after %.1f s (status %d)", t1 / 1e3, st);
	close(slow);
	free(big);
}

int main(void)
{
	struct api_server *server;
	struct api *api;
	int fds_before, ret;

	snprintf(sock_path, sizeof(sock_path), "/tmp/kestrel-api-test-%d.sock", getpid());
	unlink(sock_path);
	fds_before = count_fds();
	fake_vmm_init(&fake);
	if (api_create(&fake.vmm, "srv", &api) || api_mailbox_create(&mb)) {
		report(false, "api and mailbox");
		return report_summary();
	}
	ret = api_server_create(api, sock_path, &server);
	report(!ret, "listening on %s: %d", sock_path, ret);
	if (ret)
		return report_summary();
	{
		struct api_server *again;

		report(api_server_create(api, sock_path, &again) == -EADDRINUSE,
		       "a second server on the same path: -EADDRINUSE");
		report(!access(sock_path, F_OK), "and the first one's socket is still there");
	}
	api->mbox = mb;
	pthread_create(&vmm_thread_id, NULL, vmm_thread, NULL);
	report(!api_server_start(server), "the API thread starts");

	test_requests();
	test_hostile_clients();

	api_mailbox_shutdown(mb);
	api_server_destroy(server);
	atomic_store(&vmm_stop, true);
	pthread_join(vmm_thread_id, NULL);
	api_mailbox_destroy(mb);
	api_destroy(api);
	report(access(sock_path, F_OK) && errno == ENOENT, "the socket is removed at the end");
	report(count_fds() == fds_before, "no fd left behind (%d before, %d after)",
	       fds_before, count_fds());
	return report_summary();
}
