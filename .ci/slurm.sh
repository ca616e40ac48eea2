#!/usr/bin/env bash
# A single-node Slurm on this machine, for the Slurm test (tests/test_slurm.py).
#
#   .ci/slurm.sh up      install Debian's slurm-wlm and munge (as root, apt), write a one-node
#                        slurm.conf for this host, start munged, slurmctld and slurmd, and
#                        wait until `srun hostname` answers
#   .ci/slurm.sh down    stop the daemons this script started
#   .ci/slurm.sh status  print sinfo and the daemons' pids
#
# Idempotent: `up` twice leaves one set of daemons running; `down` twice is harmless.
# No accounting storage (sacct fails; the Slurm profile's status command is squeue), no cgroups
# and no systemd (proctrack/linuxproc, task/none; tested on a Debian 12 VM whose PID 1 is not
# systemd).
set -euo pipefail
# The daemons and runuser live in sbin, which a non-login root shell may lack.
export PATH="$PATH:/usr/sbin:/sbin"

ETC=/etc/slurm
STATE=/var/lib/slurm
RUN=/run/slurm
LOGS=/var/log/slurm
CONF="$ETC/slurm.conf"

die() { echo "slurm.sh: $*" >&2; exit 1; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v munged >/dev/null && command -v sinfo >/dev/null; then
    return
  fi
  [[ $EUID -eq 0 ]] || die "installing slurm-wlm and munge needs root (apt-get)"
  echo "slurm.sh: installing slurm-wlm and munge (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_conf() {
  local host cpus mem_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # Leave the OS some memory: Slurm refuses a node that reports less than RealMemory.
  mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
  mkdir -p "$ETC" "$STATE/slurmctld" "$STATE/slurmd" "$RUN" "$LOGS"
  cat >"$CONF.new" <<EOF
# Written by .ci/slurm.sh: one node ($host), no accounting, no cgroups.
ClusterName=tridrop
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# Finished jobs stay visible to squeue for an hour: the plugin's squeue status needs a few
# minutes, and the test counts a whole run's jobs with squeue after it ends.
MinJobAge=3600
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # Restart the daemons only when the configuration changed (e.g. another host name).
  if [[ -f "$CONF" ]] && cmp -s "$CONF" "$CONF.new"; then
    rm "$CONF.new"
    return 1
  fi
  mv "$CONF.new" "$CONF"
  return 0
}

start_munge() {
  [[ -f /etc/munge/munge.key ]] || {
    mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  }
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return
  fi
  runuser -u munge -- /usr/sbin/munged
  touch "$RUN/munged.ours"  # `down` stops only a munged that `up` started
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "munged does not answer"
}

stop_daemons() {
  local name
  for name in slurmd slurmctld; do
    if pid_alive "$RUN/$name.pid"; then
      kill "$(cat "$RUN/$name.pid")"
      for _ in $(seq 100); do pid_alive "$RUN/$name.pid" || break; sleep 0.1; done
    fi
    rm -f "$RUN/$name.pid"
  done
  if [[ -f "$RUN/munged.ours" ]]; then
    pid_alive /run/munge/munged.pid && kill "$(cat /run/munge/munged.pid)"
    rm -f "$RUN/munged.ours"
  fi
}

up() {
  install_packages
  if write_conf; then
    # A new configuration: daemons started with an old one must not linger.
    stop_daemons
  fi
  mkdir -p "$RUN"
  start_munge
  pid_alive "$RUN/slurmctld.pid" || slurmctld
  pid_alive "$RUN/slurmd.pid" || slurmd
  local host
  host=$(hostname -s)
  for _ in $(seq 60); do
    if sinfo -h -n "$host" -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then break; fi
    sleep 0.5
  done
  # A node left DOWN/DRAIN by an earlier run (e.g. killed slurmd) comes back here.
  if ! sinfo -h -n "$host" -o %t | grep -qE '^(idle|mix|alloc)'; then
    scontrol update nodename="$host" state=resume 2>/dev/null || true
    sleep 1
  fi
  sinfo
  timeout 60 srun -N1 -n1 hostname || die "srun hostname failed; see $LOGS/*.log"
}

status() {
  sinfo || true
  for name in slurmctld slurmd; do
    pid_alive "$RUN/$name.pid" && echo "$name: pid $(cat "$RUN/$name.pid")" \
      || echo "$name: not running"
  done
}

case "${1:-}" in
  up) up ;;
  down) stop_daemons ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
