#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on 127.0.0.1 for the tests marked `slurm` (no systemd needed).
#
#   sudo bash hpc/ci-slurm.sh          # or as root in a CI container
#
# Installs Debian's slurm-wlm, slurm-wlm-torque (the Torque/PBS-compatible qsub/qstat wrappers) and munge,
# writes /etc/slurm/slurm.conf for one node called $KLLAMA_SLURM_NODE (default kllama-node), starts munged,
# slurmctld and `slurmd -N <node>`, and waits until the node is idle. Idempotent: a second call finds the
# daemons running and the node idle and only prints the state. No accounting (sacct is off), no cgroups
# (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none), so it runs inside unprivileged containers too.
set -euo pipefail

NODE="${KLLAMA_SLURM_NODE:-kllama-node}"
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
SPOOL=/var/spool/slurm

log() { echo "ci-slurm: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
  log "must run as root (or with sudo available)"; exit 1
fi

# -- packages ----------------------------------------------------------------------------------------
need=()
command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
command -v qsub >/dev/null 2>&1 || need+=(slurm-wlm-torque)
command -v munged >/dev/null 2>&1 || need+=(munge)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -- already up? -------------------------------------------------------------------------------------
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -1; }
if scontrol ping 2>/dev/null | grep -q 'UP' && [ -n "$(node_state)" ]; then
  state="$(node_state)"
  case "$state" in
    idle*|mixed*|allocated*|completing*)
      log "SLURM already up: node $NODE is $state"; sinfo; exit 0 ;;
  esac
fi

# -- munge -------------------------------------------------------------------------------------------
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 0755 /run/munge
chmod 0700 /etc/munge /var/log/munge /var/lib/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

# -- slurm.conf --------------------------------------------------------------------------------------
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)"
mkdir -p "$CONF_DIR" "$LOG_DIR" "$SPOOL/ctld" "$SPOOL/d"
conf="$CONF_DIR/slurm.conf"
new_conf="$(mktemp)"
cat >"$new_conf" <<EOF
# written by kllama hpc/ci-slurm.sh: a single-node test cluster on 127.0.0.1
ClusterName=kllama-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
Waittime=0
NodeName=$NODE NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
if ! cmp -s "$new_conf" "$conf"; then
  log "writing $conf (node $NODE: $cpus CPUs, $mem_mb MB)"
  install -m 0644 "$new_conf" "$conf"
  changed=1
else
  changed=0
fi
rm -f "$new_conf"

# -- daemons -----------------------------------------------------------------------------------------
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_pidfile() {
  if running "$1"; then
    kill "$(cat "$1")" 2>/dev/null || true
    for _ in $(seq 50); do running "$1" || break; sleep 0.1; done
  fi
  rm -f "$1"
}
if [ "$changed" = 1 ]; then
  stop_pidfile /run/slurmd.pid
  stop_pidfile /run/slurmctld.pid
fi
if ! running /run/slurmctld.pid; then
  log "starting slurmctld"
  slurmctld -c -f "$conf" 2>>"$LOG_DIR/slurmctld.log" || slurmctld -f "$conf"
fi
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
if ! running /run/slurmd.pid; then
  log "starting slurmd -N $NODE"
  slurmd -N "$NODE" -f "$conf"
fi

for _ in $(seq 150); do
  state="$(node_state)"
  case "$state" in
    idle*|mixed*|allocated*) break ;;
    down*|drain*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
state="$(node_state)"
case "$state" in
  idle*|mixed*|allocated*) log "SLURM up: node $NODE is $state" ;;
  *)
    log "node $NODE did not come up (state '${state:-none}'); logs follow"
    tail -n 30 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
    exit 1 ;;
esac
sinfo
