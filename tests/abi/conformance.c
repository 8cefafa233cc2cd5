/*
 * C conformance test for libquorum.so.5 (docs/corosync-behaviour.md §1): every function of <corosync/quorum.h> and
 * every return code it can give, the layouts of §1.2, callback order, dispatch modes,
 * finalize inside a callback and the daemon-gone behaviour of §2.5.
 *
 * Built twice by crates/capi/tests/abi.rs: against quorumd's headers and, when installed,
 * against Corosync's (libquorum-dev); always linked to quorumd's libquorum.so.5.
 *
 * Usage:
 *   conformance fake <sock> <try_again_sock> <access_sock> <absent_sock> <ctl_sock>
 *   conformance real <sock> <absent_sock> <daemon_pid>
 * The socket is passed to the library through QUORUMD_SOCKET.
 * Prints one line per check and "N passed, N failed" at the end; exits 1 on any failure.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <corosync/corotypes.h>
#include <corosync/quorum.h>

static int passed, failed;

#define CHECK(cond, ...) do { \
	if (cond) { passed++; printf("ok: "); } else { failed++; printf("FAILED (line %d): ", __LINE__); } \
	printf(__VA_ARGS__); printf("\n"); \
} while (0)

#define CHECK_RC(expr, want) do { \
	cs_error_t rc_ = (expr); \
	CHECK(rc_ == (want), "%s -> %d (want %d)", #expr, (int)rc_, (int)(want)); \
} while (0)

/* corosync-behaviour §1.2 layouts (x86_64). */
_Static_assert(sizeof(cs_error_t) == 4, "cs_error_t");
_Static_assert(sizeof(cs_dispatch_flags_t) == 4, "cs_dispatch_flags_t");
_Static_assert(sizeof(quorum_model_t) == 4, "quorum_model_t");
_Static_assert(sizeof(struct quorum_ring_id) == 16, "quorum_ring_id");
_Static_assert(offsetof(struct quorum_ring_id, seq) == 8, "quorum_ring_id.seq");
_Static_assert(sizeof(quorum_callbacks_t) == 8, "quorum_callbacks_t");
_Static_assert(sizeof(quorum_model_v0_data_t) == 16, "v0 data");
_Static_assert(offsetof(quorum_model_v0_data_t, quorum_notify_fn) == 8, "v0 fn");
_Static_assert(sizeof(quorum_model_v1_data_t) == 24, "v1 data");
_Static_assert(offsetof(quorum_model_v1_data_t, quorum_notify_fn) == 8, "v1 quorum fn");
_Static_assert(offsetof(quorum_model_v1_data_t, nodelist_notify_fn) == 16, "v1 nodelist fn");

static const char *mode, *sock, *try_again_sock, *access_sock, *absent_sock, *ctl_sock;
static pid_t daemon_pid;

/* What the callbacks saw. */
static char trace[4096];
static int v0_calls, v1_quorum_calls, v1_nodelist_calls;
static uint32_t last_quorate;
static uint64_t last_ring_seq;
static struct quorum_ring_id last_nodelist_ring, last_quorum_ring;
static uint32_t last_members, last_joined;
static const void *last_context;
static quorum_handle_t finalize_me;

static void note(const char *what)
{
	strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
}

static void v0_fn(quorum_handle_t h, uint32_t quorate, uint64_t ring_seq, uint32_t n, uint32_t *view)
{
	(void)h;
	v0_calls++;
	last_quorate = quorate;
	last_ring_seq = ring_seq;
	last_members = n;
	if (n > 0) {
		view[0] = view[0]; /* the list is writable per the C type */
	}
	note("Q0 ");
}

static void v1_quorum_fn(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring,
			 uint32_t n, const uint32_t *members)
{
	(void)members;
	v1_quorum_calls++;
	last_quorate = quorate;
	last_quorum_ring = ring;
	last_members = n;
	quorum_context_get(h, &last_context);
	note("Q1 ");
}

static void v1_nodelist_fn(quorum_handle_t h, struct quorum_ring_id ring,
			   uint32_t m, const uint32_t *members,
			   uint32_t j, const uint32_t *joined,
			   uint32_t l, const uint32_t *left)
{
	(void)h; (void)members; (void)joined; (void)l; (void)left;
	v1_nodelist_calls++;
	last_nodelist_ring = ring;
	last_members = m;
	last_joined = j;
	note("N1 ");
	if (finalize_me != 0 && finalize_me == h) {
		CHECK_RC(quorum_finalize(h), CS_OK);
	}
}

static void use_socket(const char *path)
{
	setenv("QUORUMD_SOCKET", path, 1);
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1 ? p.revents : 0;
}

/* Runs one command of the fake daemon's control socket (see tests/fake/mod.rs). */
static void fake_control(char cmd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	char ack;

	strncpy(a.sun_path, ctl_sock, sizeof(a.sun_path) - 1);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(s, &cmd, 1) != 1 || read(s, &ack, 1) != 1) {
		CHECK(0, "fake control '%c'", cmd);
	}
	close(s);
}

static void check_constants(void)
{
	CHECK(CS_OK == 1 && CS_ERR_LIBRARY == 2 && CS_ERR_TRY_AGAIN == 6 && CS_ERR_INVALID_PARAM == 7 &&
	      CS_ERR_BAD_HANDLE == 9 && CS_ERR_ACCESS == 11 && CS_ERR_EXIST == 14 &&
	      CS_ERR_MESSAGE_ERROR == 22 && CS_ERR_CONTEXT_NOT_FOUND == 28 &&
	      CS_ERR_TOO_MANY_GROUPS == 30 && CS_ERR_SECURITY == 100, "cs_error_t values");
	CHECK(CS_DISPATCH_ONE == 1 && CS_DISPATCH_ALL == 2 && CS_DISPATCH_BLOCKING == 3 &&
	      CS_DISPATCH_ONE_NONBLOCKING == 4, "cs_dispatch_flags_t values");
	CHECK(CS_TRACK_CURRENT == 1 && CS_TRACK_CHANGES == 2 && CS_TRACK_CHANGES_ONLY == 4, "CS_TRACK_*");
	CHECK(QUORUM_MODEL_V0 == 0 && QUORUM_MODEL_V1 == 1 && QUORUM_FREE == 0 && QUORUM_SET == 1,
	      "quorum constants");
	CHECK(CS_MAX_NAME_LENGTH == 256 && sizeof(cs_name_t) == 258 && sizeof(cs_time_t) == 8 &&
	      CS_IPC_TIMEOUT_MS == -1, "corotypes extras");
	char ring[64];
	snprintf(ring, sizeof(ring), CS_PRI_RING_ID, (uint32_t)1, (uint64_t)0x1e);
	CHECK(strcmp(ring, "1.1e") == 0, "CS_PRI_RING_ID prints %s", ring);
	printf("layout: %zu %zu %zu %zu\n", sizeof(struct quorum_ring_id), sizeof(quorum_callbacks_t),
	       sizeof(quorum_model_v0_data_t), sizeof(quorum_model_v1_data_t));
}

static void check_init_failures(void)
{
	quorum_handle_t h = 0xdeadULL;
	uint32_t type = 77;
	int q;

	use_socket(sock);
	CHECK_RC(quorum_model_initialize(&h, 2, NULL, &type, NULL), CS_ERR_INVALID_PARAM);
	CHECK(h == 0xdeadULL && type == 77, "invalid model: *handle and *quorum_type untouched");
	/* Deviation from corosync: NULL out-pointers are refused instead of crashing. */
	CHECK_RC(quorum_initialize(NULL, NULL, NULL), CS_ERR_INVALID_PARAM);
	CHECK_RC(quorum_model_initialize(NULL, QUORUM_MODEL_V1, NULL, NULL, NULL), CS_ERR_INVALID_PARAM);

	use_socket(absent_sock);
	h = 0;
	CHECK_RC(quorum_initialize(&h, NULL, &type), CS_ERR_LIBRARY);
	CHECK(h != 0 && type == 77, "daemon not running: *handle written (quirk 6), quorum_type not");
	CHECK_RC(quorum_getquorate(h, &q), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_finalize(h), CS_ERR_BAD_HANDLE);
	if (strcmp(mode, "fake") == 0) {
		use_socket(try_again_sock);
		CHECK_RC(quorum_initialize(&h, NULL, NULL), CS_ERR_TRY_AGAIN);
		use_socket(access_sock);
		CHECK_RC(quorum_model_initialize(&h, QUORUM_MODEL_V1, NULL, NULL, NULL), CS_ERR_ACCESS);
	}
	use_socket(sock);
}

static void check_dead_handle(quorum_handle_t h)
{
	int fd, q;
	const void *ctx;

	CHECK_RC(quorum_finalize(h), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_fd_get(h, &fd), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_getquorate(h, &q), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CURRENT), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_trackstop(h), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_context_set(h, &fd), CS_ERR_BAD_HANDLE);
	CHECK_RC(quorum_context_get(h, &ctx), CS_ERR_BAD_HANDLE);
}

static void check_v0(void)
{
	quorum_handle_t h;
	quorum_callbacks_t cb = { .quorum_notify_fn = v0_fn };
	uint32_t type = 77;
	int fd = -1, q = -1;
	const void *ctx = &fd;
	static int marker;

	CHECK_RC(quorum_initialize(&h, &cb, &type), CS_OK);
	CHECK(type == QUORUM_SET, "quorum_type is QUORUM_SET with votequorum (%u)", type);
	CHECK_RC(quorum_fd_get(h, &fd), CS_OK);
	CHECK(fd >= 0, "fd %d", fd);
	CHECK_RC(quorum_getquorate(h, &q), CS_OK);
	CHECK(q == 1, "a one-node cluster is quorate (%d)", q);
	CHECK_RC(quorum_context_get(h, &ctx), CS_OK);
	CHECK(ctx == NULL, "quorum_initialize's context is NULL");
	CHECK_RC(quorum_context_set(h, &marker), CS_OK);
	CHECK_RC(quorum_context_get(h, &ctx), CS_OK);
	CHECK(ctx == &marker, "context round trip");
	/* Deviation from corosync: NULL out-pointers are refused instead of crashing. */
	CHECK_RC(quorum_fd_get(h, NULL), CS_ERR_INVALID_PARAM);
	CHECK_RC(quorum_getquorate(h, NULL), CS_ERR_INVALID_PARAM);
	CHECK_RC(quorum_context_get(h, NULL), CS_ERR_INVALID_PARAM);

	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	CHECK_RC(quorum_dispatch(h, (cs_dispatch_flags_t)0), CS_ERR_INVALID_PARAM);
	CHECK_RC(quorum_dispatch(h, (cs_dispatch_flags_t)5), CS_ERR_INVALID_PARAM);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CURRENT), CS_OK);
	CHECK((wait_readable(fd, 5000) & POLLIN) != 0, "snapshot makes the fd readable");
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE), CS_OK);
	CHECK(v0_calls == 1 && last_quorate == 1 && last_members >= 1, "V0 snapshot: quorate %u, %u members",
	      last_quorate, last_members);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CURRENT), CS_OK);
	CHECK_RC(quorum_trackstop(h), CS_OK);
	CHECK_RC(quorum_trackstop(h), CS_OK);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	CHECK(v0_calls == 2, "the second CURRENT snapshot is still delivered after trackstop");
	CHECK_RC(quorum_finalize(h), CS_OK);
	check_dead_handle(h);
}

static quorum_handle_t open_v1(void *context, uint32_t *type)
{
	quorum_handle_t h = 0;
	quorum_model_v1_data_t md = {
		.model = QUORUM_MODEL_V0, /* ignored: the model argument wins */
		.quorum_notify_fn = v1_quorum_fn,
		.nodelist_notify_fn = v1_nodelist_fn,
	};

	CHECK_RC(quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&md, type, context), CS_OK);
	return h;
}

static void check_v1(void)
{
	static int ctx_marker;
	uint32_t type = 77;
	quorum_handle_t h = open_v1(&ctx_marker, &type);
	int fd;

	CHECK(type == QUORUM_SET, "V1 quorum_type");
	CHECK_RC(quorum_fd_get(h, &fd), CS_OK);
	trace[0] = 0;
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CHANGES), CS_OK);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CHANGES), CS_ERR_EXIST);
	CHECK((wait_readable(fd, 5000) & POLLIN) != 0, "fd readable after trackstart");
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	CHECK(strcmp(trace, "N1 Q1 N1 Q1 ") == 0, "two snapshots, nodelist before quorum: %s", trace);
	CHECK(last_context == &ctx_marker, "context from quorum_model_initialize, read in a callback");
	CHECK(last_nodelist_ring.nodeid == last_quorum_ring.nodeid && last_nodelist_ring.seq == last_quorum_ring.seq,
	      "nodelist and quorum carry the same ring " CS_PRI_RING_ID,
	      last_quorum_ring.nodeid, last_quorum_ring.seq);
	CHECK(last_joined == 0, "a snapshot has no joined nodes");
	if (strcmp(mode, "fake") == 0) {
		trace[0] = 0;
		fake_control('c');
		CHECK((wait_readable(fd, 5000) & POLLIN) != 0, "a change makes the fd readable");
		CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE), CS_OK);
		CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE), CS_OK);
		CHECK(strcmp(trace, "N1 Q1 ") == 0 && last_joined == 1 && last_members == 2, "change: %s", trace);
	}
	CHECK_RC(quorum_trackstop(h), CS_OK);
	CHECK_RC(quorum_finalize(h), CS_OK);
}

static void check_finalize_in_callback(void)
{
	uint32_t type;
	quorum_handle_t h = open_v1(NULL, &type);

	finalize_me = h;
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CURRENT), CS_OK);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_BLOCKING), CS_ERR_BAD_HANDLE);
	finalize_me = 0;
	check_dead_handle(h);
}

static void check_daemon_gone(void)
{
	uint32_t type;
	quorum_handle_t h = open_v1(NULL, &type);
	int fd, q, revents;

	CHECK_RC(quorum_fd_get(h, &fd), CS_OK);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CHANGES_ONLY), CS_OK);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	if (strcmp(mode, "fake") == 0) {
		fake_control('k');
	} else {
		kill(daemon_pid, SIGTERM);
	}
	revents = wait_readable(fd, 10000);
	CHECK((revents & POLLIN) != 0, "the fd wakes up when the daemon exits (revents 0x%x)", revents);
	/* Drain whatever the daemon said before leaving, then LIBRARY. */
	cs_error_t rc = CS_OK;
	for (int i = 0; i < 100 && rc == CS_OK; i++) {
		rc = quorum_dispatch(h, CS_DISPATCH_ALL);
	}
	CHECK(rc == CS_ERR_LIBRARY, "dispatch after daemon exit -> %d", (int)rc);
	CHECK_RC(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_LIBRARY);
	CHECK_RC(quorum_getquorate(h, &q), CS_ERR_LIBRARY);
	CHECK_RC(quorum_trackstart(h, CS_TRACK_CURRENT), CS_ERR_LIBRARY);
	CHECK_RC(quorum_trackstop(h), CS_ERR_LIBRARY);
	CHECK_RC(quorum_finalize(h), CS_OK);
	for (int i = 0; i < 50; i++) {
		quorum_handle_t h2;
		if (quorum_initialize(&h2, NULL, NULL) == CS_ERR_LIBRARY) {
			CHECK(1, "init while the daemon is down -> CS_ERR_LIBRARY");
			return;
		}
		quorum_finalize(h2);
		usleep(100000);
	}
	CHECK(0, "init while the daemon is down -> CS_ERR_LIBRARY");
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "fake") == 0) {
		mode = argv[1]; sock = argv[2]; try_again_sock = argv[3];
		access_sock = argv[4]; absent_sock = argv[5]; ctl_sock = argv[6];
	} else if (argc == 5 && strcmp(argv[1], "real") == 0) {
		mode = argv[1]; sock = argv[2]; absent_sock = argv[3]; daemon_pid = (pid_t)atoi(argv[4]);
	} else {
		fprintf(stderr, "usage: %s fake SOCK TRY_AGAIN_SOCK ACCESS_SOCK ABSENT_SOCK CTL_SOCK\n"
			"       %s real SOCK ABSENT_SOCK DAEMON_PID\n", argv[0], argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	check_constants();
	check_init_failures();
	check_v0();
	check_v1();
	check_finalize_in_callback();
	check_daemon_gone();
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
