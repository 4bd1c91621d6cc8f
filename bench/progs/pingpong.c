// SPDX-License-Identifier: MIT
/*
 * The bench's request/response latency probe: a TCP ping-pong.
 *   pingpong server PORT            echo every message back (one connection at a time)
 *   pingpong client ADDR PORT N SIZE
 * The client sends N messages of SIZE bytes one after another, each after
 * the previous reply arrived whole (TCP_NODELAY on both ends), times every
 * round trip with CLOCK_MONOTONIC and prints one JSON line:
 *   {"n":N,"p50_us":..,"p90_us":..,"p99_us":..,"min_us":..,"max_us":..,"mean_us":..}
 * Blocking sockets, no event loop: what is measured is the path, plus two
 * syscalls and two wakeups per side, the same for every path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int full(int fd, char *buf, size_t len, int sending)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = sending ? send(fd, buf + done, len - done, 0) : recv(fd, buf + done, len - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void __attribute__((noreturn)) server(int port)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	char buf[65536];

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(s, 8) < 0)
		die("listen");
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		for (;;) {
			ssize_t r = recv(c, buf, sizeof(buf), 0);
			if (r <= 0)
				break;
			if (full(c, buf, (size_t)r, 1) < 0)
				break;
		}
		close(c);
	}
}

static int client(const char *addr, int port, long n, long size)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	double *rtt = calloc((size_t)n, sizeof(double)), sum = 0;
	char *buf = calloc(1, (size_t)size);
	struct timespec t0, t1;

	if (s < 0 || !rtt || !buf || size < 1 || size > 65536)
		die("setup");
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		die("address");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (full(s, buf, (size_t)size, 1) < 0 || full(s, buf, (size_t)size, 0) < 0)
			die("exchange");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rtt[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
		sum += rtt[i];
	}
	close(s);
	qsort(rtt, (size_t)n, sizeof(double), cmp);
#define PCT(p) rtt[(long)((double)(n - 1) * (p))]
	printf("{\"n\":%ld,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"min_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f}\n",
	       n, PCT(0.5), PCT(0.9), PCT(0.99), rtt[0], rtt[n - 1], sum / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		server(atoi(argv[2]));
	if (argc == 6 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: pingpong server PORT | pingpong client ADDR PORT N SIZE\n");
	return 2;
}
