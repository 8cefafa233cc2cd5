/*
 * libquorum.so.5 transcript (see tr.h): every call of <corosync/quorum.h>, error paths
 * included, on node 1 of a quorate three-node cluster; then a session across the daemon's
 * death (hold) and initialize with no daemon (nodaemon).
 */
#include "tr.h"
#include <corosync/quorum.h>

#define BAD 0x4242424200000003ULL

static quorum_handle_t finalize_me;

static void v0_fn(quorum_handle_t h, uint32_t quorate, uint64_t ring_seq, uint32_t n, uint32_t *view)
{
	(void)h;
	printf("  cb quorum_notify_fn(v0) quorate=%u ring_seq=%s", quorate, ring_seq > 0 ? "SEQ" : "0");
	tr_list("view", view, n);
	printf("\n");
}

static void v1_quorum_fn(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
			 const uint32_t *members)
{
	const void *ctx = NULL;
	quorum_context_get(h, &ctx);
	printf("  cb quorum_notify_fn(v1) quorate=%u ring=%s", quorate, ring.seq > 0 ? "RING" : "0");
	tr_list("members", members, n);
	printf(" context=%s\n", ctx ? "set" : "NULL");
}

static void v1_nodelist_fn(quorum_handle_t h, struct quorum_ring_id ring, uint32_t m, const uint32_t *members,
			   uint32_t j, const uint32_t *joined, uint32_t l, const uint32_t *left)
{
	printf("  cb nodelist_notify_fn ring=%s", ring.seq > 0 ? "RING" : "0");
	tr_list("members", members, m);
	tr_list("joined", joined, j);
	tr_list("left", left, l);
	printf("\n");
	if (finalize_me != 0 && h == finalize_me)
		T(quorum_finalize(h), "");
}

static void bad_handle(quorum_handle_t h)
{
	int fd, q;
	const void *ctx;
	T(quorum_fd_get(h, &fd), "");
	T(quorum_getquorate(h, &q), "");
	T(quorum_trackstart(h, CS_TRACK_CURRENT), "");
	T(quorum_trackstop(h), "");
	T(quorum_dispatch(h, CS_DISPATCH_ALL), "");
	T(quorum_context_set(h, &fd), "");
	T(quorum_context_get(h, &ctx), "");
	T(quorum_finalize(h), "");
}

static void walk(void)
{
	quorum_handle_t h, h1;
	quorum_callbacks_t cb = { v0_fn };
	quorum_model_v1_data_t md = { QUORUM_MODEL_V1, v1_quorum_fn, v1_nodelist_fn };
	uint32_t type = 77;
	int fd = -1, q = -1;
	const void *ctx = NULL;
	static int marker;

	SAY("# a handle never given out");
	bad_handle(BAD);

	SAY("# model 2 does not exist");
	T(quorum_model_initialize(&h, (quorum_model_t)2, (quorum_model_data_t *)&md, &type, NULL), "type=%u", type);

	SAY("# v0");
	T(quorum_initialize(&h, &cb, &type), "type=%u", type);
	T(quorum_fd_get(h, &fd), "fd=%s", fd >= 0 ? "FD" : "-1");
	T(quorum_getquorate(h, &q), "quorate=%d", q);
	T(quorum_context_get(h, &ctx), "context=%s", ctx ? "set" : "NULL");
	T(quorum_context_set(h, &marker), "");
	T(quorum_context_get(h, &ctx), "context=%s", ctx == &marker ? "marker" : "other");
	T(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(quorum_dispatch(h, CS_DISPATCH_ALL), "");
	T(quorum_dispatch(h, (cs_dispatch_flags_t)0), "");
	T(quorum_dispatch(h, (cs_dispatch_flags_t)5), "");
	SAY("fd before trackstart: %s", tr_poll(fd, 0));
	T(quorum_trackstart(h, CS_TRACK_CURRENT), "");
	SAY("fd after trackstart: %s", tr_poll(fd, 2000));
	T(quorum_dispatch(h, CS_DISPATCH_ONE), "");
	T(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(quorum_trackstart(h, CS_TRACK_CHANGES), "");
	T(quorum_trackstart(h, CS_TRACK_CHANGES), "");
	T(quorum_trackstop(h), "");
	T(quorum_trackstop(h), "");
	PUMP(quorum_dispatch(h, CS_DISPATCH_ALL), fd, 1000, 200);
	T(quorum_trackstart(h, CS_TRACK_CHANGES_ONLY), "");
	PUMP(quorum_dispatch(h, CS_DISPATCH_ALL), fd, 300, 100);
	T(quorum_trackstop(h), "");
	T(quorum_finalize(h), "");
	SAY("# the finalized handle");
	bad_handle(h);

	SAY("# v1");
	type = 77;
	T(quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&md, &type, &marker), "type=%u", type);
	T(quorum_fd_get(h, &fd), "");
	T(quorum_context_get(h, &ctx), "context=%s", ctx == &marker ? "marker" : "other");
	T(quorum_trackstart(h, CS_TRACK_CURRENT | CS_TRACK_CHANGES), "");
	PUMP(quorum_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 200);
	T(quorum_getquorate(h, &q), "quorate=%d", q);
	T(quorum_trackstop(h), "");
	SAY("# a second session at once, no callbacks");
	T(quorum_model_initialize(&h1, QUORUM_MODEL_V1, NULL, &type, NULL), "type=%u", type);
	T(quorum_getquorate(h1, &q), "quorate=%d", q);
	T(quorum_trackstart(h1, CS_TRACK_CURRENT), "");
	T(quorum_fd_get(h1, &fd), "");
	PUMP(quorum_dispatch(h1, CS_DISPATCH_ALL), fd, 2000, 200);
	T(quorum_finalize(h1), "");
	T(quorum_finalize(h), "");

	SAY("# finalize inside a callback, dispatch blocking");
	T(quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&md, &type, NULL), "type=%u", type);
	finalize_me = h;
	T(quorum_trackstart(h, CS_TRACK_CURRENT), "");
	T(quorum_dispatch(h, CS_DISPATCH_BLOCKING), "");
	finalize_me = 0;
	T(quorum_getquorate(h, &q), "quorate=%d", q);
	T(quorum_finalize(h), "");
}

static void hold(void)
{
	quorum_handle_t h;
	quorum_model_v1_data_t md = { QUORUM_MODEL_V1, v1_quorum_fn, v1_nodelist_fn };
	uint32_t type = 77;
	int fd = -1, q = -1;

	T(quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&md, &type, NULL), "type=%u", type);
	T(quorum_fd_get(h, &fd), "");
	T(quorum_trackstart(h, CS_TRACK_CHANGES_ONLY), "");
	T(quorum_getquorate(h, &q), "quorate=%d", q);
	tr_ready();
	SAY("# the daemon is killed");
	SAY("fd: %s", tr_poll(fd, 10000));
	T(quorum_dispatch(h, CS_DISPATCH_ALL), "");
	T(quorum_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(quorum_getquorate(h, &q), "quorate=%d", q);
	T(quorum_trackstart(h, CS_TRACK_CURRENT), "");
	T(quorum_trackstop(h), "");
	T(quorum_finalize(h), "");
	T(quorum_finalize(h), "");
}

static void nodaemon(void)
{
	quorum_handle_t h = 0;
	quorum_callbacks_t cb = { v0_fn };
	uint32_t type = 77;
	int q;

	T(quorum_initialize(&h, &cb, &type), "type=%u", type);
	SAY("handle written: %s, type written: %s", h != 0 ? "yes" : "no", type != 77 ? "yes" : "no");
	T(quorum_getquorate(h, &q), "");
	T(quorum_finalize(h), "");
	T(quorum_model_initialize(&h, QUORUM_MODEL_V1, NULL, &type, NULL), "type=%u", type);
}

TR_MAIN(walk, hold, nodaemon)
