#!/bin/busybox sh
# First stage of the lab VM: Debian's kernel has virtio and ext4 as modules, so this
# tiny busybox initramfs loads them, mounts the root image and hands over to lab-init.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "lab: initramfs" > /dev/console
# modules.order lists the .ko files in dependency order (written by the builder)
while read -r ko; do
  insmod "/modules/$ko" 2>/dev/null
done < /modules/modules.order
# wait for the root disk, at most 30 s
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "lab: FATAL cannot mount root /dev/vda" > /dev/console
  poweroff -f
fi
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /sbin/lab-init
