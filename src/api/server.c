// SPDX-License-Identifier: GPL-2.0-only
/*
 * The API socket and its thread. HTTP/1.1 parsing is libevent's evhttp,
 * on a Unix socket kestrel binds itself; JSON is jansson (routes.c). The
 * thread "fc_api" runs one event loop: requests, the periodic metrics
 * flush, and the stop event. Hostile clients are bounded by evhttp: a body
 * over API_MAX_BODY gets 413 and headers over API_MAX_HEADERS 400 before
 * any of it reaches us, and a connection idle or unfinished for
 * API_TIMEOUT_S is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <kestrel/fault.h>
#include <kestrel/sandbox.h>

#include "internal.h"

#define API_MAX_HEADERS		8192	/* bytes of the request head */
#define API_TIMEOUT_S		3	/* a request must arrive whole by then */
#define API_METRICS_PERIOD_S	60	/* Firecracker flushes every minute */
#define API_BACKLOG		64

/**
 * struct api_server - the socket and the thread serving it
 * @api: what requests act on (owned by the thread once it runs)
 * @path: the socket's path, unlinked at destroy
 * @listen_fd: bound and listening; evhttp owns it once accepted on
 * @stop_fd: eventfd; written to end the loop
 * @base: the thread's event loop
 * @http: evhttp on @listen_fd
 * @stop_ev: @stop_fd's event
 * @metrics_ev: the periodic flush
 * @thread: "fc_api"
 * @started: @thread runs
 */
struct api_server {
	struct api *api;
	char *path;
	int listen_fd;
	int stop_fd;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	struct event *metrics_ev;
	pthread_t thread;
	bool started;
};

static u64 process_start_ns;

/* Taken before main() runs, as boottimer.c does, so set-up is included. */
static void __attribute__((constructor)) api_note_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	process_start_ns = (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

u64 api_uptime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec - process_start_ns) / 1000;
}

u64 api_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (u64)ts.tv_sec * 1000000ULL + (u64)ts.tv_nsec / 1000;
}

static enum api_method method_of(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return API_GET;
	case EVHTTP_REQ_PUT: return API_PUT;
	case EVHTTP_REQ_PATCH: return API_PATCH;
	default: return API_OTHER;
	}
}

static void server_request(struct evhttp_request *req, void *arg)
{
	struct api_server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct api_response resp;
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t len = evbuffer_get_length(in);
	struct evbuffer *out;

	api_handle(s->api, method_of(req), path ? path : "",
		   len ? (const char *)evbuffer_pullup(in, -1) : NULL, len, &resp);
	out = evbuffer_new();
	if (out && resp.body) {
		evbuffer_add(out, resp.body, strlen(resp.body));
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "application/json");
	}
	evhttp_send_reply(req, resp.status,
			  resp.status == 200 ? "OK" : resp.status == 204 ? "No Content" :
			  "Bad Request", out);
	if (out)
		evbuffer_free(out);
	free(resp.body);
}

static void server_stop(evutil_socket_t fd, short what, void *arg)
{
	struct api_server *s = arg;

	event_base_loopbreak(s->base);
}

static void server_metrics(evutil_socket_t fd, short what, void *arg)
{
	struct api_server *s = arg;

	api_metrics_flush(s->api);	/* -ENOENT until PUT /metrics */
}

static void *server_thread(void *arg)
{
	struct api_server *s = arg;

	/* Named here: naming it from outside races with its filter. */
	pthread_setname_np(pthread_self(), "fc_api");
	seccomp_thread_enter(SECCOMP_THREAD_API);
	event_base_dispatch(s->base);
	return NULL;
}

/* Bind @path (which must not exist: Firecracker refuses to reuse one). */
int api_server_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err_close;
	if (listen(fd, API_BACKLOG) < 0) {
		ret = -errno;
		unlink(path);
		close(fd);
		return ret;
	}
	return fd;

err_close:
	ret = -errno;
	close(fd);
	return ret;
}

int api_server_create(struct api *api, const char *path, struct api_server **out)
{
	int fd = api_server_listen(path);

	return fd < 0 ? fd : api_server_create_on(api, path, fd, out);
}

int api_server_create_on(struct api *api, const char *path, int listen_fd,
			 struct api_server **out)
{
	const struct timeval period = { .tv_sec = API_METRICS_PERIOD_S };
	struct api_server *s;
	int ret;

	s = xcalloc(1, sizeof(*s));
	if (!s) {
		close(listen_fd);
		unlink(path);
		return -ENOMEM;
	}
	s->api = api;
	s->listen_fd = listen_fd;
	s->stop_fd = -1;
	s->path = xstrdup(path);
	if (!s->path) {
		unlink(path);
		ret = -ENOMEM;
		goto err_destroy;
	}
	ret = xeventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ret < 0)
		goto err_destroy;
	s->stop_fd = ret;

	ret = -ENOMEM;
	s->base = event_base_new();
	if (!s->base)
		goto err_destroy;
	s->http = evhttp_new(s->base);
	if (!s->http)
		goto err_destroy;
	evhttp_set_max_body_size(s->http, API_MAX_BODY);
	evhttp_set_max_headers_size(s->http, API_MAX_HEADERS);
	evhttp_set_timeout(s->http, API_TIMEOUT_S);
	/* Every method reaches us, so a wrong one gets Firecracker's 400. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
				   EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				   EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
				   EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->http, server_request, s);
	if (!evhttp_accept_socket_with_handle(s->http, s->listen_fd))
		goto err_destroy;
	s->listen_fd = -1;	/* evhttp closes it */
	s->stop_ev = event_new(s->base, s->stop_fd, EV_READ, server_stop, s);
	s->metrics_ev = event_new(s->base, -1, EV_PERSIST, server_metrics, s);
	if (!s->stop_ev || !s->metrics_ev || event_add(s->stop_ev, NULL) ||
	    event_add(s->metrics_ev, &period))
		goto err_destroy;
	*out = s;
	return 0;

err_destroy:
	api_server_destroy(s);
	return ret;
}

int api_server_start(struct api_server *s)
{
	int ret;

	ret = xpthread_create(&s->thread, NULL, server_thread, s);
	if (ret)
		return ret;
	s->started = true;
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	u64 one = 1;

	if (!s)
		return;
	if (s->started) {
		if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
			pr_err("API: cannot stop the API thread: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	if (s->stop_ev)
		event_free(s->stop_ev);
	if (s->metrics_ev)
		event_free(s->metrics_ev);
	if (s->http)
		evhttp_free(s->http);
	if (s->base)
		event_base_free(s->base);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->path)
		unlink(s->path);
	free(s->path);
	free(s);
}
