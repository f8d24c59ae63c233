# cgroup v2: one unified hierarchy. Spliced into lab-init in place of its cgroup v1 block for a
# release whose kernel has no v1 memory or cpuset controller (trixie's 6.12 is built without
# CONFIG_MEMCG_V1 and CONFIG_CPUSETS_V1; on v1, crun, dockerd's runtime, opens the container's
# memory hierarchy at every start and fails without it). dockerd's cgroupfs driver and crun
# make their cgroups below this one; lab-init, in the root cgroup, may hand every controller down.
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fatal "cannot mount cgroup2 on /sys/fs/cgroup"
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || say "cgroup controller $c not enabled"
done
say "cgroup v2: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
