/*
 * cpgprobe: one CPG client written against <corosync/cpg.h> only, for throughput and latency.
 * bench/cpg builds it once, linked to Debian's libcpg.so.4, and runs the same binary on quorumd
 * with quorumd's libcpg.so.4 first in LD_LIBRARY_PATH.
 *
 *   cpgprobe [-g GROUP] [-s SIZE] [-t SECONDS] [-r RATE] [-w MEMBERS] [-e SENDERS] [-S]
 *
 *   -g GROUP    the process group (default "cpgprobe")
 *   -s SIZE     bytes per message (>= 48), 0 = receive only (default 0)
 *   -t SECONDS  how long to send (default 5)
 *   -r RATE     messages per second, 0 = as fast as the library accepts (default 0)
 *   -w MEMBERS  wait until the group has this many members before sending (default 1)
 *   -e SENDERS  finish once this many senders have said they are done (default 1)
 *   -S          CPG_TYPE_SAFE instead of CPG_TYPE_AGREED
 *
 * Every message starts with a header: a magic number, the sender's node id and pid, a sequence
 * number per sender, CLOCK_REALTIME at the call to cpg_mcast_joined, and a kind (data or
 * done). Network namespaces do not virtualise that clock, so delivery on another node minus the
 * stamp is the multicast -> delivery latency. Every delivery is checked: per sender, sequence
 * numbers must follow each other (no loss, no duplicate, no reordering) and the payload bytes
 * must be the pattern the sender wrote.
 *
 * While it sends it also dispatches (CS_DISPATCH_ALL after every call); CS_ERR_TRY_AGAIN from
 * cpg_mcast_joined (back-pressure) waits for the fd to be readable for up to 1 ms, dispatches
 * and tries the same message again; the number of such answers is reported.
 *
 * Output, one line at the end (throughput counts data messages delivered here from every
 * sender, self included, between the first and the last one; latency counts only messages from
 * other nodes):
 *
 *   RESULT node=N size=S sent=M try_again=T recv=R recv_bytes=B seconds=X msgs_per_s=Y
 *          mb_per_s=Z lat_n=K lat_p50_us=P lat_p99_us=Q lat_max_us=W errors=E
 *
 * Exit status 0 when errors=0, 1 otherwise, 2 on a library error.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>

#define MAGIC 0x43504750u /* "CPGP" */
#define KIND_DATA 1u
#define KIND_DONE 2u
#define MAX_SENDERS 64

struct hdr {
	uint32_t magic;
	uint32_t kind;
	uint32_t nodeid;
	uint32_t pid;
	uint64_t seq;
	uint64_t stamp_ns;
	uint32_t size;
	uint32_t pad;
	uint64_t pad2;
};

struct sender {
	uint32_t nodeid, pid;
	uint64_t next_seq;
	int done;
};

static struct sender senders[MAX_SENDERS];
static int nsenders, senders_done, members;
static uint32_t local_nodeid;
static uint64_t recv_msgs, recv_bytes, first_ns, last_ns, errors;
static uint32_t *lat_us;
static size_t lat_n, lat_cap;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t pattern(uint64_t seq, size_t i)
{
	return (uint8_t)(seq * 31u + i);
}

static struct sender *sender_of(uint32_t nodeid, uint32_t pid)
{
	for (int i = 0; i < nsenders; i++)
		if (senders[i].nodeid == nodeid && senders[i].pid == pid)
			return &senders[i];
	if (nsenders == MAX_SENDERS)
		return NULL;
	senders[nsenders] = (struct sender){ .nodeid = nodeid, .pid = pid };
	return &senders[nsenders++];
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg,
		       size_t len)
{
	struct hdr hd;
	uint64_t t = now_ns();
	(void)h; (void)g;
	if (len < sizeof(hd)) {
		errors++;
		return;
	}
	memcpy(&hd, msg, sizeof(hd));
	if (hd.magic != MAGIC || hd.nodeid != nodeid || hd.pid != pid || hd.size != len) {
		fprintf(stderr, "bad message from %u/%u: len %zu\n", nodeid, pid, len);
		errors++;
		return;
	}
	struct sender *s = sender_of(nodeid, pid);
	if (!s) {
		errors++;
		return;
	}
	if (hd.seq != s->next_seq) {
		fprintf(stderr, "sender %u/%u: seq %" PRIu64 ", expected %" PRIu64 "\n", nodeid, pid, hd.seq,
			s->next_seq);
		errors++;
	}
	s->next_seq = hd.seq + 1;
	if (hd.kind == KIND_DONE) {
		if (!s->done)
			senders_done++;
		s->done = 1;
		return;
	}
	const uint8_t *p = msg;
	/* Checking every byte of 1 MiB messages would measure the probe: check both ends and a sample. */
	for (size_t i = sizeof(hd); i < len; i += (len > 4096 ? 509 : 1))
		if (p[i] != pattern(hd.seq, i)) {
			fprintf(stderr, "sender %u/%u seq %" PRIu64 ": byte %zu differs\n", nodeid, pid, hd.seq, i);
			errors++;
			break;
		}
	if (p[len - 1] != pattern(hd.seq, len - 1))
		errors++;
	if (!recv_msgs)
		first_ns = t;
	last_ns = t;
	recv_msgs++;
	recv_bytes += len;
	if (nodeid != local_nodeid) {
		if (lat_n == lat_cap) {
			lat_cap = lat_cap ? lat_cap * 2 : 65536;
			lat_us = realloc(lat_us, lat_cap * sizeof(*lat_us));
			if (!lat_us) {
				perror("realloc");
				exit(2);
			}
		}
		lat_us[lat_n++] = t > hd.stamp_ns ? (uint32_t)((t - hd.stamp_ns) / 1000u) : 0;
	}
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj)
{
	(void)h; (void)g; (void)m; (void)l; (void)j; (void)nj;
	members = (int)nm;
	for (size_t i = 0; i < nl; i++)
		if (l[i].reason != CPG_REASON_LEAVE)
			fprintf(stderr, "member %u/%u left, reason %u\n", l[i].nodeid, l[i].pid, l[i].reason);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void dispatch_or_die(cpg_handle_t h, cs_dispatch_flags_t how)
{
	cs_error_t rc = cpg_dispatch(h, how);
	if (rc != CS_OK && !(rc == CS_ERR_TRY_AGAIN && how == CS_DISPATCH_ONE_NONBLOCKING)) {
		fprintf(stderr, "cpg_dispatch: %d\n", rc);
		exit(2);
	}
}

static void wait_fd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	(void)poll(&p, 1, ms);
}

static uint64_t try_again;

static void send_one(cpg_handle_t h, int fd, cpg_guarantee_t g, uint8_t *buf, size_t size)
{
	/* Two iovecs: the header and the body, as a real sender gathers them. */
	struct iovec iov[2] = { { buf, sizeof(struct hdr) }, { buf + sizeof(struct hdr), size - sizeof(struct hdr) } };
	for (;;) {
		struct hdr *hd = (struct hdr *)buf;
		hd->stamp_ns = now_ns();
		cs_error_t rc = cpg_mcast_joined(h, g, iov, 2);
		if (rc == CS_OK)
			break;
		if (rc != CS_ERR_TRY_AGAIN) {
			fprintf(stderr, "cpg_mcast_joined: %d\n", rc);
			exit(2);
		}
		try_again++;
		wait_fd(fd, 1);
		dispatch_or_die(h, CS_DISPATCH_ALL);
	}
	dispatch_or_die(h, CS_DISPATCH_ALL);
}

int main(int argc, char **argv)
{
	const char *group = "cpgprobe";
	size_t size = 0;
	double seconds = 5, rate = 0;
	int want_members = 1, want_senders = 1, opt;
	cpg_guarantee_t guarantee = CPG_TYPE_AGREED;
	while ((opt = getopt(argc, argv, "g:s:t:r:w:e:S")) != -1) {
		switch (opt) {
		case 'g': group = optarg; break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'w': want_members = atoi(optarg); break;
		case 'e': want_senders = atoi(optarg); break;
		case 'S': guarantee = CPG_TYPE_SAFE; break;
		default: fprintf(stderr, "usage: see the comment at the top of bench/cpgprobe.c\n"); return 2;
		}
	}
	if (size && size < sizeof(struct hdr)) {
		fprintf(stderr, "size must be 0 or >= %zu\n", sizeof(struct hdr));
		return 2;
	}

	cpg_callbacks_t cb = { on_deliver, on_confchg };
	cpg_handle_t h;
	cs_error_t rc;
	/* The daemon may still be starting: retry for up to 30 s. */
	for (int i = 0; (rc = cpg_initialize(&h, &cb)) != CS_OK; i++) {
		if (i == 300) {
			fprintf(stderr, "cpg_initialize: %d\n", rc);
			return 2;
		}
		usleep(100000);
	}
	int fd;
	if (cpg_fd_get(h, &fd) != CS_OK || cpg_local_get(h, &local_nodeid) != CS_OK) {
		fprintf(stderr, "cpg_fd_get/cpg_local_get failed\n");
		return 2;
	}
	struct cpg_name name;
	name.length = (uint32_t)strlen(group);
	if (name.length > CPG_MAX_NAME_LENGTH) {
		fprintf(stderr, "group name too long\n");
		return 2;
	}
	memcpy(name.value, group, name.length);
	while ((rc = cpg_join(h, &name)) == CS_ERR_TRY_AGAIN)
		usleep(10000);
	if (rc != CS_OK) {
		fprintf(stderr, "cpg_join: %d\n", rc);
		return 2;
	}
	while (members < want_members)
		dispatch_or_die(h, CS_DISPATCH_ONE);
	printf("JOINED node=%u members=%d\n", local_nodeid, members);
	fflush(stdout);

	uint64_t sent = 0;
	if (size) {
		uint8_t *buf = malloc(size);
		if (!buf) {
			perror("malloc");
			return 2;
		}
		struct hdr *hd = (struct hdr *)buf;
		*hd = (struct hdr){ .magic = MAGIC, .kind = KIND_DATA, .nodeid = local_nodeid, .pid = (uint32_t)getpid(),
				    .size = (uint32_t)size };
		uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
		for (;;) {
			uint64_t t = now_ns();
			if (t >= end)
				break;
			if (rate > 0) {
				uint64_t due = start + (uint64_t)((double)sent * 1e9 / rate);
				if (t < due) {
					wait_fd(fd, (int)((due - t) / 1000000u));
					dispatch_or_die(h, CS_DISPATCH_ALL);
					continue;
				}
			}
			hd->seq = sent;
			for (size_t i = sizeof(*hd); i < size; i += (size > 4096 ? 509 : 1))
				buf[i] = pattern(sent, i);
			buf[size - 1] = pattern(sent, size - 1);
			send_one(h, fd, guarantee, buf, size);
			sent++;
		}
		hd->kind = KIND_DONE;
		hd->seq = sent;
		hd->size = sizeof(*hd);
		send_one(h, fd, guarantee, buf, sizeof(*hd));
		free(buf);
	}
	/* Wait for every sender's "done" (at most 60 s after our own sending ended). */
	uint64_t give_up = now_ns() + 60ull * 1000000000u;
	while (senders_done < want_senders && now_ns() < give_up) {
		wait_fd(fd, 100);
		dispatch_or_die(h, CS_DISPATCH_ALL);
	}
	if (senders_done < want_senders) {
		fprintf(stderr, "only %d of %d senders finished\n", senders_done, want_senders);
		errors++;
	}
	qsort(lat_us, lat_n, sizeof(*lat_us), cmp_u32);
	double secs = recv_msgs > 1 ? (double)(last_ns - first_ns) / 1e9 : 0;
	printf("RESULT node=%u size=%zu sent=%" PRIu64 " try_again=%" PRIu64 " recv=%" PRIu64 " recv_bytes=%" PRIu64
	       " seconds=%.3f msgs_per_s=%.0f mb_per_s=%.2f lat_n=%zu lat_p50_us=%u lat_p99_us=%u lat_max_us=%u errors=%" PRIu64
	       "\n",
	       local_nodeid, size, sent, try_again, recv_msgs, recv_bytes, secs, secs > 0 ? (double)recv_msgs / secs : 0,
	       secs > 0 ? (double)recv_bytes / secs / 1e6 : 0, lat_n, lat_n ? lat_us[lat_n / 2] : 0,
	       lat_n ? lat_us[lat_n * 99 / 100] : 0, lat_n ? lat_us[lat_n - 1] : 0, errors);
	fflush(stdout);
	cpg_leave(h, &name);
	cpg_finalize(h);
	return errors ? 1 : 0;
}
