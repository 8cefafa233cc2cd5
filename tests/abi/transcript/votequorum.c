/*
 * libvotequorum.so.8 transcript (see tr.h): every call of <corosync/votequorum.h>, the
 * qdevice calls without a device, error paths included, on node 1 of a quorate three-node
 * cluster; then a session across the daemon's death (hold) and initialize with no daemon.
 */
#include "tr.h"
#include <corosync/votequorum.h>

#define BAD 0x4242424200000003ULL

static void quorum_fn(votequorum_handle_t h, uint64_t context, uint32_t quorate, uint32_t n, votequorum_node_t list[])
{
	(void)h;
	/* Sorted by node id: Corosync lists the nodes in the reverse order it first heard of them,
	 * which is timing, not behaviour. */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t k = i; k > 0 && list[k - 1].nodeid > list[k].nodeid; k--) {
			votequorum_node_t t = list[k];
			list[k] = list[k - 1];
			list[k - 1] = t;
		}
	printf("  cb votequorum_quorum_notify_fn context=%llu quorate=%u nodes=[", (unsigned long long)context, quorate);
	for (uint32_t i = 0; i < n; i++)
		printf(i ? ",%u:%u" : "%u:%u", list[i].nodeid, list[i].state);
	printf("]\n");
}

static void nodelist_fn(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring, uint32_t n, uint32_t list[])
{
	(void)h;
	printf("  cb votequorum_nodelist_notify_fn context=%llu ring=%s", (unsigned long long)context,
	       ring.seq > 0 ? "RING" : "0");
	tr_list("nodes", list, n);
	printf("\n");
}

static void expected_fn(votequorum_handle_t h, uint64_t context, uint32_t expected)
{
	(void)h;
	printf("  cb votequorum_expectedvotes_notify_fn context=%llu expected=%u\n", (unsigned long long)context,
	       expected);
}

static const char *info_str(const struct votequorum_info *i)
{
	static char buf[512];
	snprintf(buf, sizeof(buf),
		 "node_id=%u node_state=%u node_votes=%u node_expected_votes=%u highest_expected=%u total_votes=%u "
		 "quorum=%u flags=0x%x qdevice_votes=%u qdevice_name='%.*s'",
		 i->node_id, i->node_state, i->node_votes, i->node_expected_votes, i->highest_expected, i->total_votes,
		 i->quorum, i->flags, i->qdevice_votes, VOTEQUORUM_QDEVICE_MAX_NAME_LEN, i->qdevice_name);
	return buf;
}

static void walk(void)
{
	votequorum_handle_t h, h2;
	votequorum_callbacks_t cb = { quorum_fn, expected_fn, nodelist_fn };
	struct votequorum_info info;
	votequorum_ring_id_t ring = { 1, 1 };
	int fd = -1;
	void *ctx = NULL;
	static int marker;

	SAY("# a handle never given out");
	T(votequorum_getinfo(BAD, 0, &info), "");
	T(votequorum_setexpected(BAD, 3), "");
	T(votequorum_setvotes(BAD, 1, 1), "");
	T(votequorum_trackstart(BAD, 1, CS_TRACK_CURRENT), "");
	T(votequorum_trackstop(BAD), "");
	T(votequorum_dispatch(BAD, CS_DISPATCH_ALL), "");
	T(votequorum_fd_get(BAD, &fd), "");
	T(votequorum_context_get(BAD, &ctx), "");
	T(votequorum_context_set(BAD, &marker), "");
	T(votequorum_qdevice_register(BAD, "Qdevice"), "");
	T(votequorum_finalize(BAD), "");

	T(votequorum_initialize(&h, &cb), "");
	T(votequorum_fd_get(h, &fd), "fd=%s", fd >= 0 ? "FD" : "-1");
	T(votequorum_context_get(h, &ctx), "context=%s", ctx ? "set" : "NULL");
	T(votequorum_context_set(h, &marker), "");
	T(votequorum_context_get(h, &ctx), "context=%s", ctx == &marker ? "marker" : "other");

	SAY("# getinfo: this node (0 and 1), the others, a node not configured");
	T(votequorum_getinfo(h, 0, &info), "%s", info_str(&info));
	T(votequorum_getinfo(h, 1, &info), "%s", info_str(&info));
	T(votequorum_getinfo(h, 2, &info), "%s", info_str(&info));
	T(votequorum_getinfo(h, 3, &info), "%s", info_str(&info));
	T(votequorum_getinfo(h, 99, &info), "%s", info_str(&info));

	SAY("# dispatch and tracking");
	T(votequorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(votequorum_dispatch(h, CS_DISPATCH_ALL), "");
	T(votequorum_dispatch(h, (cs_dispatch_flags_t)0), "");
	T(votequorum_dispatch(h, (cs_dispatch_flags_t)5), "");
	SAY("fd before trackstart: %s", tr_poll(fd, 0));
	T(votequorum_trackstart(h, 77, CS_TRACK_CURRENT | CS_TRACK_CHANGES), "");
	SAY("fd after trackstart: %s", tr_poll(fd, 2000));
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 200);
	T(votequorum_trackstart(h, 78, CS_TRACK_CHANGES), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 300, 100);

	SAY("# setexpected and setvotes");
	T(votequorum_setexpected(h, 0), "");
	T(votequorum_setexpected(h, 1), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_getinfo(h, 0, &info), "%s", info_str(&info));
	T(votequorum_setexpected(h, 3), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_setexpected(h, 5), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_getinfo(h, 0, &info), "%s", info_str(&info));
	T(votequorum_setexpected(h, 3), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_setvotes(h, 99, 1), "");
	T(votequorum_setvotes(h, 2, 2), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_getinfo(h, 2, &info), "%s", info_str(&info));
	T(votequorum_getinfo(h, 0, &info), "%s", info_str(&info));
	T(votequorum_setvotes(h, 2, 1), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_getinfo(h, 0, &info), "%s", info_str(&info));

	SAY("# the qdevice calls, no device configured");
	T(votequorum_qdevice_register(h, "Qdevice"), "");
	T(votequorum_qdevice_unregister(h, "Qdevice"), "");
	T(votequorum_qdevice_update(h, "Qdevice", "Other"), "");
	T(votequorum_qdevice_poll(h, "Qdevice", 1, ring), "");
	T(votequorum_qdevice_master_wins(h, "Qdevice", 1), "");
	T(votequorum_qdevice_register(h, ""), "");
	T(votequorum_qdevice_poll(h, "", 1, ring), "");

	T(votequorum_trackstop(h), "");
	T(votequorum_trackstop(h), "");
	PUMP(votequorum_dispatch(h, CS_DISPATCH_ALL), fd, 300, 100);

	SAY("# a session without callbacks");
	T(votequorum_initialize(&h2, NULL), "");
	T(votequorum_getinfo(h2, 0, &info), "%s", info_str(&info));
	T(votequorum_trackstart(h2, 0, CS_TRACK_CURRENT), "");
	T(votequorum_fd_get(h2, &fd), "");
	PUMP(votequorum_dispatch(h2, CS_DISPATCH_ALL), fd, 1000, 200);
	T(votequorum_finalize(h2), "");

	T(votequorum_finalize(h), "");
	SAY("# the finalized handle");
	T(votequorum_finalize(h), "");
	T(votequorum_getinfo(h, 0, &info), "");
	T(votequorum_dispatch(h, CS_DISPATCH_ALL), "");
}

static void hold(void)
{
	votequorum_handle_t h;
	votequorum_callbacks_t cb = { quorum_fn, expected_fn, nodelist_fn };
	struct votequorum_info info;
	int fd = -1;

	T(votequorum_initialize(&h, &cb), "");
	T(votequorum_fd_get(h, &fd), "");
	T(votequorum_trackstart(h, 5, CS_TRACK_CHANGES_ONLY), "");
	T(votequorum_getinfo(h, 0, &info), "node_id=%u", info.node_id);
	tr_ready();
	SAY("# the daemon is killed");
	SAY("fd: %s", tr_poll(fd, 10000));
	T(votequorum_dispatch(h, CS_DISPATCH_ALL), "");
	T(votequorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(votequorum_getinfo(h, 0, &info), "");
	T(votequorum_setexpected(h, 3), "");
	T(votequorum_trackstop(h), "");
	T(votequorum_finalize(h), "");
	T(votequorum_finalize(h), "");
}

static void nodaemon(void)
{
	votequorum_handle_t h = 0;
	votequorum_callbacks_t cb = { quorum_fn, expected_fn, nodelist_fn };
	struct votequorum_info info;

	T(votequorum_initialize(&h, &cb), "");
	T(votequorum_getinfo(h, 0, &info), "");
	T(votequorum_finalize(h), "");
}

TR_MAIN(walk, hold, nodaemon)
