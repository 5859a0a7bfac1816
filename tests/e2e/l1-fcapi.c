// SPDX-License-Identifier: GPL-2.0-only
/*
 * One HTTP/1.1 request to kestrel's Firecracker-compatible API socket, for
 * L1 (a busybox initramfs: no curl). Built static by tests/e2e/check.sh.
 *
 *   l1-fcapi SOCKET METHOD PATH [JSON-BODY]
 *
 * Prints the status code and the response body on one line; exits 0 for a
 * 2xx status, 1 otherwise (2 for bad usage, 3 if the socket does not
 * answer). Gives up after 10 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *body = argc > 4 ? argv[4] : "";
	char req[4096], resp[8192], *p;
	size_t got = 0;
	int fd, n, code;
	ssize_t r;

	if (argc < 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: l1-fcapi SOCKET METHOD PATH [JSON-BODY]\n");
		return 2;
	}
	alarm(10);
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("l1-fcapi: connect");
		return 3;
	}
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s", argv[2], argv[3], strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		perror("l1-fcapi: write");
		return 3;
	}
	while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)r;
	resp[got] = '\0';
	close(fd);
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1) {
		fprintf(stderr, "l1-fcapi: no HTTP status in '%.80s'\n", resp);
		return 3;
	}
	p = strstr(resp, "\r\n\r\n");
	for (char *c = p ? p + 4 : resp + got; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	printf("%d %s\n", code, p ? p + 4 : "");
	return code >= 200 && code < 300 ? 0 : 1;
}
