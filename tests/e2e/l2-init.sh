#!/bin/sh
# L2 /init for the kestrel end-to-end harness (busybox; built into the L2
# initramfs by tests/e2e/mk-l2-initramfs.sh). Each check prints one line
#   L2-CHECK <name> PASS|FAIL <detail>
# which L1 relays as E2E-CHECK lines. Read from the kernel command line (words
# without a dot reach init's environment):
#   e2ecpus=N        vCPUs the VMM was given (every one must be online)
#   e2edevs=net,blk  devices the VMM was given ("" = none)
#   e2enonce=STR     ties this boot's frames and disk blocks to this run
#   e2eexit=reboot|poweroff|none|cad   cad: wait for Ctrl+Alt+Del (the VMM's
#                    SendCtrlAltDel), which the kernel turns into SIGINT for
#                    init (ctrl-alt-del = 0), then reboot
#   e2es3=N          suspend to RAM N times, each woken by an RTC alarm (ACPI S3)
#   e2eroot=1        the root file system is the ext4 disk named by root= (the
#                    VMM adds root=/dev/vda for its root drive): this initramfs
#                    loads the modules, mounts it and switch_roots into it, where
#                    the same script (its /init, beside the marker /e2e-rootfs)
#                    runs the checks on a root mounted from /dev/vda
#   e2etransport=pci the devices are on virtio-pci (else virtio-mmio): the
#                    virtio-pci check replaces the virtio-mmio one
#   e2epacked=1      the VMM offered packed virtqueues (--packed on): every
#                    virtio driver must have negotiated VIRTIO_F_RING_PACKED,
#                    bit 34 of its sysfs features (the packed check)
#   e2emq=N          the net device has N queue pairs (--net sim,max_vqp=N):
#                    what `ethtool -L IFNAME combined K` does, for K = N then
#                    1, each followed by frames steered to queue K-1 that
#                    must come back on that queue pair (the mq check)
#   e2evsockmib=N    MiB each way on the vsock case's first stream (64)
#   e2evsockbench=T  then the vsock benchmark: e2evsockmib each way, T round trips
#   e2etap=MAC       a virtio-net device with this MAC on a TAP in L1: bring it
#                    up as 10.0.2.2/24 and ping L1's end of the TAP, 10.0.2.1
#   e2esnap=1        once the virtio drivers are bound, print L2-SNAP-READY and
#                    wait: L1 snapshots this guest (SIGUSR1), restores it in a
#                    new kestrel on a copy of the disk and writes
#                    "KESTREL-E2E-RESTORED <nonce>" into the copy's sector 2,
#                    which this init polls (page cache dropped each time);
#                    the net and blk checks then run on the restored guest
#   e2eballoon=MIB   (e2edevs has balloon) write to nearly all free memory,
#                    say "L2-BALLOON touched", then wait for virtio_balloon to
#                    take MIB (MemTotal falls: no deflate_on_oom) once L1 sets
#                    the target, say "L2-BALLOON inflated" and hold it 10 s
#                    while L1 reads kestrel's RSS
#   e2ereport=MIB    (e2edevs has balloon) instead: write a MIB file, say
#                    "L2-BALLOON touched", delete it 3 s later (its pages go
#                    to free page reporting) and wait for L1's 1 MiB target
B=/bin/busybox
# On the ext4 root after switch_root (the initramfs has no /e2e-rootfs).
onroot=0 switching=0
[ -f /e2e-rootfs ] && onroot=1
# In the initramfs of a root-disk boot: only what it takes to switch_root;
# the checks run on the root disk.
[ "${e2eroot:-0}" = 1 ] && [ $onroot = 0 ] && switching=1
# The boot timer first: its write is "userspace reached". /dev/mem needs devtmpfs.
$B mount -t devtmpfs dev /dev 2>/dev/null
tw=0
[ $onroot = 1 ] || { $B devmem 0xd0000000 8 123 2>/dev/null; tw=$?; }
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
export PATH=/bin
read up idle < /proc/uptime
echo "L2-INIT-REACHED l2_uptime=$up $(uname -r)$([ $onroot = 1 ] && echo ' (on the root disk)')"
check() { echo "L2-CHECK $1 $2 $3"; }
if [ $onroot = 0 ]; then
	[ $tw = 0 ] && check boot-timer-write PASS "devmem wrote 123 at 0xd0000000" ||
		check boot-timer-write FAIL "devmem 0xd0000000 failed (status $tw)"
fi

# -- vCPUs: the guest must see every vCPU it was given ------------------------
count_online() {	# sets online and n
	online=$(cat /sys/devices/system/cpu/online 2>/dev/null)
	n=0
	for r in $(echo "$online" | tr , ' '); do
		case $r in
		*-*) n=$((n + ${r#*-} - ${r%-*} + 1)) ;;
		*) n=$((n + 1)) ;;
		esac
	done
}
count_online
want=${e2ecpus:-1}
if [ $switching = 1 ]; then
	:
elif [ "$n" = "$want" ]; then
	check cpus PASS "online=$online ($n of $want)"
else
	check cpus FAIL "online=$online: $n vCPUs up, VMM was given $want (MADT / MP table?)"
fi

# -- virtio modules: insmod in dependency order, with any modname.param=value
#    words from the kernel command line (insmod does not read it; modprobe would)
mods_ok=1
for m in $(cat /lib/modules/order); do
	name=${m%.ko}
	args=
	for w in $(cat /proc/cmdline); do
		case $w in
		"$name".*=* | "$(echo "$name" | tr _ -)".*=*) args="$args ${w#*.}" ;;
		esac
	done
	# On the root disk the initramfs has loaded them already.
	[ -d "/sys/module/$name" ] && continue
	if ! out=$(insmod /lib/modules/$m $args 2>&1); then
		echo "L2: insmod $m$args: $out"
		dmesg | tail -n 3 | sed 's/^/L2: dmesg: /'
		mods_ok=0
	fi
done
if [ $mods_ok = 0 ]; then
	check modules FAIL "some virtio modules did not load (see above)"
elif [ $switching = 0 ]; then
	check modules PASS "$(tr '\n' ' ' < /lib/modules/order)"
fi

# -- root disk: mount root= and switch_root into it (what a distribution's
#    initramfs does); the checks go on from there ------------------------------
if [ $switching = 1 ]; then
	rootdev=
	for w in $(cat /proc/cmdline); do
		case $w in root=*) rootdev=${w#root=} ;; esac
	done
	for m in $(cat /lib/modules/order-root 2>/dev/null); do
		out=$(insmod /lib/modules/$m 2>&1) || echo "L2: insmod $m: $out"
	done
	i=0
	while [ -n "$rootdev" ] && [ ! -b "$rootdev" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	mkdir -p /newroot
	if [ -z "$rootdev" ]; then
		check rootfs FAIL "no root= on the kernel command line (the VMM adds it for its root drive): $(cat /proc/cmdline | cut -c1-200)"
	elif ! out=$(mount -t ext4 -o rw "$rootdev" /newroot 2>&1); then
		check rootfs FAIL "mount -t ext4 $rootdev: $out"
	elif [ ! -x /newroot/init ] || [ ! -f /newroot/e2e-rootfs ]; then
		check rootfs FAIL "$rootdev mounted but holds no /init and /e2e-rootfs"
	else
		echo "L2: $rootdev (root= from the VMM) mounted, switch_root into it"
		mount --move /dev /newroot/dev
		umount /proc /sys
		exec switch_root /newroot /init
	fi
fi
if [ $onroot = 1 ]; then
	# The kernel's view of / and what it was told to mount.
	set -- $(awk '$2 == "/" {print $1, $3, substr($4, 1, 2)}' /proc/mounts | tail -n 1)
	rootarg=$(tr ' ' '\n' < /proc/cmdline | grep '^root=' | tail -n 1)
	if [ "$1 $2 $3" = "/dev/vda ext4 rw" ] && [ "$rootarg" = root=/dev/vda ] &&
		echo "L2 was here" > /e2e-wrote && sync && [ "$(cat /e2e-rootfs)" = "kestrel e2e root disk" ]; then
		check rootfs PASS "/ is $1 ($2, $3), from $rootarg on the command line, which kestrel added for the root drive; a file written and synced"
	else
		check rootfs FAIL "/ is '$1 $2 $3', command line '$rootarg', marker '$(cat /e2e-rootfs 2>/dev/null)'"
	fi
fi

# -- virtio devices: wait for the drivers to bind -------------------------------
has() { case ",$e2edevs," in *",$1,"*) return 0 ;; esac; return 1; }
e2edevs=${e2edevs-net,blk}
drv_of() { d=$(readlink "$1/driver" 2>/dev/null); echo "${d##*/}"; }
ndev=0
i=0
while [ $i -lt 50 ]; do
	ndev=0 nnet=0 nblk=0
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		ndev=$((ndev + 1))
		case $(drv_of "$d") in
		virtio_net) nnet=$((nnet + 1)) ;;
		virtio_blk) nblk=$((nblk + 1)) ;;
		esac
	done
	ok=1
	{ has net || has tap; } && [ $nnet = 0 ] && ok=0
	has blk && [ $nblk = 0 ] && ok=0
	[ $ok = 1 ] && break
	sleep 0.1
	i=$((i + 1))
done
plat=$(ls /sys/bus/platform/devices 2>/dev/null | grep -iE 'virtio|LNRO' | tr '\n' ' ')
if [ "${e2etransport:-mmio}" = pci ]; then
	# lspci-like: each PCI function's address, IDs, class and MSI-X vectors in
	# use; every virtio device must sit on a virtio-pci function, bound.
	pcis= onpci=0 msix=0 bridge=0
	for f in /sys/bus/pci/devices/*; do
		[ -e "$f" ] || continue
		v=$(cat $f/vendor) dv=$(cat $f/device) cl=$(cat $f/class)
		nm=$(ls $f/msi_irqs 2>/dev/null | wc -l)
		pcis="$pcis ${f##*/} ${v#0x}:${dv#0x} class ${cl#0x} msi=$nm drv=$(drv_of $f);"
		[ "$cl" = 0x060000 ] && bridge=1
		[ "$v" = 0x1af4 ] && [ "$nm" -gt 0 ] && msix=$((msix + 1))
	done
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		case $(readlink -f "$d") in */pci0000:00/*) onpci=$((onpci + 1)) ;; esac
	done
	ecam=$(dmesg | grep -m1 -E 'MMCONFIG|ECAM' | sed 's/^\[[^]]*\] //' | cut -c1-120)
	if [ $ok = 1 ] && [ $ndev -gt 0 ] && [ $onpci = $ndev ] && [ $bridge = 1 ] && [ $msix = $ndev ]; then
		check virtio-pci PASS "$ndev device(s) on PCI (net=$nnet blk=$nblk), all with MSI-X:$pcis ${ecam:-no MMCONFIG line}"
	else
		check virtio-pci FAIL "$ndev virtio device(s), $onpci on PCI, net=$nnet blk=$nblk (wanted $e2edevs), host bridge $bridge, $msix with MSI-X:${pcis:- no PCI function} $(dmesg | grep -iE 'pci|virtio' | tail -n 4 | tr '\n' '|')"
	fi
elif [ -n "$e2edevs" ] && [ $ndev = 0 ]; then
	check virtio-mmio FAIL "no virtio device found (platform devices: ${plat:-none}; Debian kernels find virtio-mmio only through the ACPI DSDT, HID LNRO0005)"
elif [ $ok = 1 ]; then
	check virtio-mmio PASS "$ndev device(s): net=$nnet blk=$nblk platform: $plat"
else
	check virtio-mmio FAIL "$ndev device(s) but net=$nnet blk=$nblk bound; wanted $e2edevs"
fi

# -- packed: which ring layout each driver negotiated -------------------------
# sysfs lists feature bits from 0 up, one character each: bit 34, the 35th
# character, is VIRTIO_F_RING_PACKED (virtio 1.2 §2.8).
if [ "${e2epacked:-0}" = 1 ]; then
	pk= npk=0 nsplit=0
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d/features" ] || continue
		b=$(cut -c35 "$d/features")
		pk="$pk ${d##*/}=$(drv_of "$d"):$b"
		[ "$b" = 1 ] && npk=$((npk + 1)) || nsplit=$((nsplit + 1))
	done
	if [ $npk -gt 0 ] && [ $nsplit = 0 ]; then
		check packed PASS "every driver negotiated VIRTIO_F_RING_PACKED:$pk"
	else
		check packed FAIL "$npk packed, $nsplit split (bit 34 of the features):${pk:- no virtio device}"
	fi
fi

# -- snapshot: L1 snapshots and restores this guest here ----------------------
blkdev() {	# the virtio_blk disk's name, its /dev node made
	bdev=
	for c in /sys/block/*; do
		[ "$(drv_of "$c/device")" = virtio_blk ] && bdev=${c##*/}
	done
	[ -n "$bdev" ] && [ ! -b /dev/$bdev ] && mknod /dev/$bdev b $(tr : ' ' < /sys/block/$bdev/dev)
}
if [ "${e2esnap:-0}" = 1 ]; then
	blkdev
	read up0 idle < /proc/uptime
	echo "L2-SNAP-READY l2_uptime=$up0 disk=${bdev:-none}"
	got= i=0
	while [ -n "$bdev" ] && [ $i -lt 240 ]; do
		echo 3 > /proc/sys/vm/drop_caches
		got=$(dd if=/dev/$bdev bs=512 skip=2 count=1 2>/dev/null | tr -d '\0' | head -c 64)
		case $got in "KESTREL-E2E-RESTORED ${e2enonce:-x}"*) break ;; esac
		sleep 0.5
		i=$((i + 1))
	done
	read up1 idle < /proc/uptime
	case $got in
	"KESTREL-E2E-RESTORED ${e2enonce:-x}"*)
		check snapshot PASS "restored: $bdev's sector 2 holds L1's restore marker after $(awk "BEGIN{print $up1 - $up0}") s of uptime; the checks below run on the restored guest" ;;
	*) check snapshot FAIL "no restore marker in ${bdev:-no disk}'s sector 2 after $(awk "BEGIN{print $up1 - $up0}") s (read '$got')" ;;
	esac
fi

# -- net: frames sent on the simulator's interface come back ------------------
if has net; then
	ifc=
	for c in /sys/class/net/*; do
		[ "$(drv_of "$c/device")" = virtio_net ] && ifc=${c##*/}
	done
	if [ -z "$ifc" ]; then
		check net FAIL "no interface bound to virtio_net"
	elif ! ip link set dev "$ifc" up; then
		check net FAIL "ip link set $ifc up failed"
	elif out=$(/bin/l2-net "$ifc" 8 "${e2enonce:-x}" 2>&1); then
		check net PASS "$ifc: $out"
	else
		check net FAIL "$ifc: $out"
	fi
	# -- mq: change the queue pairs in use, traffic on the last one ------
	if [ -n "$ifc" ] && [ "${e2emq:-0}" -gt 1 ]; then
		if out=$(/bin/l2-net "$ifc" 8 "${e2enonce:-x}" "$e2emq" 1 2>&1); then
			check mq PASS "$ifc: $out"
		else
			check mq FAIL "$ifc: $out"
		fi
	fi
fi

# -- tap: the interface with the MAC L1 gave comes up and reaches L1 ----------
if has tap; then
	ifc=
	for c in /sys/class/net/*; do
		[ "$(drv_of "$c/device")" = virtio_net ] && [ "$(cat "$c/address")" = "$e2etap" ] && ifc=${c##*/}
	done
	if [ -z "$ifc" ]; then
		check tap FAIL "no virtio_net interface has MAC $e2etap ($(cat /sys/class/net/*/address 2>/dev/null | tr '\n' ' '))"
	elif ! ip link set dev "$ifc" up || ! ip addr add 10.0.2.2/24 dev "$ifc"; then
		check tap FAIL "$ifc: cannot bring it up as 10.0.2.2/24"
	else
		got=0 i=0
		while [ $i -lt 5 ] && [ $got = 0 ]; do	# L1 may still be configuring its end
			out=$(ping -c 3 -W 2 10.0.2.1 2>&1) && got=1
			i=$((i + 1))
		done
		st=$(cat /sys/class/net/$ifc/operstate)
		if [ $got = 1 ]; then
			check tap PASS "$ifc ($e2etap) $st: $(echo "$out" | grep -m1 'packets transmitted')"
		else
			check tap FAIL "$ifc ($e2etap) $st: no reply from L1's 10.0.2.1: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
		fi
	fi
fi

# -- vsock: Linux's own virtio transport against L1's program (l2-vsock.c) ----
if has vsock; then
	vok=1
	for m in $(cat /lib/modules/order-vsock); do
		[ -d "/sys/module/${m%.ko}" ] && continue
		out=$(insmod /lib/modules/$m 2>&1) || { echo "L2: insmod $m: $out"; vok=0; }
	done
	if [ $vok = 0 ]; then
		check vsock-listen FAIL "the vsock modules did not load"
	else
		i=0	# the transport binds the device, then AF_VSOCK can reach the host
		while [ $i -lt 50 ] && ! ls -l /sys/bus/virtio/drivers/vmw_vsock_virtio_transport 2>/dev/null | grep -q virtio; do
			sleep 0.1
			i=$((i + 1))
		done
		/bin/l2-vsock guest "${e2evsockmib:-64}" ${e2evsockbench:-}
	fi
fi

# -- blk: read what the host put in sector 1, write our block to sector 0 -----
if has blk; then
	dev=
	for c in /sys/block/*; do
		[ "$(drv_of "$c/device")" = virtio_blk ] && dev=${c##*/}
	done
	if [ -z "$dev" ]; then
		check blk-read FAIL "no block device bound to virtio_blk"
	else
		[ -b /dev/$dev ] || mknod /dev/$dev b $(tr : ' ' < /sys/block/$dev/dev)
		got=$(dd if=/dev/$dev bs=512 skip=1 count=1 2>/dev/null | tr -d '\0' | head -c 64)
		case $got in
		"KESTREL-E2E-HOST ${e2enonce:-x}"*) check blk-read PASS "$dev: sector 1 holds the host's block ($(cat /sys/block/$dev/size) sectors)" ;;
		*) check blk-read FAIL "$dev: sector 1 reads '$got', wanted 'KESTREL-E2E-HOST ${e2enonce:-x}'" ;;
		esac
		printf 'KESTREL-E2E-GUEST %s\n' "${e2enonce:-x}" > /tmp/blk
		if dd if=/tmp/blk of=/dev/$dev bs=512 count=1 conv=sync,fsync 2>/dev/null && sync; then
			echo "L2: wrote sector 0 of $dev"
		else
			echo "L2: dd to sector 0 of /dev/$dev failed"
		fi
	fi
fi

# -- keyboard: Linux's i8042 and atkbd found the i8042's keyboard -------------
kname= kid= i=0
while [ $i -lt 50 ] && [ -z "$kname" ]; do
	for d in /sys/class/input/input*; do
		case $(cat "$d/name" 2>/dev/null) in
		"AT Translated Set 2 keyboard" | "AT Raw Set 2 keyboard")
			kname=$(cat "$d/name") kid=$(cat "$d/id/version") ;;
		esac
	done
	[ -n "$kname" ] || sleep 0.1
	i=$((i + 1))
done
if [ -z "$kname" ]; then
	check keyboard FAIL "no AT keyboard: $(dmesg | grep -iE 'i8042|atkbd|serio' | tail -n 3 | tr '\n' '|' | cut -c1-200)"
elif grep -qw i8042.dumbkbd /proc/cmdline; then
	check keyboard PASS "$kname (i8042.dumbkbd: bound without probing)"
elif [ "$kid" = ab41 ] || [ "$kid" = ab83 ]; then
	check keyboard PASS "$kname, id $kid: atkbd probed it (its GET ID was answered)"
else
	check keyboard FAIL "$kname with id $kid: atkbd did not read the keyboard's ID"
fi

# -- ACPI: the PM timer and the sleep states of kestrel's FADT and DSDT --------
cs=$(cat /sys/devices/system/clocksource/clocksource0/available_clocksource 2>/dev/null)
states=$(cat /sys/power/state 2>/dev/null)
sup=$(dmesg | grep -o 'ACPI: PM: (supports[^)]*)' | head -n 1)
pmt=$(dmesg | grep -o 'ACPI: PM-Timer IO Port: 0x[0-9a-f]*' | head -n 1)
if echo " $cs " | grep -q ' acpi_pm ' && echo " $states " | grep -q ' mem ' &&
	[ "$sup" = "ACPI: PM: (supports S0 S3 S5)" ] && [ -n "$pmt" ]; then
	check acpi PASS "$pmt; $sup; clocksources: $cs; /sys/power/state: $states"
else
	check acpi FAIL "pm-timer='$pmt' sleep='$sup' clocksources='$cs' /sys/power/state='$states'"
fi

# -- balloon: L1 sets the target, virtio_balloon takes it --------------------------
memkb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
if has balloon && [ $switching = 0 ] && [ -n "${e2ereport:-}" ]; then
	# Free page reporting: a file of e2ereport MiB (resident in kestrel),
	# deleted 3 s after saying so; L1 then waits for the reports and says
	# it is done with a 1 MiB target.
	dd if=/dev/zero of=/tmp/e2e-fill bs=1M count="$e2ereport" 2>/dev/null
	t0=$(memkb MemTotal)
	echo "L2-BALLOON touched $e2ereport MiB file; MemTotal $t0 KiB"
	sleep 3
	rm -f /tmp/e2e-fill
	echo "L2-BALLOON freed"
	i=0
	while [ $i -lt 900 ] && [ $(memkb MemTotal) -ge $t0 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ $(memkb MemTotal) -lt $t0 ]; then
		check balloon PASS "$e2ereport MiB freed for reporting; L1 measured and set a 1 MiB target"
	else
		check balloon FAIL "L1 never set the target that ends the reporting check (90 s)"
	fi
elif has balloon && [ $switching = 0 ]; then
	bkb=$((${e2eballoon:-64} * 1024))
	avail=$(memkb MemAvailable)
	# Every page written once, then freed: resident in kestrel, free here.
	dd if=/dev/zero of=/dev/null bs=$((avail - 24576))k count=1 2>/dev/null
	t0=$(memkb MemTotal)
	echo "L2-BALLOON touched $((avail - 24576)) KiB; MemTotal $t0 KiB"
	i=0
	while [ $i -lt 600 ] && [ $(memkb MemTotal) -gt $((t0 - bkb * 9 / 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	t1=$(memkb MemTotal)
	echo "L2-BALLOON inflated MemTotal $t0 -> $t1 KiB"
	if [ $t1 -le $((t0 - bkb * 9 / 10)) ]; then
		check balloon PASS "virtio_balloon took $(((t0 - t1) / 1024)) MiB (target ${e2eballoon:-64} MiB): MemTotal $t0 -> $t1 KiB"
	else
		check balloon FAIL "MemTotal $t0 -> $t1 KiB in 60 s: virtio_balloon did not take ${e2eballoon:-64} MiB ($(ls /sys/bus/virtio/drivers/virtio_balloon 2>/dev/null | tr '\n' ' '))"
	fi
	sleep 10
fi

# -- S3: suspend to RAM e2es3 times, each woken by an RTC alarm 2 s later -------
if [ "${e2es3:-0}" -gt 0 ]; then
	n=0 i=0 err=
	while [ $i -lt "$e2es3" ]; do
		i=$((i + 1))
		echo 0 > /sys/class/rtc/rtc0/wakealarm 2>/dev/null
		if ! echo +2 > /sys/class/rtc/rtc0/wakealarm; then
			err="cannot set rtc0's wakealarm"
			break
		fi
		read up0 idle < /proc/uptime
		if ! echo mem > /sys/power/state; then
			err="echo mem > /sys/power/state failed in round $i"
			break
		fi
		read up1 idle < /proc/uptime
		echo "L2: S3 round $i: back after $(awk "BEGIN{print $up1 - $up0}") s of uptime"
	done
	resumes=$(dmesg | grep -c 'ACPI: PM: Low-level resume complete')
	count_online	# the APs were offline across the sleep: INIT-SIPI again
	if [ -z "$err" ] && [ "$resumes" = "$e2es3" ] && [ "$n" = "$want" ]; then
		check s3 PASS "$resumes suspend(s) to RAM, woken by the RTC alarm: $(dmesg | grep -c 'PM: suspend exit') 'PM: suspend exit'; CPUs online after: $online"
	else
		check s3 FAIL "${err:-$resumes of $e2es3 resumes in dmesg}; CPUs online after: $online ($n of $want); $(dmesg | grep -E 'PM:|ACPI' | tail -n 3 | tr '\n' '|')"
	fi
fi

if [ "${e2eexit:-reboot}" = cad ]; then
	# Before L2-DONE, which tells L1 to send SendCtrlAltDel.
	echo 0 > /proc/sys/kernel/ctrl-alt-del
	trap 'echo "L2-CTRL-ALT-DEL init got SIGINT from the kernel (Ctrl+Alt+Del): reboot -f"; reboot -f' INT
fi
echo "L2-DONE"
case ${e2eexit:-reboot} in
poweroff) poweroff -f ;;
none) ;;
cad)
	i=0
	while [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	echo "L2: no Ctrl+Alt+Del within 60 s" ;;
*) reboot -f ;;
esac
sleep 30
echo "L2: still running 30 s after reboot -f"
