/*
 * libvotequorum conformance: built against the system's <corosync/votequorum.h> (Debian's
 * libvotequorum-dev), linked to quorumd's libvotequorum.so.8, run against a real quorumd: node 1
 * of a three-node nodelist, alone (expected votes 3, quorum 2, not quorate). Walks every call,
 * error paths included; exits 1 if any check failed.
 *
 * Environment: QUORUMD_SOCKET, VQ_TEST_DAEMON_PID (killed at the end), VQ_TEST_NO_DAEMON.
 */
#define _GNU_SOURCE
#include <corosync/votequorum.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok: "); } else { printf("FAILED (line %d): ", __LINE__); failures++; } \
	printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
} while (0)
#define CHECK_RC(call, want) do { cs_error_t rc_ = (call); \
	CHECK(rc_ == (want), "%s -> %d (want %d)", #call, (int)rc_, (int)(want)); } while (0)

static int quorum_calls, nodelist_calls, expected_calls;
static uint64_t last_context;
static uint32_t last_quorate, last_entries, last_expected, last_member_state;
static votequorum_ring_id_t last_ring;
static char trace[256];

static void quorum_fn(votequorum_handle_t h, uint64_t context, uint32_t quorate, uint32_t n, votequorum_node_t list[])
{
	(void)h;
	quorum_calls++;
	last_context = context;
	last_quorate = quorate;
	last_entries = n;
	last_member_state = 0;
	for (uint32_t i = 0; i < n; i++)
		if (list[i].nodeid == 1)
			last_member_state = list[i].state;
	strncat(trace, "Q ", sizeof(trace) - strlen(trace) - 1);
}

static void nodelist_fn(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring, uint32_t n, uint32_t list[])
{
	(void)h; (void)list;
	nodelist_calls++;
	last_context = context;
	last_ring = ring;
	last_entries = n;
	strncat(trace, "N ", sizeof(trace) - strlen(trace) - 1);
}

static void expected_fn(votequorum_handle_t h, uint64_t context, uint32_t expected)
{
	(void)h;
	expected_calls++;
	last_context = context;
	last_expected = expected;
	strncat(trace, "E ", sizeof(trace) - strlen(trace) - 1);
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) > 0 ? p.revents : 0;
}

int main(void)
{
	votequorum_handle_t h, h2;
	votequorum_callbacks_t cb = { quorum_fn, expected_fn, nodelist_fn };
	struct votequorum_info info;
	int fd = -1;
	const char *sock = getenv("QUORUMD_SOCKET");
	const char *dpid = getenv("VQ_TEST_DAEMON_PID");

	setenv("QUORUMD_SOCKET", getenv("VQ_TEST_NO_DAEMON"), 1);
	CHECK_RC(votequorum_initialize(&h, &cb), CS_ERR_LIBRARY);
	setenv("QUORUMD_SOCKET", sock, 1);
	CHECK_RC(votequorum_getinfo(0x4242424200000003ULL, 0, &info), CS_ERR_BAD_HANDLE);
	CHECK_RC(votequorum_finalize(0x4242424200000003ULL), CS_ERR_BAD_HANDLE);

	CHECK_RC(votequorum_initialize(&h, &cb), CS_OK);
	CHECK_RC(votequorum_fd_get(h, &fd), CS_OK);
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		CHECK(rc == 0 && cred.uid == 0 && cred.gid == 0 && (!dpid || cred.pid == atoi(dpid)),
		      "SO_PEERCRED on votequorum_fd_get's fd: the daemon as root");
	}
	{
		void *ctx = NULL;
		static int marker;
		CHECK_RC(votequorum_context_set(h, &marker), CS_OK);
		CHECK_RC(votequorum_context_get(h, &ctx), CS_OK);
		CHECK(ctx == &marker, "context round trip");
	}

	/* getinfo: this node (0 and 1), a configured node never seen, a node not configured. */
	memset(&info, 0xff, sizeof(info));
	CHECK_RC(votequorum_getinfo(h, VOTEQUORUM_QDEVICE_NODEID, &info), CS_OK);
	CHECK(info.node_id == 1 && info.node_state == VOTEQUORUM_NODESTATE_MEMBER && info.node_votes == 1 &&
	      info.node_expected_votes == 3 && info.highest_expected == 3 && info.total_votes == 1 &&
	      info.quorum == 2 && !(info.flags & VOTEQUORUM_INFO_QUORATE) && info.qdevice_votes == 0 &&
	      info.qdevice_name[0] == 0,
	      "getinfo(0): node 1 member, votes 1, expected 3, total 1, quorum 2, not quorate (id %u state %u votes %u exp %u high %u total %u quorum %u flags %u)",
	      info.node_id, info.node_state, info.node_votes, info.node_expected_votes, info.highest_expected, info.total_votes, info.quorum, info.flags);
	CHECK_RC(votequorum_getinfo(h, 1, &info), CS_OK);
	/* As corosync: a node votequorum never heard from (configured or not) is unknown. */
	CHECK_RC(votequorum_getinfo(h, 2, &info), CS_ERR_NOT_EXIST);
	CHECK_RC(votequorum_getinfo(h, 99, &info), CS_ERR_NOT_EXIST);

	/* Tracking: a snapshot (nodelist then quorum) with the context, then changes. */
	CHECK_RC(votequorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	CHECK(!(readable(fd, 0) & POLLIN), "nothing pending: not readable");
	CHECK_RC(votequorum_trackstart(h, 77, CS_TRACK_CHANGES), CS_OK);
	CHECK(readable(fd, 2000) & POLLIN, "snapshot makes the fd readable");
	CHECK_RC(votequorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	CHECK(strcmp(trace, "N Q ") == 0 && last_context == 77 && last_quorate == 0 && last_member_state == 1 &&
	      last_ring.nodeid == 1 && last_entries == 1,
	      "nodelist then quorum (trace '%s', context %llu, entries %u)", trace, (unsigned long long)last_context, last_entries);
	CHECK_RC(votequorum_trackstart(h, 78, CS_TRACK_CHANGES), CS_ERR_EXIST);
	CHECK_RC(votequorum_dispatch(h, CS_DISPATCH_ALL), CS_OK);
	trace[0] = 0;

	/* setexpected 1: quorate now; the tracker hears expected votes and quorum. */
	CHECK_RC(votequorum_setexpected(h, 0), CS_ERR_INVALID_PARAM);
	CHECK_RC(votequorum_setexpected(h, 1), CS_OK);
	for (int i = 0; i < 50 && (expected_calls == 0 || last_quorate == 0); i++) {
		readable(fd, 100);
		votequorum_dispatch(h, CS_DISPATCH_ALL);
	}
	CHECK(expected_calls >= 1 && last_expected == 1 && last_quorate == 1 && last_context == 77,
	      "expected-votes and quorum notifications (trace '%s')", trace);
	CHECK_RC(votequorum_getinfo(h, 0, &info), CS_OK);
	CHECK((info.flags & VOTEQUORUM_INFO_QUORATE) && info.quorum == 1 && info.node_expected_votes == 1,
	      "quorate with quorum 1 (flags %u, quorum %u)", info.flags, info.quorum);
	CHECK_RC(votequorum_setvotes(h, 99, 1), CS_ERR_NAME_NOT_FOUND);

	/* The qdevice calls without a device, as corosync answers them. */
	CHECK_RC(votequorum_qdevice_register(h, "Qdevice"), CS_ERR_ACCESS);
	CHECK_RC(votequorum_qdevice_unregister(h, "Qdevice"), CS_ERR_NOT_EXIST);
	CHECK_RC(votequorum_qdevice_update(h, "Qdevice", "Other"), CS_ERR_NOT_EXIST);
	CHECK_RC(votequorum_qdevice_poll(h, "Qdevice", 1, last_ring), CS_ERR_ACCESS);
	CHECK_RC(votequorum_qdevice_master_wins(h, "Qdevice", 1), CS_ERR_ACCESS);
	CHECK_RC(votequorum_qdevice_register(h, ""), CS_ERR_INVALID_PARAM);
	CHECK_RC(votequorum_qdevice_register(h, NULL), CS_ERR_INVALID_PARAM);

	CHECK_RC(votequorum_trackstop(h), CS_OK);
	CHECK_RC(votequorum_trackstop(h), CS_ERR_NOT_EXIST);
	CHECK_RC(votequorum_dispatch(h, (cs_dispatch_flags_t)0), CS_ERR_INVALID_PARAM);

	/* sbd: no callbacks at all. */
	CHECK_RC(votequorum_initialize(&h2, NULL), CS_OK);
	CHECK_RC(votequorum_getinfo(h2, 0, &info), CS_OK);
	CHECK_RC(votequorum_trackstart(h2, 0, CS_TRACK_CURRENT), CS_OK);
	readable(fd, 100);
	CHECK_RC(votequorum_dispatch(h2, CS_DISPATCH_ALL), CS_OK);
	CHECK_RC(votequorum_finalize(h2), CS_OK);

	CHECK_RC(votequorum_finalize(h), CS_OK);
	CHECK_RC(votequorum_finalize(h), CS_ERR_BAD_HANDLE);
	CHECK_RC(votequorum_getinfo(h, 0, &info), CS_ERR_BAD_HANDLE);

	if (dpid) {
		int fd2 = -1;
		CHECK_RC(votequorum_initialize(&h2, &cb), CS_OK);
		CHECK_RC(votequorum_fd_get(h2, &fd2), CS_OK);
		kill(atoi(dpid), SIGKILL);
		CHECK(readable(fd2, 5000) & POLLHUP, "POLLHUP once the daemon is killed");
		CHECK_RC(votequorum_getinfo(h2, 0, &info), CS_ERR_LIBRARY);
		CHECK_RC(votequorum_dispatch(h2, CS_DISPATCH_ALL), CS_ERR_LIBRARY);
		CHECK_RC(votequorum_finalize(h2), CS_OK);
	}
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
