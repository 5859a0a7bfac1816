/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Host tests that run a program (kestrel) to the end and look at what it
 * printed: run_capture() and count_lines().
 */
#ifndef KESTREL_TEST_RUN_H
#define KESTREL_TEST_RUN_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

/**
 * run_capture_wait() - run @path with @argv, stdin from /dev/null, its
 * stderr (and its stdout too if @with_stdout, else stdout to /dev/null)
 * into @out (NUL-terminated, @outlen bytes at most)
 * Return: the wait status (WIFEXITED(), WTERMSIG()...), or -1 if it could
 * not run.
 */
static inline int run_capture_wait(const char *path, char *const argv[], bool with_stdout,
				   char *out, size_t outlen)
{
	int pipefd[2], status;
	ssize_t n, total = 0;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(with_stdout ? pipefd[1] : devnull, 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + total, outlen - 1 - total)) > 0)
		total += n;
	out[total] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

/**
 * run_capture() - run_capture_wait()
 * Return: the exit status, 128 + the signal, or -1 if it could not run.
 */
static inline int run_capture(const char *path, char *const argv[], bool with_stdout,
			      char *out, size_t outlen)
{
	int status = run_capture_wait(path, argv, with_stdout, out, outlen);

	if (status < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/**
 * run_find_kestrel() - $B/kestrel into @path (B from the environment,
 * default "build")
 * Return: true if it is built; false after reporting the skip.
 */
static inline bool run_find_kestrel(char *path, size_t len)
{
	const char *b = getenv("B");

	snprintf(path, len, "%s/kestrel", b ? b : "build");
	if (access(path, X_OK) == 0)
		return true;
	report_skip("%s not built", path);
	return false;
}

/** count_lines() - newlines in @s */
static inline unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#endif /* KESTREL_TEST_RUN_H */
