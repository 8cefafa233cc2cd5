/*
 * libcmap.so.4 transcript (see tr.h): every call of <corosync/cmap.h>, error paths included
 * (bad handle, missing key, wrong type, bad names, read-only keys), on node 1 of a quorate
 * three-node cluster; then a session across the daemon's death (hold) and initialize with no
 * daemon (nodaemon).
 */
#include "tr.h"
#include <corosync/cmap.h>

#define BAD 0x1234567800000005ULL

static const char *type_name(cmap_value_types_t t)
{
	static const char *names[] = { "0", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64",
				       "UINT64", "FLOAT", "DOUBLE", "STRING", "BINARY" };
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* A value as cmapctl would show it, from its type. */
static const char *value_str(const void *data, size_t len, cmap_value_types_t type)
{
	static char buf[600];
	union { int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32; int64_t i64;
		uint64_t u64; float f; double d; } v;
	memset(&v, 0, sizeof(v));
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	switch (type) {
	case CMAP_VALUETYPE_INT8: snprintf(buf, sizeof(buf), "%d", v.i8); break;
	case CMAP_VALUETYPE_UINT8: snprintf(buf, sizeof(buf), "%u", v.u8); break;
	case CMAP_VALUETYPE_INT16: snprintf(buf, sizeof(buf), "%d", v.i16); break;
	case CMAP_VALUETYPE_UINT16: snprintf(buf, sizeof(buf), "%u", v.u16); break;
	case CMAP_VALUETYPE_INT32: snprintf(buf, sizeof(buf), "%d", v.i32); break;
	case CMAP_VALUETYPE_UINT32: snprintf(buf, sizeof(buf), "%u", v.u32); break;
	case CMAP_VALUETYPE_INT64: snprintf(buf, sizeof(buf), "%lld", (long long)v.i64); break;
	case CMAP_VALUETYPE_UINT64: snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v.u64); break;
	case CMAP_VALUETYPE_FLOAT: snprintf(buf, sizeof(buf), "%g", v.f); break;
	case CMAP_VALUETYPE_DOUBLE: snprintf(buf, sizeof(buf), "%g", v.d); break;
	case CMAP_VALUETYPE_STRING: snprintf(buf, sizeof(buf), "'%.*s'", (int)(len > 500 ? 500 : len), (const char *)data); break;
	default: {
		size_t o = 0;
		for (size_t i = 0; i < len && o + 3 < sizeof(buf); i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%02x", ((const unsigned char *)data)[i]);
		buf[o] = 0;
	}
	}
	return buf;
}

static void notify(cmap_handle_t h, cmap_track_handle_t t, int32_t event, const char *key,
		   struct cmap_notify_value nv, struct cmap_notify_value ov, void *user_data)
{
	(void)h; (void)t;
	printf("  cb cmap_notify_fn event=%s key=%s new=%s:%zu:", event == CMAP_TRACK_ADD ? "ADD" :
	       event == CMAP_TRACK_DELETE ? "DELETE" : event == CMAP_TRACK_MODIFY ? "MODIFY" : "?", key,
	       type_name(nv.type), nv.len);
	printf("%s old=%s:%zu:", nv.len ? value_str(nv.data, nv.len, nv.type) : "", type_name(ov.type), ov.len);
	printf("%s user_data=%s\n", ov.len ? value_str(ov.data, ov.len, ov.type) : "", user_data ? "set" : "NULL");
}

/* Every key under prefix, in the order the iterator gives them, with type and length. */
static void iterate(cmap_handle_t h, const char *prefix, int values)
{
	cmap_iter_handle_t it;
	char key[CMAP_KEYNAME_MAXLEN + 1];
	size_t len;
	cmap_value_types_t type;
	cs_error_t rc;
	int n = 0;

	T(cmap_iter_init(h, prefix, &it), "");
	if (tr_rc != CS_OK)
		return;
	while ((rc = cmap_iter_next(h, it, key, &len, &type)) == CS_OK) {
		n++;
		if (!values) {
			continue;
		}
		char buf[512];
		size_t blen = sizeof(buf);
		cmap_value_types_t t2;
		printf("  %s %s len=%zu", key, type_name(type), len);
		if (cmap_get(h, key, buf, &blen, &t2) == CS_OK)
			printf(" = %s", value_str(buf, blen, t2));
		printf("\n");
	}
	SAY("cmap_iter_next(h, it, key, &len, &type) -> %s after %s keys", tr_name(rc), values ? "these" : "the");
	T(cmap_iter_finalize(h, it), "");
	T(cmap_iter_next(h, it, key, &len, &type), "");
	T(cmap_iter_finalize(h, it), "");
	(void)n;
}

static void walk(void)
{
	cmap_handle_t h, hs, h2;
	int fd = -1;
	const void *ctx = NULL;
	static int marker, ud;
	char *str = NULL;
	int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
	int64_t i64; uint64_t u64; float f; double d;
	char buf[64];
	size_t len;
	cmap_value_types_t type;
	cmap_iter_handle_t it;
	cmap_track_handle_t tp, te, tx;

	SAY("# a handle never given out");
	T(cmap_get_uint32(BAD, "totem.version", &u32), "");
	T(cmap_set_uint32(BAD, "test.x", 1), "");
	T(cmap_delete(BAD, "test.x"), "");
	T(cmap_iter_init(BAD, "totem.", &it), "");
	T(cmap_fd_get(BAD, &fd), "");
	T(cmap_dispatch(BAD, CS_DISPATCH_ALL), "");
	T(cmap_context_get(BAD, &ctx), "");
	T(cmap_track_add(BAD, "test.", CMAP_TRACK_ADD, notify, NULL, &tp), "");
	T(cmap_finalize(BAD), "");

	T(cmap_initialize(&h), "");
	T(cmap_fd_get(h, &fd), "fd=%s", fd >= 0 ? "FD" : "-1");
	T(cmap_context_get(h, &ctx), "context=%s", ctx ? "set" : "NULL");
	T(cmap_context_set(h, &marker), "");
	T(cmap_context_get(h, &ctx), "context=%s", ctx == &marker ? "marker" : "other");

	SAY("# configuration and runtime keys, with their types");
	T(cmap_get_uint32(h, "nodelist.node.0.nodeid", &u32), "%u", u32);
	T(cmap_get_string(h, "nodelist.node.0.ring0_addr", &str), "'%s'", str);
	free(str);
	T(cmap_get_string(h, "nodelist.node.2.name", &str), "'%s'", str);
	free(str);
	T(cmap_get_uint32(h, "nodelist.local_node_pos", &u32), "%u", u32);
	T(cmap_get_string(h, "totem.cluster_name", &str), "'%s'", str);
	free(str);
	T(cmap_get_uint32(h, "totem.version", &u32), "%u", u32);
	T(cmap_get_uint32(h, "totem.token", &u32), "%u", u32);
	T(cmap_get_uint16(h, "totem.interface.0.mcastport", &u16), "%u", u16);
	T(cmap_get_string(h, "quorum.provider", &str), "'%s'", str);
	free(str);
	T(cmap_get_uint32(h, "runtime.votequorum.this_node_id", &u32), "%u", u32);
	T(cmap_get_uint8(h, "runtime.votequorum.two_node", &u8), "%u", u8);
	T(cmap_get_uint8(h, "runtime.votequorum.wait_for_all_status", &u8), "%u", u8);
	T(cmap_get_uint32(h, "runtime.votequorum.lowest_node_id", &u32), "%u", u32);
	T(cmap_get_uint32(h, "runtime.votequorum.highest_node_id", &u32), "%u", u32);
	T(cmap_get_string(h, "runtime.members.2.status", &str), "'%s'", str);
	free(str);
	T(cmap_get_string(h, "runtime.members.3.ip", &str), "'%s'", str);
	free(str);
	T(cmap_get_uint32(h, "runtime.members.2.join_count", &u32), "%u", u32);
	T(cmap_get_uint32(h, "runtime.config.totem.token", &u32), "%u", u32);
	T(cmap_get_uint32(h, "runtime.config.totem.consensus", &u32), "%u", u32);
	T(cmap_get_uint32(h, "runtime.config.totem.join", &u32), "%u", u32);
	T(cmap_get_uint32(h, "runtime.config.totem.max_messages", &u32), "%u", u32);

	SAY("# reading: missing key, wrong type, bad arguments");
	T(cmap_get_uint32(h, "no.such.key", &u32), "");
	T(cmap_get_string(h, "no.such.key", &str), "");
	T(cmap_get_uint8(h, "nodelist.node.0.nodeid", &u8), "");
	T(cmap_get_uint64(h, "nodelist.node.0.nodeid", &u64), "");
	T(cmap_get_int32(h, "nodelist.node.0.nodeid", &i32), "");
	T(cmap_get_string(h, "nodelist.node.0.nodeid", &str), "");
	T(cmap_get_uint32(h, "totem.cluster_name", &u32), "");
	T(cmap_get_uint32(h, NULL, &u32), "");
	len = sizeof(buf);
	T(cmap_get(h, "totem.cluster_name", NULL, &len, &type), "len=%zu type=%s", len, type_name(type));
	T(cmap_get(h, "totem.cluster_name", NULL, NULL, &type), "type=%s", type_name(type));
	T(cmap_get(h, "totem.cluster_name", NULL, NULL, NULL), "");
	len = 3;
	T(cmap_get(h, "totem.cluster_name", buf, &len, &type), "len=%zu", len);
	T(cmap_get(h, "totem.cluster_name", buf, NULL, &type), "");
	len = sizeof(buf);
	T(cmap_get(h, "totem.cluster_name", buf, &len, &type), "len=%zu type=%s value=%s", len, type_name(type),
	  value_str(buf, len, type));
	T(cmap_get(h, "no.such.key", buf, &len, &type), "");

	SAY("# every type written and read back");
	T(cmap_set_int8(h, "test.i8", -8), "");
	T(cmap_set_uint8(h, "test.u8", 200), "");
	T(cmap_set_int16(h, "test.i16", -1600), "");
	T(cmap_set_uint16(h, "test.u16", 65000), "");
	T(cmap_set_int32(h, "test.i32", -320000), "");
	T(cmap_set_uint32(h, "test.u32", 4000000000U), "");
	T(cmap_set_int64(h, "test.i64", -64000000000LL), "");
	T(cmap_set_uint64(h, "test.u64", 18000000000000000000ULL), "");
	T(cmap_set_float(h, "test.float", 1.5f), "");
	T(cmap_set_double(h, "test.double", -2.25), "");
	T(cmap_set_string(h, "test.string", "hello"), "");
	T(cmap_set_string(h, "test.empty", ""), "");
	T(cmap_set(h, "test.binary", "\0\1\2\0\377", 5, CMAP_VALUETYPE_BINARY), "");
	T(cmap_set(h, "test.bin0", "", 0, CMAP_VALUETYPE_BINARY), "");
	T(cmap_get_int8(h, "test.i8", &i8), "%d", i8);
	T(cmap_get_uint8(h, "test.u8", &u8), "%u", u8);
	T(cmap_get_int16(h, "test.i16", &i16), "%d", i16);
	T(cmap_get_uint16(h, "test.u16", &u16), "%u", u16);
	T(cmap_get_int32(h, "test.i32", &i32), "%d", i32);
	T(cmap_get_uint32(h, "test.u32", &u32), "%u", u32);
	T(cmap_get_int64(h, "test.i64", &i64), "%lld", (long long)i64);
	T(cmap_get_uint64(h, "test.u64", &u64), "%llu", (unsigned long long)u64);
	T(cmap_get_float(h, "test.float", &f), "%g", f);
	T(cmap_get_double(h, "test.double", &d), "%g", d);
	T(cmap_get_string(h, "test.string", &str), "'%s'", str);
	free(str);
	T(cmap_get_string(h, "test.empty", &str), "'%s'", str);
	free(str);
	len = sizeof(buf);
	T(cmap_get(h, "test.binary", buf, &len, &type), "len=%zu type=%s value=%s", len, type_name(type),
	  value_str(buf, len, type));
	len = sizeof(buf);
	T(cmap_get(h, "test.bin0", buf, &len, &type), "len=%zu type=%s", len, type_name(type));
	T(cmap_get_string(h, "test.binary", &str), "");
	T(cmap_inc(h, "test.u32"), "");
	T(cmap_get_uint32(h, "test.u32", &u32), "%u", u32);
	T(cmap_dec(h, "test.i8"), "");
	T(cmap_get_int8(h, "test.i8", &i8), "%d", i8);
	T(cmap_set_uint8(h, "test.u8", 255), "");
	T(cmap_inc(h, "test.u8"), "");
	T(cmap_get_uint8(h, "test.u8", &u8), "%u", u8);
	T(cmap_inc(h, "test.string"), "");
	T(cmap_inc(h, "test.float"), "");
	T(cmap_inc(h, "test.binary"), "");
	T(cmap_dec(h, "no.such.key"), "");
	SAY("# a key may change type");
	T(cmap_set_string(h, "test.u8", "now a string"), "");
	T(cmap_get_uint8(h, "test.u8", &u8), "");
	T(cmap_get_string(h, "test.u8", &str), "'%s'", str);
	free(str);

	SAY("# writing: bad values, bad names, read-only keys");
	T(cmap_set(h, "test.bad", &u32, 2, CMAP_VALUETYPE_UINT32), "");
	T(cmap_set(h, "test.bad", &u32, 4, (cmap_value_types_t)99), "");
	T(cmap_set(h, "test.bad", &u32, 4, (cmap_value_types_t)0), "");
	T(cmap_set(h, "test.bad", NULL, 4, CMAP_VALUETYPE_UINT32), "");
	T(cmap_set_string(h, "test.bad", NULL), "");
	T(cmap_set_uint8(h, "bad key", 1), "");
	T(cmap_set_uint8(h, "ab", 1), "");
	T(cmap_set_uint8(h, "abc", 1), "");
	T(cmap_delete(h, "abc"), "");
	T(cmap_set_uint8(h, "test.bad/name", 1), "");
	T(cmap_set_uint8(h, NULL, 1), "");
	T(cmap_set_uint32(h, "nodelist.node.0.nodeid", 7), "");
	T(cmap_set_uint32(h, "runtime.config.totem.token", 7), "");
	T(cmap_set_string(h, "totem.cluster_name", "other"), "");
	T(cmap_set_uint32(h, "runtime.votequorum.this_node_id", 5), "");
	T(cmap_delete(h, "nodelist.node.0.nodeid"), "");
	T(cmap_delete(h, "runtime.config.totem.token"), "");
	T(cmap_delete(h, "test.i16"), "");
	T(cmap_delete(h, "test.i16"), "");
	T(cmap_delete(h, NULL), "");

	SAY("# iteration");
	iterate(h, "nodelist.", 1);
	iterate(h, "test.", 1);
	iterate(h, "totem.", 1);
	iterate(h, "no.such.prefix.", 1);
	iterate(h, NULL, 0);
	T(cmap_iter_init(h, "test.", NULL), "");

	SAY("# tracking");
	T(cmap_track_add(h, "track.", CMAP_TRACK_ADD | CMAP_TRACK_MODIFY | CMAP_TRACK_DELETE | CMAP_TRACK_PREFIX,
			 notify, &ud, &tp), "");
	T(cmap_track_add(h, "track.x", CMAP_TRACK_MODIFY, notify, NULL, &te), "");
	T(cmap_track_add(h, "track.y", CMAP_TRACK_ADD | CMAP_TRACK_DELETE, notify, NULL, &tx), "");
	T(cmap_track_add(h, "track.", 0, notify, NULL, &tx), "");
	T(cmap_track_add(h, "track.", CMAP_TRACK_ADD, NULL, NULL, &tx), "");
	T(cmap_track_add(h, "track.", CMAP_TRACK_ADD, notify, NULL, NULL), "");
	T(cmap_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	/* An unknown dispatch flag is not walked: Corosync's library waits for ever (a listed deviation). */
	SAY("fd before a change: %s", tr_poll(fd, 0));
	T(cmap_set_uint32(h, "track.x", 1), "");
	SAY("fd after a change: %s", tr_poll(fd, 2000));
	PUMP(cmap_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 200);
	SAY("fd after dispatch: %s", tr_poll(fd, 0));
	T(cmap_set_uint32(h, "track.x", 1), "");
	T(cmap_set_uint32(h, "track.x", 2), "");
	T(cmap_set_string(h, "track.x", "str"), "");
	T(cmap_set_uint8(h, "track.y", 1), "");
	T(cmap_inc(h, "track.y"), "");
	PUMP(cmap_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 200);
	T(cmap_delete(h, "track.x"), "");
	T(cmap_delete(h, "track.y"), "");
	PUMP(cmap_dispatch(h, CS_DISPATCH_ALL), fd, 2000, 200);
	T(cmap_track_delete(h, tp), "");
	T(cmap_track_delete(h, tp), "");
	T(cmap_track_delete(h, te), "");
	T(cmap_set_uint32(h, "track.z", 1), "");
	PUMP(cmap_dispatch(h, CS_DISPATCH_ALL), fd, 300, 100);
	T(cmap_delete(h, "track.z"), "");

	SAY("# a second session sees the first one's writes");
	T(cmap_initialize(&h2), "");
	T(cmap_get_int8(h2, "test.i8", &i8), "%d", i8);
	T(cmap_finalize(h2), "");

	SAY("# the statistics map");
	T(cmap_initialize_map(&hs, (cmap_map_t)7), "");
	T(cmap_initialize_map(&hs, CMAP_MAP_STATS), "");
	T(cmap_set_uint8(hs, "stats.x.y", 1), "");
	T(cmap_delete(hs, "stats.x.y"), "");
	T(cmap_get_uint32(hs, "totem.version", &u32), "");
	T(cmap_finalize(hs), "");

	SAY("# clean up, finalize");
	T(cmap_iter_init(h, "test.", &it), "");
	{
		char key[CMAP_KEYNAME_MAXLEN + 1];
		char keys[20][CMAP_KEYNAME_MAXLEN + 1];
		int n = 0;
		while (n < 20 && cmap_iter_next(h, it, key, NULL, NULL) == CS_OK)
			snprintf(keys[n++], sizeof(keys[0]), "%s", key);
		T(cmap_iter_finalize(h, it), "");
		for (int i = 0; i < n; i++)
			if (cmap_delete(h, keys[i]) != CS_OK)
				SAY("delete %s failed", keys[i]);
		SAY("deleted %d test. keys", n);
	}
	T(cmap_finalize(h), "");
	SAY("# the finalized handle");
	T(cmap_finalize(h), "");
	T(cmap_get_uint32(h, "totem.version", &u32), "");
	T(cmap_fd_get(h, &fd), "");
}

static void hold(void)
{
	cmap_handle_t h;
	cmap_track_handle_t t;
	uint32_t u32 = 0;
	int fd = -1;

	T(cmap_initialize(&h), "");
	T(cmap_fd_get(h, &fd), "");
	T(cmap_track_add(h, "hold.", CMAP_TRACK_ADD | CMAP_TRACK_PREFIX, notify, NULL, &t), "");
	T(cmap_get_uint32(h, "runtime.votequorum.this_node_id", &u32), "%u", u32);
	tr_ready();
	SAY("# the daemon is killed");
	SAY("fd: %s", tr_poll(fd, 10000));
	T(cmap_dispatch(h, CS_DISPATCH_ALL), "");
	T(cmap_dispatch(h, CS_DISPATCH_ONE_NONBLOCKING), "");
	T(cmap_get_uint32(h, "runtime.votequorum.this_node_id", &u32), "");
	T(cmap_set_uint32(h, "hold.x", 1), "");
	T(cmap_track_delete(h, t), "");
	T(cmap_finalize(h), "");
	T(cmap_finalize(h), "");
}

static void nodaemon(void)
{
	cmap_handle_t h = 0;
	uint32_t u32;

	T(cmap_initialize(&h), "");
	T(cmap_get_uint32(h, "totem.version", &u32), "");
	T(cmap_finalize(h), "");
	T(cmap_initialize_map(&h, CMAP_MAP_STATS), "");
}

TR_MAIN(walk, hold, nodaemon)
