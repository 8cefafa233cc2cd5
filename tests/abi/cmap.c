/*
 * libcmap conformance: built against the system's <corosync/cmap.h> (Debian's libcmap-dev),
 * linked to quorumd's libcmap.so.4, run against a real one-node quorumd. Walks every call,
 * error paths included; prints one line per check and exits 1 if any failed.
 *
 * Environment: QUORUMD_SOCKET (the daemon), CMAP_TEST_DAEMON_PID (killed at the end),
 * CMAP_TEST_NO_DAEMON (a socket path nothing listens on).
 */
#define _GNU_SOURCE
#include <corosync/cmap.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok: "); } else { printf("FAILED (line %d): ", __LINE__); failures++; } \
	printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
} while (0)
#define CHECK_RC(call, want) do { cs_error_t rc_ = (call); \
	CHECK(rc_ == (want), "%s -> %d (want %d)", #call, (int)rc_, (int)(want)); } while (0)

static int events, last_event;
static char last_key[256];
static void *last_user_data;
static cmap_value_types_t last_new_type, last_old_type;
static size_t last_new_len;
static uint32_t last_new_u32, last_old_u32;

static void notify(cmap_handle_t h, cmap_track_handle_t t, int32_t event, const char *key,
		   struct cmap_notify_value new_value, struct cmap_notify_value old_value, void *user_data)
{
	(void)h; (void)t;
	events++;
	last_event = event;
	snprintf(last_key, sizeof(last_key), "%s", key);
	last_user_data = user_data;
	last_new_type = new_value.type;
	last_old_type = old_value.type;
	last_new_len = new_value.len;
	if (new_value.type == CMAP_VALUETYPE_UINT32 && new_value.len == 4)
		memcpy(&last_new_u32, new_value.data, 4);
	if (old_value.type == CMAP_VALUETYPE_UINT32 && old_value.len == 4)
		memcpy(&last_old_u32, old_value.data, 4);
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, ms) <= 0)
		return 0;
	return p.revents;
}

/* cmap_initialize as uid/gid 65534 in a child: its result code. */
static int init_as_nobody(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		cmap_handle_t h;
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(100);
		_exit((int)cmap_initialize(&h));
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
	cmap_handle_t h, h2, hs;
	int fd = -1;
	char *str = NULL;
	const char *sock = getenv("QUORUMD_SOCKET");
	const char *nodaemon = getenv("CMAP_TEST_NO_DAEMON");
	const char *dpid = getenv("CMAP_TEST_DAEMON_PID");

	/* No daemon, bad handles. */
	setenv("QUORUMD_SOCKET", nodaemon, 1);
	CHECK_RC(cmap_initialize(&h), CS_ERR_LIBRARY);
	setenv("QUORUMD_SOCKET", sock, 1);
	CHECK_RC(cmap_get_uint32(0x1234567800000005ULL, "totem.version", &(uint32_t){0}), CS_ERR_BAD_HANDLE);
	CHECK_RC(cmap_finalize(0x1234567800000005ULL), CS_ERR_BAD_HANDLE);
	CHECK_RC(cmap_dispatch(0x1234567800000005ULL, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);

	CHECK_RC(cmap_initialize(&h), CS_OK);
	CHECK_RC(cmap_fd_get(h, &fd), CS_OK);
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		CHECK(rc == 0 && cred.uid == 0 && cred.gid == 0 && (!dpid || cred.pid == atoi(dpid)),
		      "SO_PEERCRED on cmap_fd_get's fd: the daemon, uid 0 gid 0 (rc %d pid %d uid %d)",
		      rc, (int)cred.pid, (int)cred.uid);
	}
	{
		const void *ctx = NULL;
		static int marker;
		CHECK_RC(cmap_context_set(h, &marker), CS_OK);
		CHECK_RC(cmap_context_get(h, &ctx), CS_OK);
		CHECK(ctx == &marker, "context round trip");
	}

	/* Configuration keys, with corosync's types. */
	{
		uint32_t u32 = 0;
		uint16_t u16 = 0;
		uint8_t u8 = 9;
		CHECK_RC(cmap_get_uint32(h, "nodelist.node.0.nodeid", &u32), CS_OK);
		CHECK(u32 == 1, "nodelist.node.0.nodeid is 1 (%u)", u32);
		CHECK_RC(cmap_get_uint32(h, "runtime.votequorum.this_node_id", &u32), CS_OK);
		CHECK(u32 == 1, "runtime.votequorum.this_node_id is 1 (%u)", u32);
		CHECK_RC(cmap_get_uint16(h, "totem.interface.0.mcastport", &u16), CS_OK);
		CHECK_RC(cmap_get_uint8(h, "quorum.two_node", &u8), CS_OK);
		CHECK(u8 == 0, "quorum.two_node is 0");
		CHECK_RC(cmap_get_string(h, "totem.cluster_name", &str), CS_OK);
		CHECK(str && strcmp(str, "cmapabi") == 0, "cluster_name '%s'", str ? str : "(null)");
		free(str);
		CHECK_RC(cmap_get_string(h, "runtime.members.1.status", &str), CS_OK);
		CHECK(str && strcmp(str, "joined") == 0, "runtime.members.1.status '%s'", str ? str : "(null)");
		free(str);
		CHECK_RC(cmap_get_uint32(h, "runtime.config.totem.token", &u32), CS_OK);
		/* Error paths of reading. */
		CHECK_RC(cmap_get_uint32(h, "no.such.key", &u32), CS_ERR_NOT_EXIST);
		CHECK_RC(cmap_get_uint8(h, "nodelist.node.0.nodeid", &u8), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_get_string(h, "nodelist.node.0.nodeid", &str), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_get_uint32(h, NULL, &u32), CS_ERR_INVALID_PARAM);
	}
	{
		char buf[8];
		size_t len = sizeof(buf);
		cmap_value_types_t type = 0;
		CHECK_RC(cmap_get(h, "totem.cluster_name", NULL, &len, &type), CS_OK);
		CHECK(len == strlen("cmapabi") + 1 && type == CMAP_VALUETYPE_STRING, "length with NUL, type STRING");
		len = 3;
		CHECK_RC(cmap_get(h, "totem.cluster_name", buf, &len, &type), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_get(h, "totem.cluster_name", buf, NULL, &type), CS_ERR_INVALID_PARAM);
	}

	/* Every type written and read back. */
	{
		int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
		int64_t i64; uint64_t u64; float f; double d;
		unsigned char bin[5] = { 0, 1, 2, 0, 255 }, back[5];
		size_t len = sizeof(back);
		cmap_value_types_t type;
		CHECK_RC(cmap_set_int8(h, "test.i8", -8), CS_OK);
		CHECK_RC(cmap_set_uint8(h, "test.u8", 200), CS_OK);
		CHECK_RC(cmap_set_int16(h, "test.i16", -1600), CS_OK);
		CHECK_RC(cmap_set_uint16(h, "test.u16", 65000), CS_OK);
		CHECK_RC(cmap_set_int32(h, "test.i32", -320000), CS_OK);
		CHECK_RC(cmap_set_uint32(h, "test.u32", 4000000000U), CS_OK);
		CHECK_RC(cmap_set_int64(h, "test.i64", -64000000000LL), CS_OK);
		CHECK_RC(cmap_set_uint64(h, "test.u64", 18000000000000000000ULL), CS_OK);
		CHECK_RC(cmap_set_float(h, "test.float", 1.5f), CS_OK);
		CHECK_RC(cmap_set_double(h, "test.double", -2.25), CS_OK);
		CHECK_RC(cmap_set_string(h, "test.string", "hello"), CS_OK);
		CHECK_RC(cmap_set(h, "test.binary", bin, sizeof(bin), CMAP_VALUETYPE_BINARY), CS_OK);
		CHECK_RC(cmap_get_int8(h, "test.i8", &i8), CS_OK);
		CHECK_RC(cmap_get_uint8(h, "test.u8", &u8), CS_OK);
		CHECK_RC(cmap_get_int16(h, "test.i16", &i16), CS_OK);
		CHECK_RC(cmap_get_uint16(h, "test.u16", &u16), CS_OK);
		CHECK_RC(cmap_get_int32(h, "test.i32", &i32), CS_OK);
		CHECK_RC(cmap_get_uint32(h, "test.u32", &u32), CS_OK);
		CHECK_RC(cmap_get_int64(h, "test.i64", &i64), CS_OK);
		CHECK_RC(cmap_get_uint64(h, "test.u64", &u64), CS_OK);
		CHECK_RC(cmap_get_float(h, "test.float", &f), CS_OK);
		CHECK_RC(cmap_get_double(h, "test.double", &d), CS_OK);
		CHECK(i8 == -8 && u8 == 200 && i16 == -1600 && u16 == 65000 && i32 == -320000 &&
		      u32 == 4000000000U && i64 == -64000000000LL && u64 == 18000000000000000000ULL &&
		      f == 1.5f && d == -2.25, "every number reads back");
		CHECK_RC(cmap_get_string(h, "test.string", &str), CS_OK);
		CHECK(str && strcmp(str, "hello") == 0, "string reads back");
		free(str);
		CHECK_RC(cmap_get(h, "test.binary", back, &len, &type), CS_OK);
		CHECK(len == 5 && type == CMAP_VALUETYPE_BINARY && memcmp(bin, back, 5) == 0, "binary reads back");
		CHECK_RC(cmap_inc(h, "test.u32"), CS_OK);
		CHECK_RC(cmap_get_uint32(h, "test.u32", &u32), CS_OK);
		CHECK(u32 == 4000000001U, "inc");
		CHECK_RC(cmap_dec(h, "test.i8"), CS_OK);
		CHECK_RC(cmap_get_int8(h, "test.i8", &i8), CS_OK);
		CHECK(i8 == -9, "dec");
		CHECK_RC(cmap_inc(h, "test.string"), CS_ERR_INVALID_PARAM);
		/* A key may change type. */
		CHECK_RC(cmap_set_string(h, "test.u8", "now a string"), CS_OK);
		CHECK_RC(cmap_get_uint8(h, "test.u8", &u8), CS_ERR_INVALID_PARAM);
		/* Error paths of writing. */
		CHECK_RC(cmap_set(h, "test.bad", &u32, 2, CMAP_VALUETYPE_UINT32), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_set(h, "test.bad", &u32, 4, (cmap_value_types_t)99), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_set_uint8(h, "bad key", 1), CS_ERR_NAME_TOO_LONG);
		CHECK_RC(cmap_set_uint8(h, "ab", 1), CS_ERR_NAME_TOO_LONG);
		CHECK_RC(cmap_set_uint8(h, NULL, 1), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_set_uint32(h, "nodelist.node.0.nodeid", 7), CS_ERR_ACCESS);
		CHECK_RC(cmap_set_uint32(h, "runtime.config.totem.token", 7), CS_ERR_ACCESS);
		CHECK_RC(cmap_set_string(h, "totem.cluster_name", "other"), CS_ERR_ACCESS);
		CHECK_RC(cmap_delete(h, "nodelist.node.0.nodeid"), CS_ERR_ACCESS);
		CHECK_RC(cmap_delete(h, "test.i16"), CS_OK);
		CHECK_RC(cmap_delete(h, "test.i16"), CS_ERR_NOT_EXIST);
	}

	/* Iteration: sorted, each node's keys together, NO_SECTIONS at the end. */
	{
		cmap_iter_handle_t it;
		char key[CMAP_KEYNAME_MAXLEN + 1], prev[CMAP_KEYNAME_MAXLEN + 1] = "";
		size_t len;
		cmap_value_types_t type;
		int n = 0, sorted = 1;
		cs_error_t rc;
		CHECK_RC(cmap_iter_init(h, "nodelist.node.", &it), CS_OK);
		while ((rc = cmap_iter_next(h, it, key, &len, &type)) == CS_OK) {
			if (strcmp(prev, key) >= 0)
				sorted = 0;
			snprintf(prev, sizeof(prev), "%s", key);
			n++;
		}
		CHECK(rc == CS_ERR_NO_SECTIONS, "iteration ends with CS_ERR_NO_SECTIONS (%d)", (int)rc);
		CHECK(n == 3 && sorted, "3 nodelist keys, sorted (%d)", n);
		CHECK_RC(cmap_iter_finalize(h, it), CS_OK);
		CHECK_RC(cmap_iter_next(h, it, key, &len, &type), CS_ERR_BAD_HANDLE);
		CHECK_RC(cmap_iter_init(h, NULL, &it), CS_OK);
		n = 0;
		while (cmap_iter_next(h, it, key, NULL, NULL) == CS_OK)
			n++;
		CHECK(n > 20, "the whole map iterates (%d keys)", n);
		CHECK_RC(cmap_iter_finalize(h, it), CS_OK);
	}

	/* Tracking. */
	{
		cmap_track_handle_t tp, te;
		static int ud;
		CHECK_RC(cmap_track_add(h, "track.", CMAP_TRACK_ADD | CMAP_TRACK_MODIFY | CMAP_TRACK_DELETE | CMAP_TRACK_PREFIX,
					notify, &ud, &tp), CS_OK);
		CHECK_RC(cmap_track_add(h, "track.x", CMAP_TRACK_MODIFY, notify, NULL, &te), CS_OK);
		CHECK_RC(cmap_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
		CHECK(!(readable(fd, 0) & POLLIN), "nothing pending: fd not readable");
		CHECK_RC(cmap_set_uint32(h, "track.x", 1), CS_OK);
		CHECK(readable(fd, 2000) & POLLIN, "a notification makes the fd readable");
		CHECK_RC(cmap_dispatch(h, CS_DISPATCH_ALL), CS_OK);
		CHECK(events == 1 && last_event == CMAP_TRACK_ADD && strcmp(last_key, "track.x") == 0 &&
		      last_user_data == &ud && last_new_type == CMAP_VALUETYPE_UINT32 && last_new_u32 == 1 &&
		      last_old_type == 0, "ADD with key, user data and new value");
		CHECK(!(readable(fd, 0) & POLLIN), "dispatched: fd not readable");
		CHECK_RC(cmap_set_uint32(h, "track.x", 1), CS_OK);
		CHECK_RC(cmap_set_uint32(h, "track.x", 2), CS_OK);
		readable(fd, 2000);
		CHECK_RC(cmap_dispatch(h, CS_DISPATCH_ALL), CS_OK);
		CHECK(events == 3 && last_event == CMAP_TRACK_MODIFY && last_new_u32 == 2 && last_old_u32 == 1,
		      "MODIFY to both tracks (unchanged write: none), old and new values (%d events)", events);
		CHECK_RC(cmap_delete(h, "track.x"), CS_OK);
		readable(fd, 2000);
		CHECK_RC(cmap_dispatch(h, CS_DISPATCH_ONE), CS_OK);
		CHECK(events == 4 && last_event == CMAP_TRACK_DELETE && last_new_len == 0, "DELETE");
		CHECK_RC(cmap_track_delete(h, tp), CS_OK);
		CHECK_RC(cmap_track_delete(h, tp), CS_ERR_BAD_HANDLE);
		CHECK_RC(cmap_set_uint32(h, "track.y", 1), CS_OK);
		CHECK_RC(cmap_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
		CHECK(events == 4, "no notification after track_delete");
		/* As Corosync: a track without events is accepted (and never fires); one without a
		 * notify function is refused. */
		CHECK_RC(cmap_track_add(h, "track.", 0, notify, NULL, &te), CS_OK);
		CHECK_RC(cmap_track_add(h, "track.", CMAP_TRACK_ADD, NULL, NULL, &te), CS_ERR_INVALID_PARAM);
		CHECK_RC(cmap_dispatch(h, (cs_dispatch_flags_t)9), CS_ERR_INVALID_PARAM);
	}

	/* The statistics map is read-only. */
	CHECK_RC(cmap_initialize_map(&hs, CMAP_MAP_STATS), CS_OK);
	CHECK_RC(cmap_set_uint8(hs, "stats.x.y", 1), CS_ERR_ACCESS);
	CHECK_RC(cmap_finalize(hs), CS_OK);

	/* uidgid written at run time is honoured at once. */
	CHECK(init_as_nobody() == CS_ERR_ACCESS, "uid 65534 refused before uidgid.uid.65534");
	CHECK_RC(cmap_set_uint8(h, "uidgid.uid.65534", 1), CS_OK);
	CHECK(init_as_nobody() == CS_OK, "uid 65534 allowed once uidgid.uid.65534 = 1");
	CHECK_RC(cmap_delete(h, "uidgid.uid.65534"), CS_OK);
	CHECK(init_as_nobody() == CS_ERR_ACCESS, "refused again once deleted");

	/* Finalize; then the daemon is killed under a live handle. */
	CHECK_RC(cmap_initialize(&h2), CS_OK);
	CHECK_RC(cmap_finalize(h), CS_OK);
	CHECK_RC(cmap_finalize(h), CS_ERR_BAD_HANDLE);
	CHECK_RC(cmap_get_uint32(h, "totem.version", &(uint32_t){0}), CS_ERR_BAD_HANDLE);
	if (dpid) {
		int fd2 = -1;
		CHECK_RC(cmap_fd_get(h2, &fd2), CS_OK);
		kill(atoi(dpid), SIGKILL);
		CHECK(readable(fd2, 5000) & POLLHUP, "POLLHUP once the daemon is killed");
		CHECK_RC(cmap_get_uint32(h2, "totem.version", &(uint32_t){0}), CS_ERR_LIBRARY);
		CHECK_RC(cmap_dispatch(h2, CS_DISPATCH_ALL), CS_ERR_LIBRARY);
		CHECK_RC(cmap_finalize(h2), CS_OK);
	}
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
