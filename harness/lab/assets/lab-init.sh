#!/bin/sh
# PID 1 of the lab VM (there is no systemd). Prints "lab: ..." lines on the serial
# console; the host reads them to follow the boot (see harness/lab/console.ts).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "lab: $*"; }
fatal() { echo "lab: FATAL $*"; sleep 1; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
hostname lvs-lab
echo 127.0.0.1 localhost lvs-lab > /etc/hosts

# cgroup v1 hierarchies, one per controller (what cgroupfs-mount does)
mount -t tmpfs -o uid=0,gid=0,mode=0755 cgroup /sys/fs/cgroup
for c in $(awk '!/^#/ { if ($4 == 1) print $1 }' /proc/cgroups); do
  mkdir -p "/sys/fs/cgroup/$c"
  mount -n -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || say "cgroup $c not mounted"
done
mkdir -p /sys/fs/cgroup/systemd
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd

# kernel modules the harness relies on; everything else loads on demand
for m in $(cat /etc/lab/modules); do
  modprobe "$m" || say "module $m failed to load"
done
if [ -e /proc/net/ip_vs ]; then say "ipvs loaded"; else say "ipvs missing"; fi
sysctl -qw net.ipv4.ip_forward=1

# credentials come in through fw_cfg at every boot: the cached root image holds no secret
mkdir -p /etc/lab/tls
for f in ca.pem server-cert.pem server-key.pem; do
  src=/sys/firmware/qemu_fw_cfg/by_name/opt/lvs/$f/raw
  [ -r "$src" ] || fatal "credential $f not passed to the VM"
  cat "$src" > "/etc/lab/tls/$f"
done
chmod 600 /etc/lab/tls/server-key.pem

ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
say "network up"

# Static keys pinned on for the lab's life. The kernel patches its own code (text_poke_bp, with
# int3) whenever a static key goes from 0 to 1 or back, and containers flip two kinds all the
# time: the cgroup v1 freezer's (crun freezes a container's cgroup at each start, docker pause
# freezes it) and netfilter's per-hook keys (the first iptables or IPVS hook in any namespace,
# the last one going away with a namespace). Under QEMU's multi-threaded software emulation that
# live patching can leave one vCPU looping on the int3 while it holds a lock the other waits for
# with interrupts off: the whole VM hangs with nothing on the console (seen in recalc_sigpending,
# the freezer key's site, with the other vCPU in do_exit). A frozen empty freezer cgroup and one
# RETURN rule in every built-in chain of the VM's own namespace keep those keys at 1 or more, so
# no container start, pause, iptables rule or IPVS service patches code any more.
if [ -d /sys/fs/cgroup/freezer ]; then
  mkdir -p /sys/fs/cgroup/freezer/lvs-lab-pin && echo FROZEN > /sys/fs/cgroup/freezer/lvs-lab-pin/freezer.state \
    || say "freezer key not pinned"
fi
for ipt in iptables ip6tables; do
  for spec in "raw PREROUTING OUTPUT" "mangle PREROUTING INPUT FORWARD OUTPUT POSTROUTING" \
              "nat PREROUTING INPUT OUTPUT POSTROUTING" "filter INPUT FORWARD OUTPUT"; do
    set -- $spec; table=$1; shift
    for chain in "$@"; do
      $ipt -w -t "$table" -A "$chain" -m comment --comment lvs-lab-pin -j RETURN || say "$ipt $table $chain not pinned"
    done
  done
done
# ...and those rules must stay out of the containers' traffic: frames the Docker bridges carry
# between nodes would otherwise pass the VM's own iptables and conntrack (br_netfilter is loaded,
# its bridge-nf-call-* default to 1): extra work on every frame, and connection tracking that
# no real LVS segment does. dockerd runs with --iptables=false and needs none of it.
for f in iptables ip6tables arptables; do
  sysctl -qw "net.bridge.bridge-nf-call-$f=0" || say "bridge-nf-call-$f not turned off"
done
say "static keys pinned"

# dockerd: mutual TLS on the forwarded port; the unix socket stays inside the VM. Should it
# ever exit, the console says so with the last lines of its log (the host keeps console.log),
# and it is started again.
(
  while :; do
    dockerd \
      --host=unix:///var/run/docker.sock \
      --host=tcp://0.0.0.0:2376 \
      --tlsverify \
      --tlscacert=/etc/lab/tls/ca.pem \
      --tlscert=/etc/lab/tls/server-cert.pem \
      --tlskey=/etc/lab/tls/server-key.pem \
      --storage-driver=overlay2 \
      --exec-opt native.cgroupdriver=cgroupfs \
      --add-runtime crun=/usr/bin/crun \
      --default-runtime=crun \
      --iptables=false \
      --log-level=warn \
      >> /var/log/dockerd.log 2>&1
    rc=$?
    say "dockerd exited with status $rc; the last lines of its log:"
    tail -n 40 /var/log/dockerd.log | sed 's/^/lab:   dockerd: /'
    sleep 1
  done
) &

i=0
until docker version > /dev/null 2>&1; do
  i=$((i+1))
  [ $i -gt 600 ] && { tail -20 /var/log/dockerd.log; fatal "dockerd did not start"; }
  sleep 0.2
done
say "dockerd up"

# the node image travels on the root disk, not through the slow user network
tag=$(cat /lab/node-image.tag)
if ! docker image inspect "$tag" > /dev/null 2>&1; then
  docker import --change 'CMD ["sleep","infinity"]' /lab/node-rootfs.tar "$tag" > /dev/null \
    || fatal "node image import failed"
fi
say "node image $tag"

# dockerd's re-executions of itself (the libnetwork-setkey hook of every container start, and
# set-ipv6 and setup-resolver in every new sandbox) run through dockerd-reexec from here on: the
# 75 MB Go binary took some three seconds of CPU for each under emulation, one after the other.
# Registered now, not before dockerd starts: dockerd itself must run from the original binary,
# whose header is what binfmt_misc matches (see harness/lab/assets/dockerd-reexec.c).
if [ -x /usr/local/libexec/dockerd-reexec ] && [ -x /usr/local/libexec/dockerd-unmatched ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  magic=$(head -c 64 /usr/sbin/dockerd | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')
  if printf "%s\n" ":lvs-dockerd-reexec:M:0:${magic}::/usr/local/libexec/dockerd-reexec:PF" > /proc/sys/fs/binfmt_misc/register; then
    say "dockerd re-executions short-cut"
  else
    say "dockerd re-executions not short-cut: binfmt_misc refused the entry"
  fi
fi

# A container that lives as long as the lab, started before the lab is ready (and so in the saved
# lab): the first container makes dockerd's cgroups (with the cpuset controller: the cpuset key,
# which get_page_from_freelist tests, goes to 1 then) and on cgroup v2 crun's device BPF program
# (cgroup BPF's key); while one container stays, the last topology's teardown no longer takes
# them back to 0, nor does the next build's first container flip them again under load. Seen
# without it: trixie's kernel hit a stale int3 in get_page_from_freelist as crun made the first
# topology's cgroups ("Oops: int3", then a panic). The harness lists only its labelled containers.
docker run -d --name lvs-lab-pin --network none "$tag" sleep infinity > /dev/null 2>&1 \
  || docker start lvs-lab-pin > /dev/null 2>&1 || say "pin container not started"
say "ready kernel=$(uname -r) ipvs=$(test -e /proc/net/ip_vs && echo yes || echo no)"

# The host's time arrives on the second serial port after a saved lab is restored (the guest's
# clock is then where it was at the save: harness/lab/saved.ts). One line, seconds since the
# epoch; the answer goes to the console with whether ip_vs is loaded.
if [ -c /dev/ttyS1 ]; then
  (
    exec 3<> /dev/ttyS1 || exit 0
    stty raw -echo <&3 2> /dev/null
    while IFS= read -r t <&3; do
      t=$(printf '%s' "$t" | tr -cd '0-9.')
      [ -n "$t" ] || continue
      date -s "@$t" > /dev/null 2>&1 && say "clock set $(date +%s.%N) ipvs=$(test -e /proc/net/ip_vs && echo yes || echo no)"
    done
  ) &
fi

# tini as PID 1 reaps every orphan (dockerd's children included)
exec tini -s -- sleep infinity
