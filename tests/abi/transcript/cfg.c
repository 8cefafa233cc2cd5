/*
 * libcfg.so.7 transcript (see tr.h): every call of <corosync/cfg.h> that leaves the cluster
 * running, error paths included, and a shutdown request refused by a tracker, on node 1 of a
 * quorate three-node cluster; then a session across the daemon's death (hold) and initialize
 * with no daemon (nodaemon).
 */
#include "tr.h"
#include <arpa/inet.h>
#include <corosync/cfg.h>
#include <netinet/in.h>

#define BAD 0x5151515100000002ULL

static corosync_cfg_shutdown_reply_flags_t answer = COROSYNC_CFG_SHUTDOWN_FLAG_NO;

static void shutdown_cb(corosync_cfg_handle_t h, corosync_cfg_shutdown_flags_t flags)
{
	printf("  cb corosync_cfg_shutdown_callback flags=%d\n", (int)flags);
	T(corosync_cfg_replyto_shutdown(h, answer), "");
}

static void addrs(corosync_cfg_handle_t h, unsigned int nodeid)
{
	corosync_cfg_node_address_t a[4];
	int n = -1;
	memset(a, 0, sizeof(a));
	SAY("# node %u", nodeid);
	T(corosync_cfg_get_node_addrs(h, nodeid, 4, &n, a), "n=%d", n);
	for (int i = 0; tr_rc == CS_OK && i < n && i < 4; i++) {
		char s[INET6_ADDRSTRLEN] = "?";
		struct sockaddr_in *sin = (struct sockaddr_in *)a[i].address;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a[i].address;
		if (sin->sin_family == AF_INET)
			inet_ntop(AF_INET, &sin->sin_addr, s, sizeof(s));
		else if (sin->sin_family == AF_INET6)
			inet_ntop(AF_INET6, &sin6->sin6_addr, s, sizeof(s));
		SAY("  addr[%d] family=%s length=%d %s port=%u", i, sin->sin_family == AF_INET ? "AF_INET" :
		    sin->sin_family == AF_INET6 ? "AF_INET6" : "?", a[i].address_length, s, ntohs(sin->sin_port));
	}
}

static void status(corosync_cfg_handle_t h, unsigned int nodeid)
{
	struct corosync_cfg_node_status_v1 st;
	memset(&st, 0xee, sizeof(st));
	SAY("# node %u", nodeid);
	T(corosync_cfg_node_status_get(h, nodeid, CFG_NODE_STATUS_V1, &st),
	  "version=%d nodeid=%u reachable=%u remote=%u external=%u onwire_min=%u onwire_max=%u onwire_ver=%u",
	  (int)st.version, st.nodeid, st.reachable, st.remote, st.external, st.onwire_min, st.onwire_max,
	  st.onwire_ver);
	for (int l = 0; tr_rc == CS_OK && l < CFG_MAX_LINKS; l++) {
		struct corosync_knet_link_status_v1 *k = &st.link_status[l];
		if (l > 0 && !k->enabled && !k->connected && !k->src_ipaddr[0] && !k->dst_ipaddr[0])
			continue;
		SAY("  link %d enabled=%u connected=%u dynconnected=%u mtu=%u src='%.*s' dst='%.*s'", l, k->enabled,
		    k->connected, k->dynconnected, k->mtu, CFG_MAX_HOST_LEN, k->src_ipaddr, CFG_MAX_HOST_LEN,
		    k->dst_ipaddr);
	}
}

/* A tracker in a child process answering one shutdown request with `reply`. */
static pid_t tracker(corosync_cfg_shutdown_reply_flags_t reply)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		corosync_cfg_handle_t h;
		corosync_cfg_callbacks_t cb = { shutdown_cb };
		int fd;
		char c = 'r';
		close(p[0]);
		answer = reply;
		if (corosync_cfg_initialize(&h, &cb) != CS_OK || corosync_cfg_trackstart(h, 0) != CS_OK ||
		    corosync_cfg_fd_get(h, &fd) != CS_OK)
			c = 'x';
		if (write(p[1], &c, 1) != 1)
			_exit(11);
		printf("  [tracker] fd: %s\n", tr_poll(fd, 10000));
		T(corosync_cfg_dispatch(h, CS_DISPATCH_ONE), "");
		T(corosync_cfg_finalize(h), "");
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	char c = 0;
	if (read(p[0], &c, 1) != 1 || c != 'r')
		SAY("the tracker did not start");
	close(p[0]);
	return pid;
}

static void walk(void)
{
	corosync_cfg_handle_t h, h2;
	corosync_cfg_callbacks_t cb = { shutdown_cb };
	unsigned int local = 0;
	int fd = -1;
	char **names = NULL, **stat = NULL;
	unsigned int count = 0;

	SAY("# a handle never given out");
	T(corosync_cfg_local_get(BAD, &local), "");
	T(corosync_cfg_fd_get(BAD, &fd), "");
	T(corosync_cfg_dispatch(BAD, CS_DISPATCH_ALL), "");
	T(corosync_cfg_ring_status_get(BAD, &names, &stat, &count), "");
	T(corosync_cfg_trackstart(BAD, 0), "");
	T(corosync_cfg_trackstop(BAD), "");
	T(corosync_cfg_reload_config(BAD), "");
	T(corosync_cfg_kill_node(BAD, 9, "test"), "");
	T(corosync_cfg_try_shutdown(BAD, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST), "");
	T(corosync_cfg_replyto_shutdown(BAD, COROSYNC_CFG_SHUTDOWN_FLAG_YES), "");
	T(corosync_cfg_finalize(BAD), "");

	T(corosync_cfg_initialize(&h, &cb), "");
	T(corosync_cfg_fd_get(h, &fd), "fd=%s", fd >= 0 ? "FD" : "-1");
	T(corosync_cfg_local_get(h, &local), "nodeid=%u", local);

	SAY("# node addresses");
	addrs(h, 0);
	addrs(h, 1);
	addrs(h, 2);
	addrs(h, 3);
	addrs(h, 9);
	{
		corosync_cfg_node_address_t a[1];
		int n = -1;
		T(corosync_cfg_get_node_addrs(h, 2, 0, &n, a), "n=%d", n);
	}

	SAY("# node status");
	status(h, 0);
	status(h, 1);
	status(h, 2);
	status(h, 3);
	status(h, 9);
	{
		struct corosync_cfg_node_status_v1 st;
		T(corosync_cfg_node_status_get(h, 1, (corosync_cfg_node_status_version_t)2, &st), "");
	}
	T(corosync_cfg_ring_status_get(h, &names, &stat, &count), "count=%u", count);
	for (unsigned int i = 0; tr_rc == CS_OK && i < count; i++) {
		SAY("  interface[%u] name='%s' status='%s'", i, names[i], stat[i]);
		free(names[i]);
		free(stat[i]);
	}
	if (tr_rc == CS_OK) {
		free(names);
		free(stat);
	}

	SAY("# kill_node of nodes not in the membership, reload, logs");
	T(corosync_cfg_kill_node(h, 9, "test"), "");
	T(corosync_cfg_kill_node(h, 0, "test"), "");
	T(corosync_cfg_reload_config(h), "");
	T(corosync_cfg_reopen_log_files(h), "");

	SAY("# dispatch and tracking");
	T(corosync_cfg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(corosync_cfg_dispatch(h, CS_DISPATCH_ALL), "");
	/* An unknown dispatch flag is not walked: Corosync's library waits for ever (a listed deviation). */
	T(corosync_cfg_replyto_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_YES), "");
	T(corosync_cfg_trackstart(h, 0), "");
	T(corosync_cfg_trackstart(h, 0), "");
	T(corosync_cfg_trackstop(h), "");
	T(corosync_cfg_trackstop(h), "");
	SAY("fd: %s", tr_poll(fd, 0));

	SAY("# a shutdown request refused by a tracker");
	tr_child = tracker(COROSYNC_CFG_SHUTDOWN_FLAG_NO);
	{
		/* The tracker's lines first (it prints while this call waits), then the answer. */
		cs_error_t rc = corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST);
		waitpid(tr_child, NULL, 0);
		SAY("corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST) -> %s", tr_name(rc));
	}
	T(corosync_cfg_replyto_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_YES), "");

	SAY("# a session without callbacks");
	T(corosync_cfg_initialize(&h2, NULL), "");
	T(corosync_cfg_local_get(h2, &local), "nodeid=%u", local);
	T(corosync_cfg_finalize(h2), "");

	T(corosync_cfg_finalize(h), "");
	SAY("# the finalized handle");
	T(corosync_cfg_finalize(h), "");
	T(corosync_cfg_local_get(h, &local), "");
	T(corosync_cfg_dispatch(h, CS_DISPATCH_ALL), "");
}

static void hold(void)
{
	corosync_cfg_handle_t h;
	corosync_cfg_callbacks_t cb = { shutdown_cb };
	unsigned int local = 0;
	int fd = -1;
	char **names = NULL, **stat = NULL;
	unsigned int count = 0;

	T(corosync_cfg_initialize(&h, &cb), "");
	T(corosync_cfg_fd_get(h, &fd), "");
	T(corosync_cfg_trackstart(h, 0), "");
	T(corosync_cfg_local_get(h, &local), "nodeid=%u", local);
	tr_ready();
	SAY("# the daemon is killed");
	SAY("fd: %s", tr_poll(fd, 10000));
	T(corosync_cfg_dispatch(h, CS_DISPATCH_ALL), "");
	T(corosync_cfg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(corosync_cfg_local_get(h, &local), "");
	T(corosync_cfg_ring_status_get(h, &names, &stat, &count), "");
	T(corosync_cfg_trackstop(h), "");
	T(corosync_cfg_finalize(h), "");
	T(corosync_cfg_finalize(h), "");
}

static void nodaemon(void)
{
	corosync_cfg_handle_t h = 0;
	corosync_cfg_callbacks_t cb = { shutdown_cb };
	unsigned int local;

	T(corosync_cfg_initialize(&h, &cb), "");
	T(corosync_cfg_local_get(h, &local), "");
	T(corosync_cfg_finalize(h), "");
}

TR_MAIN(walk, hold, nodaemon)
