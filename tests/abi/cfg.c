/*
 * libcfg conformance: built against the system's <corosync/cfg.h> (Debian's libcfg-dev), linked
 * to quorumd's libcfg.so.7, run against a real quorumd (node 1 of a two-node nodelist, alone).
 * Walks every call and the shutdown protocol with two trackers in child processes; exits 1
 * if any check failed.
 *
 * Environment: QUORUMD_SOCKET, CFG_TEST_DAEMON_PID, CFG_TEST_NO_DAEMON, CFG_TEST_CONFIG.
 */
#define _GNU_SOURCE
#include <corosync/cfg.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok: "); } else { printf("FAILED (line %d): ", __LINE__); failures++; } \
	printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
} while (0)
#define CHECK_RC(call, want) do { cs_error_t rc_ = (call); \
	CHECK(rc_ == (want), "%s -> %d (want %d)", #call, (int)rc_, (int)(want)); } while (0)

static corosync_cfg_shutdown_reply_flags_t answer;
static int asked;
static corosync_cfg_shutdown_flags_t asked_flags;

static void shutdown_cb(corosync_cfg_handle_t h, corosync_cfg_shutdown_flags_t flags)
{
	asked++;
	asked_flags = flags;
	corosync_cfg_replyto_shutdown(h, answer);
}

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) > 0 ? p.revents : 0;
}

/*
 * A tracker in a child: trackstart, tell the parent (pipe), then answer one shutdown request
 * with `reply` (or never, with -1 = stay silent; -2 = exit without answering). Exits 0 if it
 * was asked with `want_flags`.
 */
static pid_t tracker(int reply, int want_flags, int *ready_fd)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		corosync_cfg_handle_t h;
		corosync_cfg_callbacks_t cb = { shutdown_cb };
		int fd;
		close(p[0]);
		answer = reply == 1 ? COROSYNC_CFG_SHUTDOWN_FLAG_YES : COROSYNC_CFG_SHUTDOWN_FLAG_NO;
		if (corosync_cfg_initialize(&h, reply < 0 ? NULL : &cb) != CS_OK ||
		    corosync_cfg_trackstart(h, 0) != CS_OK || corosync_cfg_fd_get(h, &fd) != CS_OK)
			_exit(10);
		if (write(p[1], "r", 1) != 1)
			_exit(11);
		if (!(readable(fd, 5000) & POLLIN))
			_exit(12);
		if (reply == -2)
			_exit(0);
		if (reply == -1) {
			sleep(7);
			_exit(0);
		}
		if (corosync_cfg_dispatch(h, CS_DISPATCH_ONE) != CS_OK)
			_exit(13);
		_exit(asked == 1 && (int)asked_flags == want_flags ? 0 : 14);
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

static void wait_ready(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		printf("tracker did not start\n");
	close(fd);
}

static int child_status(pid_t pid)
{
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	if (f && buf && fread(buf, 1, 65535, f) == 0)
		buf[0] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static int spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int node_addr_count(corosync_cfg_handle_t h, unsigned int nodeid, cs_error_t *rc)
{
	corosync_cfg_node_address_t addrs[4];
	int n = -1;
	*rc = corosync_cfg_get_node_addrs(h, nodeid, 4, &n, addrs);
	return n;
}

/*
 * reload_config: the file as started (OK); node 3 added to the file (OK, and cfg serves its
 * address at once); a file with a syntax error (INVALID_PARAM, nothing changed); the file as
 * started again (OK, node 3 gone). CFG_TEST_CONFIG is the daemon's corosync.conf.
 */
static void reload_checks(corosync_cfg_handle_t h)
{
	const char *conf = getenv("CFG_TEST_CONFIG");
	cs_error_t rc;
	int n;

	CHECK_RC(corosync_cfg_reload_config(h), CS_OK);
	CHECK(conf != NULL, "CFG_TEST_CONFIG names the daemon's configuration file");
	if (!conf)
		return;
	char *orig = slurp(conf);
	char *grown = calloc(1, 70000);
	char *cut = orig ? strstr(orig, "}\nquorum") : NULL;
	CHECK(cut != NULL && grown != NULL, "the nodelist's end found in %s", conf);
	if (!cut || !grown)
		return;
	memcpy(grown, orig, (size_t)(cut - orig));
	strcat(grown, "  node {\n    nodeid: 3\n    ring0_addr: 127.0.0.3\n  }\n");
	strcat(grown, cut);

	n = node_addr_count(h, 3, &rc);
	CHECK(rc == CS_ERR_NOT_EXIST, "node 3 not configured yet (%d)", (int)rc);
	CHECK(spit(conf, grown) == 0, "node 3 written into the file");
	CHECK_RC(corosync_cfg_reload_config(h), CS_OK);
	n = node_addr_count(h, 3, &rc);
	CHECK(rc == CS_OK && n == 1, "after the reload node 3 has its address (%d, %d)", (int)rc, n);

	CHECK(spit(conf, "totem {\n  version: 2\n") == 0, "a broken file written");
	CHECK_RC(corosync_cfg_reload_config(h), CS_ERR_INVALID_PARAM);
	n = node_addr_count(h, 3, &rc);
	CHECK(rc == CS_OK && n == 1, "a refused reload changed nothing (%d, %d)", (int)rc, n);

	CHECK(spit(conf, orig) == 0, "the file as started written back");
	CHECK_RC(corosync_cfg_reload_config(h), CS_OK);
	n = node_addr_count(h, 3, &rc);
	CHECK(rc == CS_ERR_NOT_EXIST, "node 3 gone again (%d)", (int)rc);
	free(orig);
	free(grown);
}

int main(void)
{
	corosync_cfg_handle_t h;
	corosync_cfg_callbacks_t cb = { shutdown_cb };
	unsigned int local = 0;
	int fd = -1, rfd;
	const char *sock = getenv("QUORUMD_SOCKET");
	const char *dpid = getenv("CFG_TEST_DAEMON_PID");

	setenv("QUORUMD_SOCKET", getenv("CFG_TEST_NO_DAEMON"), 1);
	CHECK_RC(corosync_cfg_initialize(&h, &cb), CS_ERR_LIBRARY);
	setenv("QUORUMD_SOCKET", sock, 1);
	CHECK_RC(corosync_cfg_local_get(0x5151515100000002ULL, &local), CS_ERR_BAD_HANDLE);

	CHECK_RC(corosync_cfg_initialize(&h, &cb), CS_OK);
	CHECK_RC(corosync_cfg_fd_get(h, &fd), CS_OK);
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
		CHECK(rc == 0 && cred.uid == 0 && cred.gid == 0 && (!dpid || cred.pid == atoi(dpid)),
		      "SO_PEERCRED on corosync_cfg_fd_get's fd: the daemon as root");
	}
	CHECK_RC(corosync_cfg_local_get(h, &local), CS_OK);
	CHECK(local == 1, "local node id 1 (%u)", local);

	/* Node addresses: real sockaddrs. */
	{
		corosync_cfg_node_address_t addrs[4];
		int n = -1;
		struct sockaddr_in *sin = (struct sockaddr_in *)addrs[0].address;
		CHECK_RC(corosync_cfg_get_node_addrs(h, 0, 4, &n, addrs), CS_OK);
		CHECK(n == 1 && sin->sin_family == AF_INET && sin->sin_addr.s_addr == htonl(0x7f000001) &&
		      addrs[0].address_length == sizeof(struct sockaddr_in), "node 0 (us): AF_INET 127.0.0.1");
		CHECK_RC(corosync_cfg_get_node_addrs(h, 2, 4, &n, addrs), CS_OK);
		CHECK(n == 1 && sin->sin_addr.s_addr == htonl(0x7f000002), "node 2: 127.0.0.2");
		CHECK_RC(corosync_cfg_get_node_addrs(h, 9, 4, &n, addrs), CS_ERR_NOT_EXIST);
		CHECK_RC(corosync_cfg_get_node_addrs(h, 2, 0, &n, addrs), CS_OK);
		CHECK(n == 1, "max_addrs 0: num_addrs still says how many the node has (%d)", n);
	}
	/* Node status, link 0. */
	{
		struct corosync_cfg_node_status_v1 st;
		memset(&st, 0xee, sizeof(st));
		CHECK_RC(corosync_cfg_node_status_get(h, 1, CFG_NODE_STATUS_V1, &st), CS_OK);
		CHECK(st.nodeid == 1 && st.reachable == 1 && st.remote == 0 && st.link_status[0].enabled == 1 &&
		      st.link_status[0].connected == 1 && strcmp(st.link_status[0].src_ipaddr, "127.0.0.1") == 0 &&
		      st.link_status[1].enabled == 0, "node 1: reachable, link 0 up");
		CHECK_RC(corosync_cfg_node_status_get(h, 2, CFG_NODE_STATUS_V1, &st), CS_OK);
		CHECK(st.nodeid == 2 && st.reachable == 0 && st.remote == 0 && st.link_status[0].connected == 0 &&
		      strcmp(st.link_status[0].dst_ipaddr, "127.0.0.2") == 0, "node 2: configured, not reachable");
		CHECK_RC(corosync_cfg_node_status_get(h, 9, CFG_NODE_STATUS_V1, &st), CS_ERR_FAILED_OPERATION);
		CHECK_RC(corosync_cfg_node_status_get(h, 1, (corosync_cfg_node_status_version_t)2, &st),
			 CS_ERR_INVALID_PARAM);
	}
	{
		char **names = NULL, **status = NULL;
		unsigned int count = 0;
		CHECK_RC(corosync_cfg_ring_status_get(h, &names, &status, &count), CS_OK);
		/* As Corosync with knet: "<link> <address>", one status character per configured node
		 * in node id order ('n' this node, '1' enabled, '3' enabled and connected). */
		CHECK(count == 1 && names && status && strcmp(names[0], "0 127.0.0.1") == 0 &&
		      strcmp(status[0], "n1") == 0, "one link: '%s' '%s'", count ? names[0] : "", count ? status[0] : "");
		for (unsigned int i = 0; i < count; i++) {
			free(names[i]);
			free(status[i]);
		}
		free(names);
		free(status);
	}
	CHECK_RC(corosync_cfg_kill_node(h, 2, "test"), CS_ERR_NOT_EXIST);
	CHECK_RC(corosync_cfg_kill_node(h, 9, "test"), CS_ERR_NOT_EXIST);
	reload_checks(h);
	CHECK_RC(corosync_cfg_reopen_log_files(h), CS_OK);
	/* As Corosync's library: the daemon's refusal (no shutdown asking) is not returned. */
	CHECK_RC(corosync_cfg_replyto_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_YES), CS_OK);
	CHECK_RC(corosync_cfg_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), CS_ERR_TRY_AGAIN);
	CHECK_RC(corosync_cfg_dispatch(h, (cs_dispatch_flags_t)0), CS_ERR_INVALID_PARAM);
	CHECK_RC(corosync_cfg_trackstart(h, 0), CS_OK);
	CHECK_RC(corosync_cfg_trackstop(h), CS_OK);

	/* The shutdown protocol. A tracker saying NO: BUSY. */
	{
		pid_t t = tracker(0, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST, &rfd);
		wait_ready(rfd);
		CHECK_RC(corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST), CS_ERR_BUSY);
		CHECK(child_status(t) == 0, "the tracker was asked with REQUEST and said NO");
	}
	/* A silent tracker: BUSY after cfg.shutdown_timeout (5 s by default). */
	{
		pid_t t = tracker(-1, 0, &rfd);
		wait_ready(rfd);
		double t0 = now_s();
		CHECK_RC(corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST), CS_ERR_BUSY);
		double took = now_s() - t0;
		CHECK(took > 4.5 && took < 8.0, "refused after the 5 s timeout (%.2f s)", took);
		child_status(t);
	}
	/* A tracker that goes away without answering counts as YES; with another saying NO:
	 * still BUSY. Then REGARDLESS with a NO: OK... which shuts the daemon down, so last. */
	{
		pid_t gone = tracker(-2, 0, &rfd);
		wait_ready(rfd);
		pid_t no = tracker(0, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST, &rfd);
		wait_ready(rfd);
		CHECK_RC(corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST), CS_ERR_BUSY);
		child_status(gone);
		CHECK(child_status(no) == 0, "the NO tracker was asked");
	}
	{
		pid_t gone = tracker(-2, 0, &rfd);
		wait_ready(rfd);
		double t0 = now_s();
		CHECK_RC(corosync_cfg_try_shutdown(h, COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST), CS_OK);
		CHECK(now_s() - t0 < 4.0, "a tracker that disconnects counts as YES: OK before the timeout");
		child_status(gone);
	}
	/* The daemon is leaving: our event socket hangs up, calls fail with LIBRARY. */
	CHECK(readable(fd, 5000) & POLLHUP, "POLLHUP once the daemon shut down");
	CHECK_RC(corosync_cfg_local_get(h, &local), CS_ERR_LIBRARY);
	CHECK_RC(corosync_cfg_finalize(h), CS_OK);
	CHECK_RC(corosync_cfg_finalize(h), CS_ERR_BAD_HANDLE);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
