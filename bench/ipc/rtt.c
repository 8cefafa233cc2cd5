/*
 * The request round trip of a local client: cmap_get of one key in a loop, each call timed,
 * then p50 / p90 / p99 / mean. cmap_get is one request and one response on both Corosync
 * (libqb IPC) and quorumd (its Unix-socket IPC); the same binary runs against either, by
 * LD_LIBRARY_PATH (our libcmap.so.4 first for quorumd, Debian's otherwise).
 *
 *   rtt [CALLS [KEY]]     (default 50000 calls of runtime.votequorum.this_node_id)
 *
 * Prints one line: "calls=N p50_us=.. p90_us=.. p99_us=.. mean_us=.. calls_per_s=..".
 * Exits non-zero if any call fails.
 */
#include <corosync/cmap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 50000;
	const char *key = argc > 2 ? argv[2] : "runtime.votequorum.this_node_id";
	cmap_handle_t h;
	cs_error_t err;
	int tries;

	if (calls < 100) {
		fprintf(stderr, "rtt: at least 100 calls\n");
		return 2;
	}
	/* The daemon may still be starting (CS_ERR_TRY_AGAIN / LIBRARY): retry for 10 s. */
	for (tries = 0; (err = cmap_initialize(&h)) != CS_OK && tries < 1000; tries++)
		usleep(10000);
	if (err != CS_OK) {
		fprintf(stderr, "rtt: cmap_initialize: %d\n", err);
		return 1;
	}
	uint64_t *lat = calloc((size_t)calls, sizeof *lat);
	if (!lat)
		return 1;
	char value[256];
	size_t len;
	cmap_value_types_t type;
	/* Warm up: caches, the daemon's buffers, the CPU frequency. */
	for (long i = 0; i < 2000; i++) {
		len = sizeof value;
		if ((err = cmap_get(h, key, value, &len, &type)) != CS_OK) {
			fprintf(stderr, "rtt: cmap_get %s: %d\n", key, err);
			return 1;
		}
	}
	uint64_t t0 = now_ns();
	for (long i = 0; i < calls; i++) {
		uint64_t a = now_ns();
		len = sizeof value;
		err = cmap_get(h, key, value, &len, &type);
		lat[i] = now_ns() - a;
		if (err != CS_OK) {
			fprintf(stderr, "rtt: cmap_get %s: %d (call %ld)\n", key, err, i);
			return 1;
		}
	}
	uint64_t total = now_ns() - t0;
	qsort(lat, (size_t)calls, sizeof *lat, cmp);
	printf("calls=%ld p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f calls_per_s=%.0f\n", calls,
	       lat[calls / 2] / 1000.0, lat[calls * 90 / 100] / 1000.0, lat[calls * 99 / 100] / 1000.0,
	       total / 1000.0 / calls, calls * 1e9 / total);
	cmap_finalize(h);
	free(lat);
	return 0;
}
