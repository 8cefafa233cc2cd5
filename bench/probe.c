/*
 * One probe for both implementations: a quorum client written against <corosync/quorum.h> only.
 * bench/cluster builds it twice, linked to Corosync's libquorum.so.5 (Debian) and to quorumd's
 * (target/release/libquorum.so copied to libquorum.so.5, found through -rpath).
 *
 * It connects (retrying until it can, for up to 30 s), asks for CS_TRACK_CURRENT|CS_TRACK_CHANGES
 * with the V1 model and prints one line per callback, flushed at once:
 *
 *   <realtime seconds.microseconds> Q ring=<rep>.<seq hex> quorate=<0|1> members=<id,id,...>
 *   <realtime seconds.microseconds> N ring=<rep>.<seq hex> members=<...> joined=<...> left=<...>
 *   <realtime> CONNECTED | <realtime> ERROR <what> <cs_error_t>
 *
 * The timestamp is CLOCK_REALTIME taken on entry to the callback; network namespaces do not
 * virtualise that clock, so the harness compares it with the time it took just before an event.
 * quorumd's library finds its socket through $QUORUMD_SOCKET; Corosync's through libqb's
 * abstract socket "@quorum", which is per network namespace (run the probe inside the node's).
 * Exits on the first dispatch error (the daemon went away), with status 2.
 *
 * `probe rate SECONDS` instead calls quorum_getquorate() in a loop for that long (no tracking)
 * and prints `RATE calls=<n> seconds=<s> quorate=<last>`: the read throughput of one client.
 *
 * `probe poll SECONDS INTERVAL_MS` calls quorum_getquorate() every INTERVAL_MS for SECONDS and
 * prints one line per answer, with CLOCK_REALTIME when the call began and when it returned:
 *
 *   G <begin seconds.microseconds> <end seconds.microseconds> quorate=<0|1>
 *   G <begin> <end> ERROR <cs_error_t>
 *
 * after a first line `POLLING` once connected. bench/faults runs it while it freezes the
 * daemon (SIGSTOP) and checks every answer against how long the daemon had been frozen.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <corosync/quorum.h>

static void stamp(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld.%06ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

static void list(const char *name, uint32_t n, const uint32_t *ids)
{
	printf(" %s=", name);
	for (uint32_t i = 0; i < n; i++)
		printf("%s%" PRIu32, i ? "," : "", ids[i]);
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring,
		      uint32_t n, const uint32_t *members)
{
	(void)h;
	stamp();
	printf("Q ring=%" PRIx32 ".%" PRIx64 " quorate=%" PRIu32, ring.nodeid, ring.seq, quorate);
	list("members", n, members);
	printf("\n");
	fflush(stdout);
}

static void on_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n, const uint32_t *members,
			uint32_t nj, const uint32_t *joined, uint32_t nl, const uint32_t *left)
{
	(void)h;
	stamp();
	printf("N ring=%" PRIx32 ".%" PRIx64, ring.nodeid, ring.seq);
	list("members", n, members);
	list("joined", nj, joined);
	list("left", nl, left);
	printf("\n");
	fflush(stdout);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rate(double seconds)
{
	quorum_handle_t h;
	quorum_callbacks_t cb = { 0 };
	uint32_t type = 0;
	int quorate = -1;
	unsigned long long calls = 0;
	cs_error_t rc = CS_ERR_LIBRARY;

	for (int i = 0; i < 3000; i++) {
		rc = quorum_initialize(&h, &cb, &type);
		if (rc == CS_OK)
			break;
		usleep(10000);
	}
	if (rc != CS_OK) {
		printf("ERROR initialize %d\n", (int)rc);
		return 1;
	}
	double start = now_s(), end = start + seconds, t = start;
	while (t < end) {
		/* check the clock every 1000 calls only: the loop measures the library, not the clock */
		for (int i = 0; i < 1000; i++) {
			if ((rc = quorum_getquorate(h, &quorate)) != CS_OK) {
				printf("ERROR getquorate %d\n", (int)rc);
				return 1;
			}
		}
		calls += 1000;
		t = now_s();
	}
	printf("RATE calls=%llu seconds=%.3f quorate=%d\n", calls, t - start, quorate);
	quorum_finalize(h);
	return 0;
}

static double real_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int poll_getquorate(double seconds, int interval_ms)
{
	quorum_handle_t h;
	quorum_callbacks_t cb = { 0 };
	uint32_t type = 0;
	cs_error_t rc = CS_ERR_LIBRARY;

	for (int i = 0; i < 3000; i++) {
		rc = quorum_initialize(&h, &cb, &type);
		if (rc == CS_OK)
			break;
		usleep(10000);
	}
	if (rc != CS_OK) {
		printf("ERROR initialize %d\n", (int)rc);
		return 1;
	}
	printf("POLLING\n");
	double end = now_s() + seconds;
	while (now_s() < end) {
		int quorate = -1;
		double b = real_s();
		rc = quorum_getquorate(h, &quorate);
		double e = real_s();
		if (rc == CS_OK)
			printf("G %.6f %.6f quorate=%d\n", b, e, quorate);
		else
			printf("G %.6f %.6f ERROR %d\n", b, e, (int)rc);
		usleep((useconds_t)interval_ms * 1000);
	}
	quorum_finalize(h);
	return 0;
}

int main(int argc, char **argv)
{
	quorum_handle_t h;
	quorum_model_v1_data_t model = { 0 };
	uint32_t type = 0;
	cs_error_t rc = CS_ERR_LIBRARY;
	int fd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && argv[1][0] == 'r')
		return rate(atof(argv[2]));
	if (argc == 4 && argv[1][0] == 'p')
		return poll_getquorate(atof(argv[2]), atoi(argv[3]));
	model.model = QUORUM_MODEL_V1;
	model.quorum_notify_fn = on_quorum;
	model.nodelist_notify_fn = on_nodelist;
	for (int i = 0; i < 3000; i++) { /* 30 s */
		rc = quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&model, &type, NULL);
		if (rc == CS_OK)
			break;
		usleep(10000);
	}
	if (rc != CS_OK) {
		stamp();
		printf("ERROR initialize %d\n", (int)rc);
		return 1;
	}
	if ((rc = quorum_trackstart(h, CS_TRACK_CURRENT | CS_TRACK_CHANGES)) != CS_OK ||
	    (rc = quorum_fd_get(h, &fd)) != CS_OK) {
		stamp();
		printf("ERROR trackstart/fd_get %d\n", (int)rc);
		return 1;
	}
	stamp();
	printf("CONNECTED quorum_type=%" PRIu32 "\n", type);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, -1) < 0)
			continue;
		rc = quorum_dispatch(h, CS_DISPATCH_ALL);
		if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
			stamp();
			printf("ERROR dispatch %d\n", (int)rc);
			return 2;
		}
	}
}
