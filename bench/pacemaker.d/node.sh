# Pacemaker nodes in namespaces, on Corosync or on quorumd. Sourced by bench/pacemaker (after
# bench/cluster, whose network, addresses and config generators it reuses).
#
# A node is one "holder" process (sleep) that owns the node's namespaces: the network namespace
# of bench/cluster ($BC_TAG-nN), a UTS namespace whose hostname is the nodelist name nN, and a
# private mount namespace in which
#   /run, /dev/shm                   fresh tmpfs at every start (a reboot wipes them)
#   /etc/corosync                    $PM_DIR/nN/etc      (corosync.conf)
#   /var/lib/pacemaker               $PM_DIR/nN/pcmk     (the CIB; kept across restarts, a disk)
#   /var/lib/corosync                $PM_DIR/nN/cslib    (corosync's ring id / quorumd's state)
#   /var/log                         $PM_DIR/nN/log      (pacemaker.log, corosync.log)
# and, on quorumd, our libquorum.so.5, libcmap.so.4, libcfg.so.7, libvotequorum.so.8,
# libcorosync_common.so.4 (and libcpg.so.4 once built) bind-mounted over Debian's files, so every
# program of that node -- pacemakerd, the daemons it spawns, crm_* tools, corosync-cfgtool --
# loads ours without any environment variable. Everything else runs with
# `nsenter -t HOLDER -m -u -n`. Killing a node (a crash) kills every process whose mount
# namespace is the holder's, the holder last; its /run and /dev/shm vanish with it.

PM_LIBDIR=/usr/lib/x86_64-linux-gnu
PM_HOLDER=()   # holder pid per node
PM_STACK_PID=()  # corosync or quorumd pid per node
PM_PCMK_PID=()   # pacemakerd pid per node

pm_log() { echo "[pacemaker $(date +%T.%3N)] $*" >&2; }
pm_now() { date +%s.%N; }
pm_ms_since() { awk -v a="$1" -v b="$(pm_now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# Debian's packages, with the packaged services kept from starting: policy-rc.d denies every
# start while they are installed (an existing policy-rc.d, e.g. a container's, is left in place).
pm_install() {
	local need=() p
	for p in corosync pacemaker pacemaker-cli-utils resource-agents iproute2; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
	done
	[ "${#need[@]}" -gt 0 ] || return 0
	local own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		own_policy=1
	fi
	pm_log "installing ${need[*]} (services kept from starting)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
	pm_check_host
}

pm_check_host() { # nothing of the packages may be running on the host itself
	if pgrep -x corosync >/dev/null || pgrep -x pacemakerd >/dev/null; then
		local p2
		for p2 in $(pgrep -x corosync) $(pgrep -x pacemakerd); do
			# one of ours runs in a node namespace; a packaged one in the host's
			if [ "$(readlink /proc/"$p2"/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]; then
				echo "bench/pacemaker: a packaged corosync/pacemakerd was started on the host" >&2
				return 1
			fi
		done
	fi
}

# Our drop-in libraries, by Debian's file name (the real file behind the SONAME link).
pm_our_libs() { # prints "OURFILE DEBIANFILE" lines
	local t=${PM_OURLIBS:-$CARGO_TARGET_DIR/release}
	echo "$t/libquorum.so $(readlink -f $PM_LIBDIR/libquorum.so.5)"
	echo "$t/libcmap.so $(readlink -f $PM_LIBDIR/libcmap.so.4)"
	echo "$t/libcfg.so $(readlink -f $PM_LIBDIR/libcfg.so.7)"
	echo "$t/libvotequorum.so $(readlink -f $PM_LIBDIR/libvotequorum.so.8)"
	echo "$t/libcorosync_common.so $(readlink -f $PM_LIBDIR/libcorosync_common.so.4)"
	if [ -f "$t/libcpg.so" ]; then
		echo "$t/libcpg.so $(readlink -f $PM_LIBDIR/libcpg.so.4)"
	fi
}

pm_node_dirs() { # N: the node's persistent directories (created once, kept across restarts)
	local d=$PM_DIR/n$1
	[ -d "$d/pcmk" ] && return 0
	mkdir -p "$d/etc/uidgid.d" "$d/cslib" "$d/log/pacemaker/bundles" "$d/log/corosync"
	chmod 700 "$d/cslib"
	cp -a /var/lib/pacemaker "$d/pcmk"
	chown -R hacluster:haclient "$d/log/pacemaker"
	chmod 770 "$d/log/pacemaker"
}

pm_holder_start() { # N
	local n=$1 d=$PM_DIR/n$1 binds=
	pm_node_dirs "$n"
	if [ "$PM_IMPL" = quorumd ] && [ "${PM_LIBMODE:-bind}" = bind ]; then
		binds=$(pm_our_libs | while read -r ours deb; do printf 'mount --bind %s %s && ' "$ours" "$deb"; done)
	fi
	if [ -n "${PM_FENCING:-}" ]; then
		# our fence agent, installed into this node's /usr/sbin only (a read-only overlay over
		# the host's, where Pacemaker's fencer looks for fence_* agents)
		binds="${binds}mount -t overlay overlay -o lowerdir=$PM_OUT/sbin:/usr/sbin /usr/sbin && "
	fi
	rm -f "$d/ready"
	# exec all the way down: $! is the holder itself (ip netns exec and unshare exec).
	ip netns exec "$(bc_ns "$n")" unshare --mount --uts --propagation private sh -c "
		hostname n$n &&
		mount -t tmpfs -o mode=755 tmpfs /run &&
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
		mount --bind $d/etc /etc/corosync &&
		mount --bind $d/pcmk /var/lib/pacemaker &&
		mount --bind $d/cslib /var/lib/corosync &&
		mount --bind $d/log /var/log &&
		$binds
		touch $d/ready && exec sleep infinity" >>"$d/holder.log" 2>&1 &
	PM_HOLDER[$n]=$!
	disown "$!"  # no job-control chatter when a crash kills it
	local i
	for i in $(seq 300); do
		if [ -e "$d/ready" ] && [ "$(cat "/proc/${PM_HOLDER[$n]}/comm" 2>/dev/null)" = sleep ]; then
			pm_fence_map_set "$n"
			return 0
		fi
		[ -e "/proc/${PM_HOLDER[$n]}" ] || break
		sleep 0.02
	done
	pm_log "node $n: namespace holder did not come up: $(cat "$d/holder.log")"
	return 1
}

# The fence agent's map ($PM_DIR/fence.map): "nN HOLDER_PID HOLDER_START_TIME mnt:[INODE]" for
# every node, rewritten (by a rename, so a running agent never reads half a file) at each boot.
pm_fence_map_set() { # N
	local n=$1 m=$PM_DIR/fence.map h=${PM_HOLDER[$1]}
	{
		grep -v "^n$n " "$m" 2>/dev/null || true
		echo "n$n $h $(awk '{ print $22 }' "/proc/$h/stat") $(readlink "/proc/$h/ns/mnt")"
	} >"$m.new"
	mv "$m.new" "$m"
}

pm_in() { # N CMD...: run CMD inside node N
	local n=$1
	shift
	nsenter -t "${PM_HOLDER[$n]}" -m -u -n -- env ${PM_LDPATH:+LD_LIBRARY_PATH=$PM_LDPATH} "$@"
}

# PM_LIBMODE=env: instead of the bind mounts, our libraries under their SONAMEs in one
# directory named by LD_LIBRARY_PATH (pacemakerd's daemons inherit it: it starts them with
# execvp after setuid, which keeps the environment).
pm_env_libdir() {
	PM_LDPATH=
	[ "$PM_IMPL" = quorumd ] && [ "${PM_LIBMODE:-bind}" = env ] || return 0
	PM_LDPATH=$PM_DIR/libs
	mkdir -p "$PM_LDPATH"
	# hacluster (based, attrd, controld) must be able to reach it, or the loader silently
	# falls back to Debian's libraries (mktemp -d made the parents 0700)
	chmod 755 "$PM_OUT" "$PM_DIR" "$PM_LDPATH"
	local ours deb
	pm_our_libs | while read -r ours deb; do
		cp "$ours" "$PM_LDPATH/$(basename "$deb" | sed 's/\(\.so\.[0-9]*\).*/\1/')"
	done
}

# Whether each Pacemaker daemon of node N runs on our libraries: prints "daemon corosync-libs
# ours" -- how many Corosync client libraries it mapped, and how many of them are our files (by
# inode, which a bind mount keeps). pacemaker-execd and -schedulerd link none.
pm_mapped_libs() { # N
	local n=$1 p ours deb inodes=
	while read -r ours deb; do
		[ -z "$PM_LDPATH" ] || ours=$PM_LDPATH/$(basename "$deb" | sed 's/\(\.so\.[0-9]*\).*/\1/')
		inodes="$inodes $(stat -L -c %i "$ours")"
	done < <(pm_our_libs)
	for p in $(pm_node_pids "$n"); do
		case $(cat "/proc/$p/comm" 2>/dev/null) in pacemaker*) ;; *) continue ;; esac
		awk -v c="$(basename "$(readlink "/proc/$p/exe")")" -v want="$inodes" '
			BEGIN { split(want, w, " "); for (i in w) need[w[i]] = 1 }
			$6 ~ /lib(cpg|cmap|cfg|quorum|votequorum|corosync_common)\.so/ && !lib[$6]++ { t++ }
			($5 in need) && !seen[$5]++ { k++ }
			END { print c, t + 0, k + 0 }' "/proc/$p/maps"
	done
}

pm_stack_start() { # N: the cluster daemon (corosync or quorumd)
	local n=$1 d=$PM_DIR/n$1
	echo "=== start $(date +%s.%N)" >>"$d/stack.log"
	# nsenter, env and the daemons exec: $! is the daemon's own pid (a function in the
	# background would be a subshell in between).
	if [ "$PM_IMPL" = quorumd ]; then
		QUORUMD_LOG=${QUORUMD_LOG:-info} nsenter -t "${PM_HOLDER[$n]}" -m -u -n -- "$BC_QUORUMD" \
			--config /etc/corosync/corosync.conf --state-dir /var/lib/corosync >>"$d/stack.log" 2>&1 &
	else
		nsenter -t "${PM_HOLDER[$n]}" -m -u -n -- corosync -f >>"$d/stack.log" 2>&1 &
	fi
	PM_STACK_PID[$n]=$!
	disown "$!"
}

# N: the cluster daemon accepts IPC, which both daemons do from the moment they tell systemd
# READY=1 (Type=notify): after their first membership is installed. corosync-quorumtool -s
# exits 0 (quorate) or 2 (not quorate) then, and 1 at once while the daemon is not there or still
# answers CS_ERR_TRY_AGAIN. (corosync-cmapctl is no probe for this: on CS_ERR_TRY_AGAIN it sleeps
# a whole second before it asks again, which cost a restart up to 1 s depending on when the
# first poll landed -- on quorumd nearly always, as its socket exists from the first
# millisecond while Corosync's appears only after knet's start.)
pm_stack_ready() {
	local rc=0
	pm_in "$1" corosync-quorumtool -s >/dev/null 2>&1 || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 2 ]
}

pm_pcmk_start() { # N
	local n=$1 d=$PM_DIR/n$1
	# pacemakerd spawns its daemons with execvp (they inherit this environment); the systemd
	# unit would read /etc/default/pacemaker, which has nothing set on Debian.
	nsenter -t "${PM_HOLDER[$n]}" -m -u -n -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		${PM_LDPATH:+LD_LIBRARY_PATH=$PM_LDPATH} \
		PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_debug="${PM_DEBUG:-no}" \
		pacemakerd >>"$d/pacemakerd.stderr" 2>&1 &
	PM_PCMK_PID[$n]=$!
	disown "$!"
}

pm_node_start() { # N: holder, cluster daemon, then pacemakerd once the daemon answers
	local n=$1 i
	pm_log "node $n: boot (namespace holder, cluster daemon)"
	pm_holder_start "$n"
	pm_stack_start "$n"
	for i in $(seq 400); do
		pm_stack_ready "$n" && break
		sleep 0.02
	done
	pm_log "node $n: cluster daemon ready, starting pacemakerd"
	pm_pcmk_start "$n"
}

pm_node_pids() { # N: every process in node N's mount namespace (the holder last)
	local h=${PM_HOLDER[$1]:-} ns
	[ -n "$h" ] && [ -e "/proc/$h" ] || return 0
	ns=$(ps -o mntns= -p "$h" | tr -d ' ')
	ps -e -o pid=,mntns= | awk -v ns="$ns" -v h="$h" '$2 == ns && $1 != h { print $1 }'
	echo "$h"
}

pm_alive() { local h=${PM_HOLDER[$1]:-}; [ -n "$h" ] && [ -e "/proc/$h" ]; }

pm_node_kill() { # N: a crash: SIGKILL to every process of the node at once
	local n=$1 pids
	pids=$(pm_node_pids "$n")
	[ -z "$pids" ] || pm_log "node $n: SIGKILL to every process"
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	local i
	for i in $(seq 200); do
		[ -e "/proc/${PM_HOLDER[$n]}" ] || break
		sleep 0.02
	done
	PM_HOLDER[$n]= PM_STACK_PID[$n]= PM_PCMK_PID[$n]=
}

# --- observing ----------------------------------------------------------------------------------
# Where the Dummy resource really runs: its agent's state file in the node's own /run (through
# /proc/HOLDER/root, so no process is spawned per poll).
pm_runs_on() { # N
	local h=${PM_HOLDER[$1]:-}
	[ -n "$h" ] && [ -e "/proc/$h/root/run/Dummy-$PM_RSC.state" ]
}
pm_where() { # the nodes running the resource, space-separated
	local n out=
	for n in $(seq 1 "$BC_N"); do pm_runs_on "$n" && out="$out $n"; done
	echo "${out# }"
}

pm_mon() { pm_in "$1" crm_mon -1 2>/dev/null; }
pm_mon_ok() { # N WANT_ONLINE: crm_mon on N shows WANT_ONLINE nodes online and quorum
	local out
	out=$(pm_mon "$1") || return 1
	grep -q 'partition with quorum' <<<"$out" || return 1
	[ "$(sed -n 's/.*Online: \[ \(.*\) \].*/\1/p' <<<"$out" | wc -w)" = "$2" ]
}
pm_wait() { # TIMEOUT_S CMD...: poll CMD every 50 ms
	local deadline
	deadline=$(awk -v a="$(pm_now)" -v t="$1" 'BEGIN { printf "%.3f", a + t }')
	shift
	while ! "$@"; do
		awk -v a="$(pm_now)" -v d="$deadline" 'BEGIN { exit !(a > d) }' && return 1
		sleep 0.05
	done
}
pm_all_ok() { # WANT_ONLINE NODES...
	local want=$1 n
	shift
	for n in "$@"; do pm_mon_ok "$n" "$want" || return 1; done
}

pm_rss_table() { # prints "node daemon rss_kb" for every process of every live node
	local n p exe
	for n in $(seq 1 "$BC_N"); do
		for p in $(pm_node_pids "$n"); do
			[ "$p" = "${PM_HOLDER[$n]}" ] && continue
			exe=$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")
			case $exe in corosync|quorumd) exe=cluster-daemon ;; esac
			awk -v n="$n" -v c="$exe" '/^VmRSS:/ { print n, c, $2 }' "/proc/$p/status" 2>/dev/null
		done
	done
}

pm_wait_gone() { # PID [TIMEOUT_S]: wait until a (disowned) process has exited
	local i
	for i in $(seq $((${2:-30} * 20))); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.05
	done
	return 1
}

pm_down() {
	local n
	set +e
	for n in $(seq 1 "$BC_N"); do pm_node_kill "$n"; done 2>/dev/null
	for n in $(seq 1 "$BC_N"); do ip netns del "$(bc_ns "$n")"; done 2>/dev/null
	ip netns del "$(bc_ns 0)" 2>/dev/null
	set -e
}
