/*
 * libcpg conformance: built against the system's <corosync/cpg.h> (Debian's libcpg-dev), linked
 * to quorumd's libcpg.so.4, run against a real quorumd: node 1 of a two-node nodelist, alone (a
 * ring of one, which is all CPG needs). Walks every call, error paths included; exits 1 if any
 * check failed.
 *
 * Environment: QUORUMD_SOCKET, CPG_TEST_DAEMON_PID (killed at the end), CPG_TEST_NO_DAEMON.
 */
#define _GNU_SOURCE
#include <corosync/cpg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok: "); } else { printf("FAILED (line %d): ", __LINE__); failures++; } \
	printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
} while (0)
#define CHECK_RC(call, want) do { cs_error_t rc_ = (call); \
	CHECK(rc_ == (want), "%s -> %d (want %d)", #call, (int)rc_, (int)(want)); } while (0)

#define BAD_HANDLE 0x4242424200000003ULL

/* What the callbacks saw. */
static int totem_calls, confchg_calls, deliver_calls;
static struct cpg_ring_id last_ring;
static uint32_t last_totem_members[CPG_MEMBERS_MAX], last_totem_n;
static struct cpg_name last_group;
static struct cpg_address last_members[CPG_MEMBERS_MAX], last_left[CPG_MEMBERS_MAX], last_joined[CPG_MEMBERS_MAX];
static size_t last_nm, last_nl, last_nj;
static uint32_t last_from_node, last_from_pid;
static unsigned char *last_msg;
static size_t last_len;
static char trace[512];
static cpg_handle_t finalize_in_callback;

static void note(const char *s)
{
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

static void deliver_fn(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	deliver_calls++;
	last_group = *g;
	last_from_node = nodeid;
	last_from_pid = pid;
	free(last_msg);
	last_msg = malloc(len ? len : 1);
	memcpy(last_msg, msg, len);
	last_len = len;
	note("D ");
	if (finalize_in_callback == h)
		cpg_finalize(h);
}

static void confchg_fn(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj)
{
	(void)h;
	confchg_calls++;
	last_group = *g;
	memcpy(last_members, m, nm * sizeof(*m));
	memcpy(last_left, l, nl * sizeof(*l));
	memcpy(last_joined, j, nj * sizeof(*j));
	last_nm = nm; last_nl = nl; last_nj = nj;
	note("C ");
}

static void totem_fn(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
	(void)h;
	totem_calls++;
	last_ring = ring;
	last_totem_n = n;
	memcpy(last_totem_members, members, n * sizeof(*members));
	note("T ");
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) > 0 ? p.revents : 0;
}

static struct cpg_name name_of(const char *s)
{
	struct cpg_name n;
	memset(&n, 0, sizeof(n));
	n.length = (uint32_t)strlen(s);
	memcpy(n.value, s, n.length);
	return n;
}

/* Dispatches (waiting up to 5 s in all) until `*counter` reaches `want`. */
static int dispatch_until(cpg_handle_t h, int fd, int *counter, int want)
{
	for (int i = 0; i < 50 && *counter < want; i++) {
		readable(fd, 100);
		if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)
			return 0;
	}
	return *counter >= want;
}

static int has(const struct cpg_address *list, size_t n, uint32_t nodeid, uint32_t pid, uint32_t reason)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].nodeid == nodeid && list[i].pid == pid && (reason == 99 || list[i].reason == reason))
			return 1;
	return 0;
}

/* A second process joining the group: joins, multicasts "child", then leaves cleanly or dies. */
static pid_t child_member(const struct cpg_name *g, int leave_cleanly)
{
	int ready[2];
	if (pipe(ready) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		cpg_handle_t c;
		cpg_callbacks_t none = { NULL, NULL };
		struct iovec iov = { "child", 5 };
		close(ready[0]);
		if (cpg_initialize(&c, &none) != CS_OK || cpg_join(c, g) != CS_OK)
			_exit(3);
		if (cpg_mcast_joined(c, CPG_TYPE_AGREED, &iov, 1) != CS_OK)
			_exit(4);
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		sleep(1);
		if (leave_cleanly) {
			cpg_leave(c, g);
			cpg_finalize(c);
		}
		_exit(0);
	}
	close(ready[1]);
	char r;
	(void)read(ready[0], &r, 1);
	close(ready[0]);
	return pid;
}

int main(void)
{
	cpg_handle_t h, h2;
	cpg_callbacks_t cb = { deliver_fn, confchg_fn };
	cpg_model_v1_data_t v1 = { CPG_MODEL_V1, deliver_fn, confchg_fn, totem_fn, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF };
	int fd = -1;
	uint32_t size = 0;
	unsigned int local = 0;
	cpg_flow_control_state_t fc = CPG_FLOW_CONTROL_ENABLED;
	struct cpg_name g = name_of("abi-group");
	struct cpg_name too_long;
	struct cpg_address members[CPG_MEMBERS_MAX];
	int n_members;
	void *ctx = NULL;
	static int marker, marker2;
	const char *sock = getenv("QUORUMD_SOCKET");
	const char *dpid = getenv("CPG_TEST_DAEMON_PID");
	const uint32_t me = (uint32_t)getpid();

	memset(&too_long, 'x', sizeof(too_long));
	too_long.length = CPG_MAX_NAME_LENGTH + 1;

	/* No daemon. */
	setenv("QUORUMD_SOCKET", getenv("CPG_TEST_NO_DAEMON"), 1);
	CHECK_RC(cpg_initialize(&h, &cb), CS_ERR_LIBRARY);
	setenv("QUORUMD_SOCKET", sock, 1);

	/* A handle that was never given out. */
	CHECK_RC(cpg_finalize(BAD_HANDLE), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_fd_get(BAD_HANDLE, &fd), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_join(BAD_HANDLE, &g), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_leave(BAD_HANDLE, &g), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_local_get(BAD_HANDLE, &local), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_dispatch(BAD_HANDLE, CS_DISPATCH_ALL), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_context_get(BAD_HANDLE, &ctx), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_context_set(BAD_HANDLE, &marker), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_flow_control_state_get(BAD_HANDLE, &fc), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_max_atomic_msgsize_get(BAD_HANDLE, &size), CS_ERR_BAD_HANDLE);
	{
		struct iovec iov = { "x", 1 };
		CHECK_RC(cpg_mcast_joined(BAD_HANDLE, CPG_TYPE_AGREED, &iov, 1), CS_ERR_BAD_HANDLE);
		n_members = CPG_MEMBERS_MAX;
		CHECK_RC(cpg_membership_get(BAD_HANDLE, &g, members, &n_members), CS_ERR_BAD_HANDLE);
		cpg_iteration_handle_t it;
		CHECK_RC(cpg_iteration_initialize(BAD_HANDLE, CPG_ITERATION_ALL, NULL, &it), CS_ERR_BAD_HANDLE);
		struct cpg_iteration_description_t d;
		CHECK_RC(cpg_iteration_next(BAD_HANDLE, &d), CS_ERR_BAD_HANDLE);
		CHECK_RC(cpg_iteration_finalize(BAD_HANDLE), CS_ERR_BAD_HANDLE);
	}

	/* model_initialize: an unknown model or flag is refused; V1 with the totem callback and
	 * the initial totem configuration. */
	CHECK_RC(cpg_model_initialize(&h, (cpg_model_t)2, (cpg_model_data_t *)&v1, NULL), CS_ERR_INVALID_PARAM);
	v1.flags = 0x02;
	CHECK_RC(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&v1, NULL), CS_ERR_INVALID_PARAM);
	v1.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
	CHECK_RC(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&v1, &marker), CS_OK);
	CHECK_RC(cpg_context_get(h, &ctx), CS_OK);
	CHECK(ctx == &marker, "model_initialize's context comes back from context_get");
	CHECK_RC(cpg_context_set(h, &marker2), CS_OK);
	CHECK_RC(cpg_context_get(h, &ctx), CS_OK);
	CHECK(ctx == &marker2, "context_set then context_get");

	CHECK_RC(cpg_fd_get(h, &fd), CS_OK);
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		CHECK(rc == 0 && cred.uid == 0 && cred.gid == 0 && (!dpid || cred.pid == atoi(dpid)),
		      "SO_PEERCRED on cpg_fd_get's fd: the daemon as root");
	}
	CHECK_RC(cpg_local_get(h, &local), CS_OK);
	CHECK(local == 1, "local_get: node 1 (got %u)", local);
	CHECK_RC(cpg_max_atomic_msgsize_get(h, &size), CS_OK);
	CHECK(size >= 1024, "max_atomic_msgsize_get: %u bytes", size);
	CHECK_RC(cpg_flow_control_state_get(h, &fc), CS_OK);
	CHECK(fc == CPG_FLOW_CONTROL_DISABLED, "flow control disabled on an idle session");

	/* Nothing pending yet: the dispatch modes that do not wait. */
	CHECK_RC(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	CHECK_RC(cpg_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	CHECK(totem_calls == 0 && confchg_calls == 0, "no callback before join");

	/* Not joined: leave and mcast say so. Names longer than CPG_MAX_NAME_LENGTH are refused. */
	CHECK_RC(cpg_leave(h, &g), CS_ERR_NOT_EXIST);
	{
		struct iovec iov = { "x", 1 };
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_ERR_NOT_EXIST);
	}
	CHECK_RC(cpg_join(h, &too_long), CS_ERR_NAME_TOO_LONG);
	CHECK_RC(cpg_leave(h, &too_long), CS_ERR_NAME_TOO_LONG);
	n_members = CPG_MEMBERS_MAX;
	CHECK_RC(cpg_membership_get(h, &too_long, members, &n_members), CS_ERR_NAME_TOO_LONG);
	CHECK_RC(cpg_membership_get(h, &g, NULL, &n_members), CS_ERR_INVALID_PARAM);
	CHECK_RC(cpg_membership_get(h, &g, members, NULL), CS_ERR_INVALID_PARAM);

	/* Join: the initial totem configuration, then our own join. */
	CHECK_RC(cpg_join(h, &g), CS_OK);
	CHECK_RC(cpg_join(h, &g), CS_ERR_EXIST);
	CHECK(dispatch_until(h, fd, &confchg_calls, 1), "a confchg after join (trace %s)", trace);
	CHECK(dispatch_until(h, fd, &totem_calls, 1) && strncmp(trace, "C T ", 4) == 0,
	      "the group's confchg, then the initial totem confchg, as Corosync orders them (trace %s)", trace);
	CHECK(totem_calls == 1 && last_totem_n == 1 && last_totem_members[0] == 1 && last_ring.seq > 0,
	      "totem confchg: ring %u.%llu members %u (first %u)", last_ring.nodeid,
	      (unsigned long long)last_ring.seq, last_totem_n, last_totem_members[0]);
	CHECK(last_group.length == g.length && memcmp(last_group.value, g.value, g.length) == 0, "confchg names the group");
	CHECK(last_nm == 1 && has(last_members, last_nm, 1, me, 99) && last_nl == 0 && last_nj == 1 &&
	      has(last_joined, last_nj, 1, me, CPG_REASON_JOIN),
	      "confchg: members {1/%u}, joined {1/%u JOIN} (nm %zu nl %zu nj %zu)", me, me, last_nm, last_nl, last_nj);
	n_members = CPG_MEMBERS_MAX;
	CHECK_RC(cpg_membership_get(h, &g, members, &n_members), CS_OK);
	CHECK(n_members == 1 && members[0].nodeid == 1 && members[0].pid == me, "membership_get: 1/%u", me);
	{
		struct cpg_name other = name_of("nobody-here");
		n_members = CPG_MEMBERS_MAX;
		CHECK_RC(cpg_membership_get(h, &other, members, &n_members), CS_OK);
		CHECK(n_members == 0, "membership_get of an empty group: 0 members");
	}

	/* mcast: three iovecs gathered into one message, delivered to ourselves; AGREED and SAFE. */
	{
		struct iovec iov[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
		int before = deliver_calls;
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 3), CS_OK);
		CHECK(dispatch_until(h, fd, &deliver_calls, before + 1), "self-delivery of an AGREED message");
		CHECK(last_len == 8 && memcmp(last_msg, "abcdefgh", 8) == 0 && last_from_node == 1 && last_from_pid == me,
		      "the iovecs arrive gathered, from 1/%u (len %zu)", me, last_len);
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_SAFE, iov, 1), CS_OK);
		CHECK(dispatch_until(h, fd, &deliver_calls, before + 2) && last_len == 3, "self-delivery of a SAFE message");
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 0), CS_OK);
		CHECK(dispatch_until(h, fd, &deliver_calls, before + 3) && last_len == 0, "an empty message is delivered");
	}
	/* A message larger than the atomic size: sent in chunks, delivered whole. */
	{
		size_t big = 3u * 1024 * 1024 + 17;
		unsigned char *buf = malloc(big);
		for (size_t i = 0; i < big; i++)
			buf[i] = (unsigned char)(i * 7 + i / 251);
		struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, big - 1000 } };
		int before = deliver_calls;
		cs_error_t rc;
		while ((rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 2)) == CS_ERR_TRY_AGAIN)
			cpg_dispatch(h, CS_DISPATCH_ALL);
		CHECK(rc == CS_OK, "mcast of %zu bytes -> %d", big, rc);
		CHECK(dispatch_until(h, fd, &deliver_calls, before + 1), "the large message is delivered");
		CHECK(last_len == big && memcmp(last_msg, buf, big) == 0, "delivered whole and intact (%zu bytes)", last_len);
		free(buf);
	}
	/* zero-copy buffers: alloc, mcast, free. */
	{
		void *zb = NULL;
		int before = deliver_calls;
		CHECK_RC(cpg_zcb_alloc(h, 64, &zb), CS_OK);
		CHECK(zb != NULL, "zcb_alloc gives a buffer");
		memcpy(zb, "zero-copy", 9);
		CHECK_RC(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, zb, 9), CS_OK);
		CHECK(dispatch_until(h, fd, &deliver_calls, before + 1) && last_len == 9 && memcmp(last_msg, "zero-copy", 9) == 0,
		      "zcb_mcast_joined delivers");
		CHECK_RC(cpg_zcb_free(h, zb), CS_OK);
	}

	/* Iteration: every group, names only, one group; the end is CS_ERR_NO_SECTIONS. */
	{
		cpg_iteration_handle_t it;
		struct cpg_iteration_description_t d;
		int found = 0, rows = 0;
		cs_error_t rc;
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, NULL, &it), CS_ERR_INVALID_PARAM);
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ALL, &g, &it), CS_ERR_INVALID_PARAM);
		CHECK_RC(cpg_iteration_initialize(h, (cpg_iteration_type_t)7, NULL, &it), CS_ERR_INVALID_PARAM);
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ALL, NULL, NULL), CS_ERR_INVALID_PARAM);
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, &too_long, &it), CS_ERR_NAME_TOO_LONG);

		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ALL, NULL, &it), CS_OK);
		CHECK_RC(cpg_iteration_next(it, NULL), CS_ERR_INVALID_PARAM);
		while ((rc = cpg_iteration_next(it, &d)) == CS_OK) {
			rows++;
			if (d.group.length == g.length && memcmp(d.group.value, g.value, g.length) == 0 && d.nodeid == 1 &&
			    d.pid == me)
				found++;
		}
		CHECK(rc == CS_ERR_NO_SECTIONS && found == 1, "ITERATION_ALL: our member once, then NO_SECTIONS (%d rows, rc %d)", rows, rc);
		CHECK_RC(cpg_iteration_finalize(it), CS_OK);
		CHECK_RC(cpg_iteration_finalize(it), CS_ERR_BAD_HANDLE);
		CHECK_RC(cpg_iteration_next(it, &d), CS_ERR_BAD_HANDLE);

		found = 0;
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_NAME_ONLY, NULL, &it), CS_OK);
		while (cpg_iteration_next(it, &d) == CS_OK)
			if (d.group.length == g.length && memcmp(d.group.value, g.value, g.length) == 0)
				found++;
		CHECK(found == 1, "ITERATION_NAME_ONLY: our group once");
		CHECK_RC(cpg_iteration_finalize(it), CS_OK);

		found = rows = 0;
		CHECK_RC(cpg_iteration_initialize(h, CPG_ITERATION_ONE_GROUP, &g, &it), CS_OK);
		while (cpg_iteration_next(it, &d) == CS_OK) {
			rows++;
			found += d.nodeid == 1 && d.pid == me;
		}
		CHECK(rows == 1 && found == 1, "ITERATION_ONE_GROUP: exactly our member");
		CHECK_RC(cpg_iteration_finalize(it), CS_OK);
	}

	/* Another process joins, multicasts and leaves: JOIN, its message, LEAVE. Then one that
	 * dies without leaving: PROCDOWN. */
	{
		int c0 = confchg_calls, d0 = deliver_calls;
		pid_t child = child_member(&g, 1);
		CHECK(dispatch_until(h, fd, &confchg_calls, c0 + 1) && last_nm == 2 && last_nj == 1 &&
		      has(last_joined, last_nj, 1, (uint32_t)child, CPG_REASON_JOIN),
		      "a child's join: members 2, joined {1/%d JOIN}", (int)child);
		CHECK(dispatch_until(h, fd, &deliver_calls, d0 + 1) && last_from_pid == (uint32_t)child && last_len == 5,
		      "the child's message, from its pid");
		CHECK(dispatch_until(h, fd, &confchg_calls, c0 + 2) && last_nm == 1 && last_nl == 1 &&
		      has(last_left, last_nl, 1, (uint32_t)child, CPG_REASON_LEAVE),
		      "the child's leave: left {1/%d LEAVE}", (int)child);
		waitpid(child, NULL, 0);

		c0 = confchg_calls;
		child = child_member(&g, 0);
		CHECK(dispatch_until(h, fd, &confchg_calls, c0 + 1) && last_nj == 1, "a second child joins");
		CHECK(dispatch_until(h, fd, &confchg_calls, c0 + 2) && last_nl == 1 &&
		      has(last_left, last_nl, 1, (uint32_t)child, CPG_REASON_PROCDOWN),
		      "a child that exits without leaving: left {1/%d PROCDOWN}", (int)child);
		waitpid(child, NULL, 0);
	}

	/* CS_DISPATCH_ONE waits for one event and handles only that one. */
	{
		struct iovec iov = { "one", 3 };
		int before = deliver_calls;
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
		CHECK_RC(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), CS_OK);
		CHECK_RC(cpg_dispatch(h, CS_DISPATCH_ONE), CS_OK);
		CHECK(deliver_calls == before + 1, "CS_DISPATCH_ONE: one callback");
		readable(fd, 1000);
		CHECK_RC(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_OK);
		CHECK(deliver_calls == before + 2, "CS_DISPATCH_ONE_NONBLOCKING: the second");
		CHECK_RC(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	}

	/* Leave: our own LEAVE confchg; leave again: NOT_EXIST. */
	{
		int c0 = confchg_calls;
		CHECK_RC(cpg_leave(h, &g), CS_OK);
		CHECK(dispatch_until(h, fd, &confchg_calls, c0 + 1) && last_nm == 0 && last_nl == 1 &&
		      has(last_left, last_nl, 1, me, CPG_REASON_LEAVE),
		      "own leave: members 0, left {1/%u LEAVE}", me);
		CHECK_RC(cpg_leave(h, &g), CS_ERR_NOT_EXIST);
		n_members = CPG_MEMBERS_MAX;
		CHECK_RC(cpg_membership_get(h, &g, members, &n_members), CS_OK);
		CHECK(n_members == 0, "membership_get after leave: 0");
	}

	/* CS_DISPATCH_BLOCKING returns CS_ERR_BAD_HANDLE once a callback finalized the handle. */
	{
		struct cpg_name g2 = name_of("abi-blocking");
		CHECK_RC(cpg_initialize(&h2, &cb), CS_OK);
		CHECK_RC(cpg_join(h2, &g2), CS_OK);
		struct iovec iov = { "bye", 3 };
		CHECK_RC(cpg_mcast_joined(h2, CPG_TYPE_AGREED, &iov, 1), CS_OK);
		finalize_in_callback = h2;
		CHECK_RC(cpg_dispatch(h2, CS_DISPATCH_BLOCKING), CS_ERR_BAD_HANDLE);
		CHECK_RC(cpg_finalize(h2), CS_ERR_BAD_HANDLE);
		finalize_in_callback = 0;
	}

	/* cpg_initialize (no totem callback) works too; finalize twice. */
	CHECK_RC(cpg_initialize(&h2, NULL), CS_OK);
	CHECK_RC(cpg_finalize(h2), CS_OK);
	CHECK_RC(cpg_finalize(h), CS_OK);
	CHECK_RC(cpg_finalize(h), CS_ERR_BAD_HANDLE);
	CHECK_RC(cpg_join(h, &g), CS_ERR_BAD_HANDLE);

	/* The daemon dies: POLLHUP on the fd, then every call fails with CS_ERR_LIBRARY. */
	if (dpid) {
		int fd2 = -1;
		struct iovec iov = { "x", 1 };
		CHECK_RC(cpg_initialize(&h2, &cb), CS_OK);
		CHECK_RC(cpg_fd_get(h2, &fd2), CS_OK);
		int c0 = confchg_calls, hup = 0;
		CHECK_RC(cpg_join(h2, &g), CS_OK);
		CHECK(dispatch_until(h2, fd2, &confchg_calls, c0 + 1), "joined before the daemon dies");
		kill(atoi(dpid), SIGKILL);
		for (int i = 0; i < 50 && !hup; i++)
			hup = readable(fd2, 100) & POLLHUP;
		CHECK(hup, "POLLHUP once the daemon is killed");
		cs_error_t rc;
		while ((rc = cpg_dispatch(h2, CS_DISPATCH_ALL)) == CS_OK) {
		}
		CHECK(rc == CS_ERR_LIBRARY, "dispatch after the daemon died -> %d (want %d)", rc, CS_ERR_LIBRARY);
		CHECK_RC(cpg_mcast_joined(h2, CPG_TYPE_AGREED, &iov, 1), CS_ERR_LIBRARY);
		CHECK_RC(cpg_local_get(h2, &local), CS_ERR_LIBRARY);
		/* As Corosync: the handle is gone, and the answer says the daemon could not be told. */
		CHECK_RC(cpg_finalize(h2), CS_ERR_LIBRARY);
		CHECK_RC(cpg_finalize(h2), CS_ERR_BAD_HANDLE);
	}
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
