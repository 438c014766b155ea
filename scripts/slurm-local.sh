#!/usr/bin/env bash
# A private single-node Slurm from Debian's slurm-wlm and munge packages, for
# the Slurm test (tests/integration/slurm.sh) and for trying jobs/ by hand.
#   scripts/slurm-local.sh start DIR   writes DIR/slurm.conf, starts munged,
#                                      slurmctld and slurmd, waits until the node
#                                      is idle; prints the line to export
#   scripts/slurm-local.sh stop DIR    stops the daemons it started (pid files)
# Everything (config, key, sockets, spool, logs, pid files) lives under DIR,
# so it does not touch a system Slurm. Needs root (slurmd runs jobs as their
# submitter). Non-default ports (SLURM_LOCAL_PORT, default 16817) avoid a
# system slurmctld.
set -euo pipefail
cmd=${1:?start or stop}
DIR=$(realpath -m "${2:?directory}")
PORT=${SLURM_LOCAL_PORT:-16817}

stop() {
  for d in slurmd slurmctld munged; do
    [ -f "$DIR/$d.pid" ] || continue
    pid=$(cat "$DIR/$d.pid")
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2> /dev/null || true
    rm -f "$DIR/$d.pid"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
for b in munged mungekey slurmctld slurmd sinfo; do
  command -v "$b" > /dev/null || { echo "slurm-local: $b not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
host=$(hostname -s)
cpus=$(nproc)
rm -f "$DIR/munge.key"
mungekey -c -k "$DIR/munge.key" > /dev/null 2>&1 || dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none
chmod 600 "$DIR/munge.key"
munged --force --key-file="$DIR/munge.key" --socket="$DIR/munge.sock" --pid-file="$DIR/munged.pid" \
  --log-file="$DIR/log/munged.log" --seed-file="$DIR/munged.seed"
cat > "$DIR/slurm.conf" << CONF
ClusterName=opusarc-test
SlurmctldHost=$host
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF=$DIR/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 100); do
  state=$(sinfo -h -o %T 2> /dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "$state" != idle ]; then
  echo "slurm-local: the node did not become idle (state '$state'); logs in $DIR/log" >&2
  stop
  exit 1
fi
echo "export SLURM_CONF=$SLURM_CONF"
