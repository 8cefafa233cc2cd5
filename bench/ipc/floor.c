/*
 * What a round trip between two processes costs on this machine with no daemon work at all:
 * a 16-byte ping-pong between a parent and a forked child, each round trip timed.
 *
 *   floor stream     Unix stream socketpair, poll() before each recv (quorumd's client today)
 *   floor seqpacket  Unix SOCK_SEQPACKET socketpair, blocking recv
 *   floor futex      shared memory, futex wait/wake (the wake-up libqb's shm IPC relies on)
 *
 * Prints one line: "MODE p50_us=.. p99_us=..". The daemon's round trip cannot beat its mode's
 * floor; bench/ipc/run prints these beside it.
 */
#include <linux/futex.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 20000

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	poll(&p, 1, -1);
}

/* Waits until *a == v (futex on the shared word). */
static void futex_until(atomic_int *a, int v)
{
	int c;
	while ((c = atomic_load(a)) != v)
		syscall(SYS_futex, a, FUTEX_WAIT, c, NULL, NULL, 0);
}

static void futex_set(atomic_int *a, int v)
{
	atomic_store(a, v);
	syscall(SYS_futex, a, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "stream";
	static uint64_t lat[N];
	char buf[64] = { 0 };
	pid_t child;

	if (!strcmp(mode, "futex")) {
		atomic_int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (w == MAP_FAILED)
			return 1;
		atomic_int *req = w, *resp = w + 16; /* separate cache lines */
		if ((child = fork()) == 0) {
			for (int i = 1; i <= N; i++) {
				futex_until(req, i);
				futex_set(resp, i);
			}
			_exit(0);
		}
		for (int i = 1; i <= N; i++) {
			uint64_t t = now_ns();
			futex_set(req, i);
			futex_until(resp, i);
			lat[i - 1] = now_ns() - t;
		}
	} else {
		int seq = !strcmp(mode, "seqpacket");
		int sv[2];
		if (socketpair(AF_UNIX, seq ? SOCK_SEQPACKET : SOCK_STREAM, 0, sv))
			return 1;
		if ((child = fork()) == 0) {
			close(sv[0]);
			for (;;) {
				if (!seq)
					wait_in(sv[1]);
				ssize_t n = recv(sv[1], buf, sizeof buf, 0);
				if (n <= 0)
					_exit(0);
				send(sv[1], buf, (size_t)n, MSG_NOSIGNAL);
			}
		}
		close(sv[1]);
		for (int i = 0; i < N; i++) {
			uint64_t t = now_ns();
			send(sv[0], buf, 16, MSG_NOSIGNAL);
			if (!seq)
				wait_in(sv[0]);
			recv(sv[0], buf, sizeof buf, 0);
			lat[i] = now_ns() - t;
		}
		close(sv[0]);
	}
	waitpid(child, NULL, 0);
	qsort(lat, N, sizeof lat[0], cmp);
	printf("%s p50_us=%.2f p99_us=%.2f\n", mode, lat[N / 2] / 1000.0, lat[N * 99 / 100] / 1000.0);
	return 0;
}
