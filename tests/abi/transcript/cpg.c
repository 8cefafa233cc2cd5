/*
 * libcpg.so.4 transcript (see tr.h): every call of <corosync/cpg.h>, error paths included
 * (bad handle, not joined, name too long, unknown model or flag, iteration arguments), joins
 * and leaves of a child process (JOIN, LEAVE, PROCDOWN), on node 1 of a quorate three-node
 * cluster; then a session across the daemon's death (hold) and initialize with no daemon.
 */
#include "tr.h"
#include <corosync/cpg.h>
#include <sys/uio.h>

#define BAD 0x4242424200000003ULL

static cpg_handle_t finalize_in_callback;

static const char *name_str(const struct cpg_name *g)
{
	static char buf[CPG_MAX_NAME_LENGTH + 1];
	size_t n = g->length > CPG_MAX_NAME_LENGTH ? CPG_MAX_NAME_LENGTH : g->length;
	memcpy(buf, g->value, n);
	buf[n] = 0;
	return buf;
}

static const char *reason_str(uint32_t r)
{
	static const char *names[] = { "UNDEFINED", "JOIN", "LEAVE", "NODEDOWN", "NODEUP", "PROCDOWN" };
	return r < 6 ? names[r] : "?";
}

static void addr_list(const char *what, const struct cpg_address *a, size_t n)
{
	printf(" %s=[", what);
	for (size_t i = 0; i < n; i++)
		printf("%s%u/%s/%s", i ? "," : "", a[i].nodeid, tr_pid(a[i].pid), reason_str(a[i].reason));
	printf("]");
}

static void deliver_fn(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	unsigned long sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = sum * 31 + ((unsigned char *)msg)[i];
	printf("  cb cpg_deliver_fn group=%s from=%u/%s len=%zu", name_str(g), nodeid, tr_pid(pid), len);
	if (len <= 16)
		printf(" msg='%.*s'\n", (int)len, (char *)msg);
	else
		printf(" sum=%lx\n", sum);
	if (finalize_in_callback == h)
		T(cpg_finalize(h), "");
}

static void confchg_fn(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj)
{
	(void)h;
	printf("  cb cpg_confchg_fn group=%s", name_str(g));
	addr_list("members", m, nm);
	addr_list("left", l, nl);
	addr_list("joined", j, nj);
	printf("\n");
}

static void totem_fn(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
	(void)h;
	printf("  cb cpg_totem_confchg_fn ring=%s", ring.seq > 0 ? "RING" : "0");
	tr_list("members", members, n);
	printf("\n");
}

static struct cpg_name name_of(const char *s)
{
	struct cpg_name n;
	memset(&n, 0, sizeof(n));
	n.length = (uint32_t)strlen(s);
	memcpy(n.value, s, n.length);
	return n;
}

/* A second process of this node: joins g, multicasts "child", then leaves cleanly or exits. */
static pid_t child_member(const struct cpg_name *g, int leave_cleanly)
{
	int ready[2];
	if (pipe(ready) != 0)
		return -1;
	fflush(stdout);
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
		usleep(300000);
		if (leave_cleanly) {
			cpg_leave(c, g);
			usleep(300000);
			cpg_finalize(c);
		}
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	char r;
	if (read(ready[0], &r, 1) != 1)
		SAY("the child failed");
	close(ready[0]);
	waitpid(pid, NULL, 0);
	return pid;
}

static void iterate(cpg_handle_t h, cpg_iteration_type_t type, const struct cpg_name *g, const char *what)
{
	cpg_iteration_handle_t it;
	struct cpg_iteration_description_t d;
	cs_error_t rc;
	SAY("# iteration %s", what);
	T(cpg_iteration_initialize(h, type, g, &it), "");
	if (tr_rc != CS_OK)
		return;
	while ((rc = cpg_iteration_next(it, &d)) == CS_OK)
		SAY("  group=%s nodeid=%u pid=%s", name_str(&d.group), d.nodeid, type == CPG_ITERATION_NAME_ONLY ? "-" : tr_pid(d.pid));
	SAY("cpg_iteration_next(it, &d) -> %s after these", tr_name(rc));
	T(cpg_iteration_finalize(it), "");
	T(cpg_iteration_finalize(it), "");
	T(cpg_iteration_next(it, &d), "");
}

static void walk(void)
{
	cpg_handle_t h, h2;
	cpg_callbacks_t cb = { deliver_fn, confchg_fn };
	cpg_model_v1_data_t v1 = { CPG_MODEL_V1, deliver_fn, confchg_fn, totem_fn, CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF };
	int fd = -1;
	uint32_t size = 0;
	unsigned int local = 0;
	cpg_flow_control_state_t fc = CPG_FLOW_CONTROL_ENABLED;
	struct cpg_name g = name_of("abi-group"), other = name_of("nobody-here"), too_long;
	struct cpg_address members[CPG_MEMBERS_MAX];
	int n = 0;
	void *ctx = NULL;
	static int marker, marker2;
	struct iovec iov1 = { "x", 1 };
	cpg_iteration_handle_t it;
	struct cpg_iteration_description_t d;

	memset(&too_long, 'x', sizeof(too_long));
	too_long.length = CPG_MAX_NAME_LENGTH + 1;

	SAY("# a handle never given out");
	T(cpg_finalize(BAD), "");
	T(cpg_fd_get(BAD, &fd), "");
	T(cpg_join(BAD, &g), "");
	T(cpg_leave(BAD, &g), "");
	T(cpg_local_get(BAD, &local), "");
	T(cpg_dispatch(BAD, CS_DISPATCH_ALL), "");
	T(cpg_context_get(BAD, &ctx), "");
	T(cpg_context_set(BAD, &marker), "");
	T(cpg_flow_control_state_get(BAD, &fc), "");
	T(cpg_max_atomic_msgsize_get(BAD, &size), "");
	T(cpg_mcast_joined(BAD, CPG_TYPE_AGREED, &iov1, 1), "");
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(BAD, &g, members, &n), "");
	T(cpg_iteration_initialize(BAD, CPG_ITERATION_ALL, NULL, &it), "");
	T(cpg_iteration_next(BAD, &d), "");
	T(cpg_iteration_finalize(BAD), "");

	SAY("# model_initialize");
	T(cpg_model_initialize(&h, (cpg_model_t)2, (cpg_model_data_t *)&v1, NULL), "");
	v1.flags = 0x02;
	T(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&v1, NULL), "");
	v1.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
	T(cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&v1, &marker), "");
	T(cpg_context_get(h, &ctx), "context=%s", ctx == &marker ? "marker" : "other");
	T(cpg_context_set(h, &marker2), "");
	T(cpg_context_get(h, &ctx), "context=%s", ctx == &marker2 ? "marker2" : "other");
	T(cpg_fd_get(h, &fd), "fd=%s", fd >= 0 ? "FD" : "-1");
	T(cpg_local_get(h, &local), "nodeid=%u", local);
	T(cpg_max_atomic_msgsize_get(h, &size), "size=%u", size);
	T(cpg_flow_control_state_get(h, &fc), "state=%d", (int)fc);
	T(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(cpg_dispatch(h, CS_DISPATCH_ALL), "");
	/* An unknown dispatch flag is not walked: Corosync's library waits for ever (a listed deviation). */

	SAY("# not joined; names too long; bad arguments");
	T(cpg_leave(h, &g), "");
	T(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov1, 1), "");
	T(cpg_join(h, &too_long), "");
	T(cpg_leave(h, &too_long), "");
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(h, &too_long, members, &n), "");
	T(cpg_membership_get(h, &g, NULL, &n), "");
	T(cpg_membership_get(h, &g, members, NULL), "");
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(h, &g, members, &n), "n=%d", n);

	SAY("# join");
	T(cpg_join(h, &g), "");
	T(cpg_join(h, &g), "");
	T(cpg_join(h, &other), "");
	PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(h, &g, members, &n), "n=%d", n);
	if (tr_rc == CS_OK) {
		addr_list("  members", members, (size_t)n);
		printf("\n");
	}
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(h, &other, members, &n), "n=%d", n);

	SAY("# mcast");
	{
		struct iovec iov[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
		T(cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 3), "");
		T(cpg_mcast_joined(h, CPG_TYPE_SAFE, iov, 1), "");
		T(cpg_mcast_joined(h, CPG_TYPE_FIFO, iov + 2, 1), "");
		T(cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 0), "");
		PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
		/* An unknown guarantee: Corosync sends and delivers it, quorumd refuses it (a listed
		 * deviation); alone, so that its delivery is a line of its own. */
		struct iovec bad = { "bad-guarantee", 13 };
		T(cpg_mcast_joined(h, (cpg_guarantee_t)9, &bad, 1), "");
		PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 300);
	}
	{
		size_t big = 1024 * 1024 + 17;
		unsigned char *buf = malloc(big);
		for (size_t i = 0; i < big; i++)
			buf[i] = (unsigned char)(i * 7 + i / 251);
		struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, big - 1000 } };
		cs_error_t rc;
		int tries = 0;
		while ((rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 2)) == CS_ERR_TRY_AGAIN && tries++ < 1000)
			cpg_dispatch(h, CS_DISPATCH_ALL);
		SAY("cpg_mcast_joined(h, CPG_TYPE_AGREED, iov, 2) of %zu bytes -> %s", big, tr_name(rc));
		PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 5000, 500);
		free(buf);
	}
	{
		void *zb = NULL;
		T(cpg_zcb_alloc(h, 64, &zb), "buffer=%s", zb ? "set" : "NULL");
		if (zb) {
			memcpy(zb, "zero-copy", 9);
			T(cpg_zcb_mcast_joined(h, CPG_TYPE_AGREED, zb, 9), "");
			PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
			T(cpg_zcb_free(h, zb), "");
		}
	}

	iterate(h, CPG_ITERATION_ALL, NULL, "ALL");
	iterate(h, CPG_ITERATION_NAME_ONLY, NULL, "NAME_ONLY");
	iterate(h, CPG_ITERATION_ONE_GROUP, &g, "ONE_GROUP");
	iterate(h, CPG_ITERATION_ONE_GROUP, &too_long, "ONE_GROUP, name too long");
	iterate(h, CPG_ITERATION_ONE_GROUP, NULL, "ONE_GROUP, no name");
	iterate(h, CPG_ITERATION_ALL, &g, "ALL with a name");
	iterate(h, (cpg_iteration_type_t)7, NULL, "type 7");
	T(cpg_iteration_initialize(h, CPG_ITERATION_ALL, NULL, NULL), "");

	SAY("# a child process joins, sends, leaves");
	tr_child = child_member(&g, 1);
	PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
	SAY("# a child process joins, sends, exits without leaving");
	tr_child = child_member(&g, 0);
	PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 500);
	tr_child = 0;

	SAY("# CS_DISPATCH_ONE and ONE_NONBLOCKING handle one event each");
	{
		struct iovec iov = { "one", 3 };
		T(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), "");
		T(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), "");
		T(cpg_dispatch(h, CS_DISPATCH_ONE), "");
		SAY("fd: %s", tr_poll(fd, 2000));
		T(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
		T(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	}

	SAY("# leave");
	T(cpg_leave(h, &g), "");
	PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
	T(cpg_leave(h, &g), "");
	n = CPG_MEMBERS_MAX;
	T(cpg_membership_get(h, &g, members, &n), "n=%d", n);
	T(cpg_flow_control_state_get(h, &fc), "state=%d", (int)fc);

	SAY("# finalize inside a callback, dispatch blocking");
	{
		struct cpg_name g2 = name_of("abi-blocking");
		struct iovec iov = { "bye", 3 };
		T(cpg_initialize(&h2, &cb), "");
		T(cpg_join(h2, &g2), "");
		T(cpg_mcast_joined(h2, CPG_TYPE_AGREED, &iov, 1), "");
		finalize_in_callback = h2;
		T(cpg_dispatch(h2, CS_DISPATCH_BLOCKING), "");
		finalize_in_callback = 0;
		T(cpg_finalize(h2), "");
	}
	SAY("# cpg_initialize without callbacks");
	T(cpg_initialize(&h2, NULL), "");
	T(cpg_local_get(h2, &local), "nodeid=%u", local);
	T(cpg_finalize(h2), "");
	T(cpg_finalize(h), "");
	SAY("# the finalized handle");
	T(cpg_finalize(h), "");
	T(cpg_join(h, &g), "");
	T(cpg_local_get(h, &local), "");
}

static void hold(void)
{
	cpg_handle_t h;
	cpg_callbacks_t cb = { deliver_fn, confchg_fn };
	struct cpg_name g = name_of("abi-hold");
	struct iovec iov = { "x", 1 };
	unsigned int local = 0;
	int fd = -1;

	T(cpg_initialize(&h, &cb), "");
	T(cpg_fd_get(h, &fd), "");
	T(cpg_join(h, &g), "");
	PUMP(cpg_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 300);
	T(cpg_local_get(h, &local), "nodeid=%u", local);
	tr_ready();
	SAY("# the daemon is killed");
	SAY("fd: %s", tr_poll(fd, 10000));
	T(cpg_dispatch(h, CS_DISPATCH_ALL), "");
	T(cpg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1), "");
	T(cpg_local_get(h, &local), "");
	T(cpg_leave(h, &g), "");
	T(cpg_finalize(h), "");
	T(cpg_finalize(h), "");
}

static void nodaemon(void)
{
	cpg_handle_t h = 0;
	cpg_callbacks_t cb = { deliver_fn, confchg_fn };
	unsigned int local;

	T(cpg_initialize(&h, &cb), "");
	T(cpg_local_get(h, &local), "");
	T(cpg_finalize(h), "");
}

TR_MAIN(walk, hold, nodaemon)
