/*
 * <corosync/cpg.h> for quorumd's libcpg.so.4: the same types, values and functions as
 * Corosync 3.1.7's CPG (closed process groups) API, declared for this implementation (see
 * docs/cpg.md and docs/deviations.md, "The CPG library").
 */
#ifndef COROSYNC_CPG_H_DEFINED
#define COROSYNC_CPG_H_DEFINED

#include <netinet/in.h>
#include <corosync/corotypes.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t cpg_handle_t;
typedef uint64_t cpg_iteration_handle_t;

/* Every guarantee is delivered in the one total order (AGREED). */
typedef enum {
	CPG_TYPE_UNORDERED,
	CPG_TYPE_FIFO,
	CPG_TYPE_AGREED,
	CPG_TYPE_SAFE
} cpg_guarantee_t;

/* ENABLED: the daemon's queue for this node is filling; a multicast may soon get TRY_AGAIN. */
typedef enum {
	CPG_FLOW_CONTROL_DISABLED,
	CPG_FLOW_CONTROL_ENABLED
} cpg_flow_control_state_t;

/* Why a process is in a left or joined list (members lists say UNDEFINED). */
typedef enum {
	CPG_REASON_UNDEFINED = 0,
	CPG_REASON_JOIN = 1,
	CPG_REASON_LEAVE = 2,
	CPG_REASON_NODEDOWN = 3,
	CPG_REASON_NODEUP = 4,
	CPG_REASON_PROCDOWN = 5
} cpg_reason_t;

typedef enum {
	CPG_ITERATION_NAME_ONLY = 1,	/* one row per group, nodeid and pid 0 */
	CPG_ITERATION_ONE_GROUP = 2,	/* the processes of the group given */
	CPG_ITERATION_ALL = 3,		/* every process of every group */
} cpg_iteration_type_t;

typedef enum {
	CPG_MODEL_V1 = 1,
} cpg_model_t;

struct cpg_address {
	uint32_t nodeid;
	uint32_t pid;
	uint32_t reason;
};

/* A group name: `length` bytes of `value`, not NUL-terminated. */
#define CPG_MAX_NAME_LENGTH 128
struct cpg_name {
	uint32_t length;
	char value[CPG_MAX_NAME_LENGTH];
};

/* The most processes a group has: the size of every list a callback gets. */
#define CPG_MEMBERS_MAX 128

struct cpg_iteration_description_t {
	struct cpg_name group;
	uint32_t nodeid;
	uint32_t pid;
};

/* The ring id of a totem configuration change: the same as the quorum service's. */
struct cpg_ring_id {
	uint32_t nodeid;
	uint64_t seq;
};

/* A message of the group, whole however large; `msg` may be modified in place. */
typedef void (*cpg_deliver_fn_t) (
	cpg_handle_t handle,
	const struct cpg_name *group_name,
	uint32_t nodeid,
	uint32_t pid,
	void *msg,
	size_t msg_len);

/* The group's membership changed: the members after it, who left and who joined. */
typedef void (*cpg_confchg_fn_t) (
	cpg_handle_t handle,
	const struct cpg_name *group_name,
	const struct cpg_address *member_list, size_t member_list_entries,
	const struct cpg_address *left_list, size_t left_list_entries,
	const struct cpg_address *joined_list, size_t joined_list_entries);

/* The ring changed (model V1). */
typedef void (*cpg_totem_confchg_fn_t) (
	cpg_handle_t handle,
	struct cpg_ring_id ring_id,
	uint32_t member_list_entries,
	const uint32_t *member_list);

typedef struct {
	cpg_deliver_fn_t cpg_deliver_fn;
	cpg_confchg_fn_t cpg_confchg_fn;
} cpg_callbacks_t;

/* What cpg_model_initialize reads first; for CPG_MODEL_V1 pass a cpg_model_v1_data_t. */
typedef struct {
	cpg_model_t model;
} cpg_model_data_t;

/* Deliver a totem confchg right after the first confchg of the joined group. */
#define CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF 0x01

typedef struct {
	cpg_model_t model;
	cpg_deliver_fn_t cpg_deliver_fn;
	cpg_confchg_fn_t cpg_confchg_fn;
	cpg_totem_confchg_fn_t cpg_totem_confchg_fn;
	unsigned int flags;
} cpg_model_v1_data_t;

/* A session (model V1, the two callbacks; NULL: none). */
cs_error_t cpg_initialize(cpg_handle_t *handle, cpg_callbacks_t *callbacks);

/* A session of `model` (CPG_MODEL_V1 only) with its data and a context pointer. */
cs_error_t cpg_model_initialize(cpg_handle_t *handle, cpg_model_t model,
	cpg_model_data_t *model_data, void *context);

/* Ends the session; its process leaves its group. */
cs_error_t cpg_finalize(cpg_handle_t handle);

/* The fd to poll: readable when cpg_dispatch has work, hung up when the daemon is gone. */
cs_error_t cpg_fd_get(cpg_handle_t handle, int *fd);

/* The largest message that travels without chunking (larger ones still arrive whole). */
cs_error_t cpg_max_atomic_msgsize_get(cpg_handle_t handle, uint32_t *size);

cs_error_t cpg_context_get(cpg_handle_t handle, void **context);
cs_error_t cpg_context_set(cpg_handle_t handle, void *context);

/* Runs the callbacks of pending events (CS_DISPATCH_ONE, _ALL, _BLOCKING, _ONE_NONBLOCKING). */
cs_error_t cpg_dispatch(cpg_handle_t handle, cs_dispatch_flags_t dispatch_types);

/* Joins one group (one per handle); leaves it. */
cs_error_t cpg_join(cpg_handle_t handle, const struct cpg_name *group);
cs_error_t cpg_leave(cpg_handle_t handle, const struct cpg_name *group);

/* One message, gathered from the iovecs, to the joined group (the sender gets it too). */
cs_error_t cpg_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee,
	const struct iovec *iovec, unsigned int iov_len);

/* The group's processes now; member_list must hold CPG_MEMBERS_MAX entries. */
cs_error_t cpg_membership_get(cpg_handle_t handle, struct cpg_name *groupName,
	struct cpg_address *member_list, int *member_list_entries);

cs_error_t cpg_local_get(cpg_handle_t handle, unsigned int *local_nodeid);

cs_error_t cpg_flow_control_state_get(cpg_handle_t handle, cpg_flow_control_state_t *flow_control_enabled);

/* A buffer for cpg_zcb_mcast_joined (plain memory), and its release. */
cs_error_t cpg_zcb_alloc(cpg_handle_t handle, size_t size, void **buffer);
cs_error_t cpg_zcb_free(cpg_handle_t handle, void *buffer);
cs_error_t cpg_zcb_mcast_joined(cpg_handle_t handle, cpg_guarantee_t guarantee, void *msg, size_t msg_len);

/* Lists groups or processes (taken at initialize); next answers CS_ERR_NO_SECTIONS at the end. */
cs_error_t cpg_iteration_initialize(cpg_handle_t handle, cpg_iteration_type_t iteration_type,
	const struct cpg_name *group, cpg_iteration_handle_t *cpg_iteration_handle);
cs_error_t cpg_iteration_next(cpg_iteration_handle_t handle, struct cpg_iteration_description_t *description);
cs_error_t cpg_iteration_finalize(cpg_iteration_handle_t handle);

#ifdef __cplusplus
}
#endif

#endif /* COROSYNC_CPG_H_DEFINED */
