/*
 * The transcript helpers shared by tests/abi/transcript/<service>.c: each program walks every
 * call of one Corosync client library and prints one line per call,
 *
 *     <the call as written> -> <cs_error_t name> [values returned, when CS_OK]
 *
 * with everything that legitimately differs between two runs or two implementations printed
 * as a placeholder: handles are never printed, ring ids print as RING, pids as SELF / CHILD /
 * PID, times not at all. Node ids and addresses are printed as they are: both clusters use
 * the same node ids and addresses (bench/cluster). Callbacks print indented lines ("  cb ...")
 * when dispatch runs them.
 *
 * Every program takes one argument, the phase:
 *   walk      every call on a live, quorate three-node cluster (run on node 1)
 *   hold      opens a session, prints "READY" on stderr, then waits for the daemon to be
 *             killed (by the caller) and prints what the fd and the next calls say
 *   nodaemon  initialize with no daemon running
 * Built against Debian's headers and linked to Debian's libraries; bench/abi runs the same
 * binary on Corosync 3.1.7 and on quorumd (our libraries first in LD_LIBRARY_PATH).
 */
#ifndef TR_H
#define TR_H
#define _GNU_SOURCE
#include <corosync/corotypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static cs_error_t tr_rc;
static pid_t tr_child;

static const char *tr_name(cs_error_t rc)
{
	static char other[32];
	switch (rc) {
	case CS_OK: return "CS_OK";
	case CS_ERR_LIBRARY: return "CS_ERR_LIBRARY";
	case CS_ERR_VERSION: return "CS_ERR_VERSION";
	case CS_ERR_INIT: return "CS_ERR_INIT";
	case CS_ERR_TIMEOUT: return "CS_ERR_TIMEOUT";
	case CS_ERR_TRY_AGAIN: return "CS_ERR_TRY_AGAIN";
	case CS_ERR_INVALID_PARAM: return "CS_ERR_INVALID_PARAM";
	case CS_ERR_NO_MEMORY: return "CS_ERR_NO_MEMORY";
	case CS_ERR_BAD_HANDLE: return "CS_ERR_BAD_HANDLE";
	case CS_ERR_BUSY: return "CS_ERR_BUSY";
	case CS_ERR_ACCESS: return "CS_ERR_ACCESS";
	case CS_ERR_NOT_EXIST: return "CS_ERR_NOT_EXIST";
	case CS_ERR_NAME_TOO_LONG: return "CS_ERR_NAME_TOO_LONG";
	case CS_ERR_EXIST: return "CS_ERR_EXIST";
	case CS_ERR_NO_SPACE: return "CS_ERR_NO_SPACE";
	case CS_ERR_INTERRUPT: return "CS_ERR_INTERRUPT";
	case CS_ERR_NAME_NOT_FOUND: return "CS_ERR_NAME_NOT_FOUND";
	case CS_ERR_NO_RESOURCES: return "CS_ERR_NO_RESOURCES";
	case CS_ERR_NOT_SUPPORTED: return "CS_ERR_NOT_SUPPORTED";
	case CS_ERR_BAD_OPERATION: return "CS_ERR_BAD_OPERATION";
	case CS_ERR_FAILED_OPERATION: return "CS_ERR_FAILED_OPERATION";
	case CS_ERR_MESSAGE_ERROR: return "CS_ERR_MESSAGE_ERROR";
	case CS_ERR_QUEUE_FULL: return "CS_ERR_QUEUE_FULL";
	case CS_ERR_QUEUE_NOT_AVAILABLE: return "CS_ERR_QUEUE_NOT_AVAILABLE";
	case CS_ERR_BAD_FLAGS: return "CS_ERR_BAD_FLAGS";
	case CS_ERR_TOO_BIG: return "CS_ERR_TOO_BIG";
	case CS_ERR_NO_SECTIONS: return "CS_ERR_NO_SECTIONS";
	case CS_ERR_CONTEXT_NOT_FOUND: return "CS_ERR_CONTEXT_NOT_FOUND";
	case CS_ERR_TOO_MANY_GROUPS: return "CS_ERR_TOO_MANY_GROUPS";
	case CS_ERR_SECURITY: return "CS_ERR_SECURITY";
	default:
		snprintf(other, sizeof(other), "cs_error_t(%d)", (int)rc);
		return other;
	}
}

/* The values returned, printed after the code (only when the call succeeded). */
static void tr_vals(const char *fmt, ...)
{
	va_list ap;
	if (!fmt[0])
		return;
	putchar(' ');
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* T(call, fmt, values...): one transcript line. The values are read after the call. */
#define T(call, ...) do { \
	tr_rc = (call); \
	printf("%s -> %s", #call, tr_name(tr_rc)); \
	if (tr_rc == CS_OK) \
		tr_vals(__VA_ARGS__); \
	putchar('\n'); \
} while (0)

/* A line of its own (a step that is not a library call, or a callback). */
#define SAY(...) do { printf(__VA_ARGS__); putchar('\n'); } while (0)

static inline const char *tr_pid(uint32_t pid)
{
	if (pid == (uint32_t)getpid())
		return "SELF";
	if (tr_child != 0 && pid == (uint32_t)tr_child)
		return "CHILD";
	return "PID";
}

/* poll's answer on fd within ms, as names. */
static inline const char *tr_poll(int fd, int ms)
{
	static char buf[64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, ms);
	buf[0] = 0;
	if (n <= 0)
		return "timeout";
	if (p.revents & POLLIN)
		strcat(buf, "POLLIN|");
	if (p.revents & POLLHUP)
		strcat(buf, "POLLHUP|");
	if (p.revents & POLLERR)
		strcat(buf, "POLLERR|");
	if (p.revents & POLLNVAL)
		strcat(buf, "POLLNVAL|");
	if (buf[0])
		buf[strlen(buf) - 1] = 0;
	return buf;
}

static inline int tr_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

/*
 * Dispatch until quiet: wait up to first_ms for the fd to become readable, then dispatch
 * (CS_DISPATCH_ALL) and keep dispatching while more arrives within quiet_ms. One transcript
 * line whatever the number of dispatch calls (their rhythm is timing, not behaviour); the
 * callbacks print their own lines.
 */
#define PUMP(dispatch_all, fd, first_ms, quiet_ms) do { \
	cs_error_t prc_ = CS_OK; \
	if (tr_readable((fd), (first_ms))) { \
		do { \
			prc_ = (dispatch_all); \
		} while (prc_ == CS_OK && tr_readable((fd), (quiet_ms))); \
	} \
	printf("%s (until quiet) -> %s\n", #dispatch_all, tr_name(prc_)); \
} while (0)

static const char *tr_phase(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || (strcmp(argv[1], "walk") && strcmp(argv[1], "hold") && strcmp(argv[1], "nodaemon"))) {
		fprintf(stderr, "usage: %s walk|hold|nodaemon\n", argv[0]);
		exit(2);
	}
	return argv[1];
}

/* Every program's main: the phase its one argument names (walk, hold or nodaemon). */
#define TR_MAIN(walk_fn, hold_fn, nodaemon_fn) \
int main(int argc, char **argv) \
{ \
	const char *phase = tr_phase(argc, argv); \
	if (!strcmp(phase, "walk")) \
		walk_fn(); \
	else if (!strcmp(phase, "hold")) \
		hold_fn(); \
	else \
		nodaemon_fn(); \
	return 0; \
}

/* hold: tell the caller the session is open, then wait for the daemon to go. */
static inline void tr_ready(void)
{
	fflush(stdout);
	fprintf(stderr, "READY\n");
	fflush(stderr);
}

static inline void tr_list(const char *what, const uint32_t *v, size_t n)
{
	printf(" %s=[", what);
	for (size_t i = 0; i < n; i++)
		printf(i ? ",%u" : "%u", v[i]);
	printf("]");
}

#endif
