/*
 * quorum.h: the Corosync quorum client API (libquorum.so.5), as declared by Corosync 3.1.7,
 * written for quorumd's implementation (crates/capi). Same names, values, layouts and
 * signatures; see corosync-behaviour §1.2 and the quorum_*(3) man pages.
 */
#ifndef COROSYNC_QUORUM_H_DEFINED
#define COROSYNC_QUORUM_H_DEFINED

#include <corosync/corotypes.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	QUORUM_MODEL_V0 = 0,
	QUORUM_MODEL_V1 = 1,
} quorum_model_t;

typedef uint64_t quorum_handle_t;

struct quorum_ring_id {
	uint32_t nodeid;
	uint64_t seq;
};

typedef void (*quorum_notification_fn_t) (
	quorum_handle_t handle,
	uint32_t quorate,
	uint64_t ring_seq,
	uint32_t view_list_entries,
	uint32_t *view_list
	);

typedef void (*quorum_v1_quorum_notification_fn_t) (
	quorum_handle_t handle,
	uint32_t quorate,
	struct quorum_ring_id ring_id,
	uint32_t member_list_entries, const uint32_t *member_list
	);

typedef void (*quorum_v1_nodelist_notification_fn_t) (
	quorum_handle_t handle,
	struct quorum_ring_id ring_id,
	uint32_t member_list_entries, const uint32_t *member_list,
	uint32_t joined_list_entries, const uint32_t *joined_list,
	uint32_t left_list_entries, const uint32_t *left_list
	);

typedef struct {
	quorum_notification_fn_t quorum_notify_fn;
} quorum_callbacks_t;

typedef struct {
	quorum_model_t model;
} quorum_model_data_t;

typedef struct {
	quorum_model_t model;
	quorum_notification_fn_t quorum_notify_fn;
} quorum_model_v0_data_t;

typedef struct {
	quorum_model_t model;
	quorum_v1_quorum_notification_fn_t quorum_notify_fn;
	quorum_v1_nodelist_notification_fn_t nodelist_notify_fn;
} quorum_model_v1_data_t;

#define QUORUM_FREE	0
#define QUORUM_SET	1

/* Opens a V0 connection; callbacks and quorum_type may be NULL. */
cs_error_t quorum_initialize (
	quorum_handle_t *handle,
	quorum_callbacks_t *callbacks,
	uint32_t *quorum_type);

/* Opens a connection with a model; model_data, quorum_type and context may be NULL. */
cs_error_t quorum_model_initialize (
	quorum_handle_t *handle,
	quorum_model_t model,
	quorum_model_data_t *model_data,
	uint32_t *quorum_type,
	void *context);

/* Closes the connection; the handle is dead afterwards. */
cs_error_t quorum_finalize (
	quorum_handle_t handle);

/* The fd to poll for readability before quorum_dispatch; owned by the library. */
cs_error_t quorum_fd_get (
	quorum_handle_t handle,
	int *fd);

/* Runs callbacks for received events, as dispatch_types says. */
cs_error_t quorum_dispatch (
	quorum_handle_t handle,
	cs_dispatch_flags_t dispatch_types);

/* Whether this node is in a quorate partition (1) or not (0). */
cs_error_t quorum_getquorate (
	quorum_handle_t handle,
	int *quorate);

/* Starts tracking quorum and membership changes (CS_TRACK_* flags). */
cs_error_t quorum_trackstart (
	quorum_handle_t handle,
	unsigned int flags);

/* Stops tracking. */
cs_error_t quorum_trackstop (
	quorum_handle_t handle);

/* Stores an opaque pointer with the handle. */
cs_error_t quorum_context_set (
	quorum_handle_t handle,
	const void *context);

/* Returns the pointer stored with quorum_context_set (or given to quorum_model_initialize). */
cs_error_t quorum_context_get (
	quorum_handle_t handle,
	const void **context);

#ifdef __cplusplus
}
#endif

#endif /* COROSYNC_QUORUM_H_DEFINED */
