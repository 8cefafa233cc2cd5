/*
 * A steady stream of cluster messages for both implementations, written against
 * <corosync/votequorum.h> only (bench/links builds it twice, linked to Corosync's
 * libvotequorum.so.8 and to quorumd's).
 *
 *   vqstream send INTERVAL_MS SECONDS LOW HIGH
 *       calls votequorum_setexpected() every INTERVAL_MS for SECONDS, alternating LOW and HIGH.
 *       Each call is a message through the cluster: every node applies it in the same order
 *       and tells its tracking clients the new expected votes. Prints `SENT n=<calls>
 *       errors=<failed calls>` at the end.
 *   vqstream recv
 *       tracks changes and prints one line per expected-votes callback, flushed at once:
 *       `<realtime seconds.microseconds> E expected=<n>`. Exits on the first dispatch error.
 *
 * LOW and HIGH must both keep the cluster quorate (e.g. 3 and 4 on three nodes with one vote
 * each). The gap between two E lines on a receiving node is the delivery gap bench/links
 * reports: about INTERVAL_MS when the cluster delivers steadily.
 * Connects retrying for up to 30 s (the daemon may still be starting).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <corosync/votequorum.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_expected(votequorum_handle_t h, uint64_t context, uint32_t expected)
{
	(void)h;
	(void)context;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld.%06ld E expected=%" PRIu32 "\n", (long long)ts.tv_sec, ts.tv_nsec / 1000, expected);
	fflush(stdout);
}

static votequorum_handle_t connect_retrying(votequorum_callbacks_t *cb)
{
	votequorum_handle_t h;
	for (int i = 0; i < 300; i++) {
		if (votequorum_initialize(&h, cb) == CS_OK)
			return h;
		usleep(100 * 1000);
	}
	fprintf(stderr, "vqstream: cannot connect to votequorum\n");
	exit(1);
}

static int send_stream(int interval_ms, double seconds, unsigned low, unsigned high)
{
	votequorum_callbacks_t cb;
	memset(&cb, 0, sizeof(cb));
	votequorum_handle_t h = connect_retrying(&cb);
	double end = now_s() + seconds;
	unsigned long calls = 0, errors = 0;
	while (now_s() < end) {
		cs_error_t err = votequorum_setexpected(h, calls % 2 ? high : low);
		calls++;
		if (err != CS_OK)
			errors++;
		usleep((useconds_t)interval_ms * 1000);
	}
	printf("SENT n=%lu errors=%lu\n", calls, errors);
	votequorum_finalize(h);
	return 0;
}

static int recv_stream(void)
{
	votequorum_callbacks_t cb;
	memset(&cb, 0, sizeof(cb));
	cb.votequorum_expectedvotes_notify_fn = on_expected;
	votequorum_handle_t h = connect_retrying(&cb);
	if (votequorum_trackstart(h, 0, CS_TRACK_CHANGES) != CS_OK) {
		fprintf(stderr, "vqstream: trackstart failed\n");
		return 1;
	}
	printf("TRACKING\n");
	fflush(stdout);
	for (;;) {
		cs_error_t err = votequorum_dispatch(h, CS_DISPATCH_BLOCKING);
		if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
			printf("ERROR dispatch %d\n", err);
			return 2;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "send") == 0)
		return send_stream(atoi(argv[2]), atof(argv[3]), (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]));
	if (argc == 2 && strcmp(argv[1], "recv") == 0)
		return recv_stream();
	fprintf(stderr, "usage: vqstream send INTERVAL_MS SECONDS LOW HIGH | vqstream recv\n");
	return 2;
}
