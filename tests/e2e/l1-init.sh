#!/bin/sh
# L1 /init for the kestrel end-to-end harness (busybox; built into the L1
# initramfs by tests/e2e/mk-l1-initramfs.sh). Loads kvm + kvm_amd (SVM, which
# QEMU's TCG emulates), then boots every case in /e2e/cases with kestrel:
#   <name> <flavour> <bzimage|pvh> <vcpus> <devs: net,blk,tap,vsock|none> [run|fc|fcput] [<l2 words>]
# vsock: --vsock cid=3,uds=/tmp/vsock-<name>.sock, with /bin/l2-vsock host in L1 as
# the other end of L2's /bin/l2-vsock guest (tests/e2e/l2-vsock.c); the L2 word
# e2evsockbench=TRIPS adds its benchmark (E2E-VSOCK-BENCH lines, bench/vsock-e2e.sh).
# run (the default): `kestrel run`. fc: kestrel's Firecracker-compatible mode
# with --api-sock and --config-file, and once L2 has done its checks,
# SendCtrlAltDel through the API socket (/bin/l1-fcapi): L2's init must see
# Ctrl+Alt+Del and reboot. fcput: the same mode with --api-sock alone, the VM
# built by PUT calls as firecracker-go-sdk makes them (machine-config,
# boot-source, drives, network-interfaces, InstanceStart): with blk the drive
# is the root device, an ext4 image L2 switch_roots into (e2eroot=1), with tap
# a network interface on TAP kl2tap0 (host_dev_name, guest_mac), whose L1 end
# gets 10.0.2.1/24 for L2 to ping, with balloon a balloon (PUT /balloon at
# 0 MiB, then PATCH /balloon to e2eballoon MiB once L2 wrote its memory,
# kestrel's VmRSS read before and after; with e2ereport=MIB free page
# reporting instead: L2 fills and deletes a MIB file, L1 waits for kestrel's
# metrics to count it reported and reads the RSS again). The optional last field is more words for L2's
# command line, comma-separated (l2-init.sh: e2es3=N suspends to RAM N
# times, e2eexit=poweroff ends with poweroff -f instead of reboot -f).
# snap: `kestrel run --snapshot DIR`; once L2 prints L2-SNAP-READY (e2esnap=1)
# SIGUSR1 writes the snapshot and kestrel exits; the disk is copied, the copy
# gets "KESTREL-E2E-RESTORED <nonce>" in sector 2, and `kestrel restore DIR
# --override-disk OLD=COPY` goes on with L2, whose later checks (net, blk)
# run restored; blk-write is then checked on the copy.
# and prints, for the host to parse (tests/e2e/run-l1.py):
#   E2E-CHECK <case> <check> PASS|FAIL <detail>     one per check
#   E2E-CASE <case> PASS|FAIL wall=<s> boot_timer_ms=<ms|none> try=<n>
#   E2E-L1-DONE
# Variables from L1's kernel command line: l2timeout (s, per L2 boot), l2mem,
# l2retry (boot again once when a run times out: TCG's nested SVM rarely loses
# an L2 interrupt), l2verbose=1 (L2 kernel not quiet), kestrelargs (extra
# words for `kestrel run`, commas for spaces).
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B --install -s /bin 2>/dev/null
export PATH=/bin HOME=/root
exec 2>&1
up() { cut -d' ' -f1 /proc/uptime; }
dt() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
echo "E2E-L1-INIT l1_uptime=$(up) $(uname -r) cpu:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x$(grep -c ^processor /proc/cpuinfo)"

t=$(up)
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m || echo "E2E-L1: insmod $m failed"
done
if [ -c /dev/kvm ]; then
	echo "E2E-L1-KVM /dev/kvm ready, modules took $(dt $t $(up)) s; npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
else
	echo "E2E-L1-KVM FAIL no /dev/kvm: $(dmesg | grep -iE 'kvm|svm' | tail -n 3 | tr '\n' ' ')"
fi

K=/bin/kestrel
help=$($K run --help 2>&1; $K --help 2>&1)
echo "E2E-L1: kestrel --help says:"
echo "$help" | head -n 30 | sed 's/^/E2E-L1:   /'
supports() {   # an option kestrel's help does not mention is reported, not passed
	[ -z "$help" ] && return 0
	echo "$help" | grep -q -- "$1"
}

TAP=kl2tap0 TAPMAC=06:00:ac:10:00:02	# the fcput case's TAP and guest_mac
BASE="console=ttyS0 panic=-1 reboot=k i8042.noaux i8042.nomux tsc=reliable no_timer_check nokaslr mitigations=off cryptomgr.notests 8250.nr_uarts=1 rcupdate.rcu_expedited=1 ipv6.disable=1"
[ "${l2verbose:-0}" = 1 ] || BASE="$BASE quiet"
allok=1

# run_case NAME FLAVOUR KIND CPUS DEVS HOW TRY [L2WORDS]
run_case() {
	name=$1 fl=$2 kind=$3 cpus=$4 devs=$5 how=$6 try=$7 l2raw=${8:-}
	l2words=$(echo "$l2raw" | tr , ' ')
	[ "$devs" = none ] && devs=
	case $kind in
	pvh) kern=/l2/$fl/vmlinux ;;
	*) kern=/l2/$fl/bzImage ;;
	esac
	nonce=$(cut -c1-8 /proc/sys/kernel/random/uuid)
	out=/tmp/out-$name
	disk=/tmp/disk-$name.img
	rm -f $out /tmp/rc /tmp/timedout /tmp/kpid /tmp/cad /tmp/balloon /tmp/metrics-$name
	nnote= bnote= pnote= spid=
	set -- run --kernel "$kern" --initrd /l2/$fl/initrd --cpus "$cpus" --memory "${l2mem:-256M}"
	case ",$devs," in *,net,*)
		# e2emq=N: N queue pairs (the mq check in L2).
		mq=$(echo "$l2raw" | tr , '\n' | sed -n 's/^e2emq=//p')
		if supports --net; then set -- "$@" --net "sim${mq:+,max_vqp=$mq}"; else nnote="kestrel run --help lists no --net"; fi ;;
	esac
	case ",$devs," in *,blk,*)
		if [ -f /l2/$fl/rootfs.ext4.gz ] && echo ",$l2raw," | grep -q ',e2eroot=1,'; then
			gunzip -c /l2/$fl/rootfs.ext4.gz > $disk	# its first 2 sectors are ext4's boot block
		else
			dd if=/dev/zero of=$disk bs=1M count=8 2>/dev/null
		fi
		printf 'KESTREL-E2E-HOST %s\n' "$nonce" | dd of=$disk bs=512 seek=1 conv=notrunc 2>/dev/null
		if supports --disk; then set -- "$@" --disk "$disk"; else bnote="kestrel run --help lists no --disk"; fi ;;
	esac
	# virtio-pci is the default for a Linux kernel: mmio cases ask for mmio.
	if supports --transport; then
		case ",$l2raw," in
		*,e2etransport=pci,*) set -- "$@" --transport pci ;;
		*) set -- "$@" --transport mmio ;;
		esac
	fi
	# Packed virtqueues are off by default: the packed cases ask.
	case ",$l2raw," in *,e2epacked=1,*)
		if supports --packed; then set -- "$@" --packed on; else pnote="kestrel run --help lists no --packed"; fi ;;
	esac
	vsock=
	case ",$devs," in *,vsock,*)
		# The host end listens at PATH_5000 first, then connects to PATH.
		vsock=/tmp/vsock-$name.sock
		rm -f $vsock ${vsock}_5000 /tmp/vsock-host
		set -- "$@" --vsock cid=3,uds=$vsock
		mib=$(echo "$l2raw" | tr , '\n' | sed -n 's/^e2evsockmib=//p')
		trips=$(echo "$l2raw" | tr , '\n' | sed -n 's/^e2evsockbench=//p')
		/bin/l2-vsock host $vsock "${mib:-64}" $trips > /tmp/vsock-host 2>&1 &
		vpid=$! ;;
	esac
	[ -n "${kestrelargs:-}" ] && set -- "$@" $(echo "$kestrelargs" | tr , ' ')
	case ",$devs," in *,tap,*) l2words="$l2words e2etap=$TAPMAC" ;; esac
	cmdline="$BASE e2ecpus=$cpus e2edevs=$devs e2enonce=$nonce${l2words:+ $l2words}"
	s3=0 l2exit=reboot bmib=64 rmib=
	for w in $l2words; do
		case $w in
		e2es3=*) s3=${w#e2es3=} ;;
		e2eballoon=*) bmib=${w#e2eballoon=} ;;
		e2ereport=*) rmib=${w#e2ereport=} bmib=$rmib ;;
		e2eexit=*) l2exit=${w#e2eexit=} ;;
		esac
	done
	set -- "$@" --cmdline "$cmdline"
	if [ "$how" = fc ]; then
		sock=/tmp/fc-$name.sock
		mem=${l2mem:-256M}
		case $mem in *G) mem=$((${mem%G} * 1024)) ;; *M) mem=${mem%M} ;; esac
		cat > /tmp/fc-$name.json <<-EOF
		{"boot-source": {"kernel_image_path": "$kern", "initrd_path": "/l2/$fl/initrd",
		                 "boot_args": "$cmdline e2eexit=cad"},
		 "machine-config": {"vcpu_count": $cpus, "mem_size_mib": $mem}}
		EOF
		rm -f $sock
		set -- --api-sock $sock --config-file /tmp/fc-$name.json
		# Once L2 has done its checks (and set its trap), press the keys.
		( while [ ! -f /tmp/rc ] && ! grep -q '^L2-DONE' $out 2>/dev/null; do sleep 1; done
		  [ -f /tmp/rc ] || /bin/l1-fcapi $sock PUT /actions '{"action_type": "SendCtrlAltDel"}' > /tmp/cad 2>&1 ) &
		spid=$!
	fi
	if [ "$how" = fcput ]; then
		sock=/tmp/fc-$name.sock
		mem=${l2mem:-256M}
		case $mem in *G) mem=$((${mem%G} * 1024)) ;; *M) mem=${mem%M} ;; esac
		rm -f $sock /tmp/api
		set -- --api-sock $sock
		# The go-sdk's order, each call one line "<status> <body>" in /tmp/api.
		( i=0
		  while [ ! -S $sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		  put() { echo "$1 $(/bin/l1-fcapi $sock PUT "$1" "$2" 2>&1)" >> /tmp/api; }
		  put /machine-config "{\"vcpu_count\": $cpus, \"mem_size_mib\": $mem}"
		  put /boot-source "{\"kernel_image_path\": \"$kern\", \"initrd_path\": \"/l2/$fl/initrd\", \"boot_args\": \"$cmdline\"}"
		  case ",$devs," in *,blk,*)
			put /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$disk\", \"is_root_device\": true, \"is_read_only\": false}" ;;
		  esac
		  case ",$devs," in *,tap,*)
			put /network-interfaces/eth0 "{\"iface_id\": \"eth0\", \"host_dev_name\": \"$TAP\", \"guest_mac\": \"$TAPMAC\"}" ;;
		  esac
		  case ",$devs," in *,balloon,*)
			rep=false
			[ -n "$rmib" ] && rep=true
			put /metrics "{\"metrics_path\": \"/tmp/metrics-$name\"}"
			put /balloon "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 1, \"free_page_reporting\": $rep}" ;;
		  esac
		  put /actions '{"action_type": "InstanceStart"}'
		  # balloon: kestrel's RSS once L2 wrote its memory, PATCH /balloon
		  # to e2eballoon MiB, its RSS again once L2 says it inflated.
		  case ",$devs," in *,balloon,*)
			bl() { i=0; while ! grep -q "^L2-BALLOON $1" $out 2>/dev/null && [ $i -lt 1800 ]; do sleep 0.1; i=$((i + 1)); done; }
			rss() { awk '$1 == "VmRSS:" {print $2}' /proc/$(cat /tmp/kpid)/status 2>/dev/null; }
			bl touched
			echo "before $(rss)" > /tmp/balloon
			if [ -n "$rmib" ]; then
				# e2ereport: L2 deletes its file; wait for kestrel's
				# metrics to count 3/4 of it reported, then signal
				# L2 with a 1 MiB target (its MemTotal falls).
				# Free memory is reported from boot on: count from here.
				reported() {
					/bin/l1-fcapi $sock PUT /actions '{"action_type": "FlushMetrics"}' > /dev/null 2>&1
					grep -o '"reported_bytes":[0-9]*' /tmp/metrics-$name | cut -d: -f2 | awk '{s += $1} END {print s + 0}'
				}
				# Until the RSS fell by half the file, at most 40 s: Linux
				# reports whole free 2 MiB blocks, some 2 s after they formed.
				b0=$(rss) base=$(reported) i=0 got=0
				while [ $((b0 - $(rss))) -lt $((rmib * 512)) ] && [ $i -lt 40 ]; do
					sleep 1
					i=$((i + 1))
				done
				got=$(($(reported) - base))
				echo "after $(rss)" >> /tmp/balloon
				echo "stats reported_bytes $got after $i s" >> /tmp/balloon
				echo "/balloon $(/bin/l1-fcapi $sock PATCH /balloon '{"amount_mib": 1}' 2>&1)" >> /tmp/api
			else
				echo "/balloon $(/bin/l1-fcapi $sock PATCH /balloon "{\"amount_mib\": $bmib}" 2>&1)" >> /tmp/api
				bl inflated
				echo "after $(rss)" >> /tmp/balloon
				echo "stats $(/bin/l1-fcapi $sock GET /balloon/statistics 2>&1)" >> /tmp/balloon
			fi ;;
		  esac
		  # kestrel made the TAP at InstanceStart: L1's end of the link.
		  case ",$devs," in *,tap,*)
			i=0
			while [ ! -e /sys/class/net/$TAP ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
			{ ip addr add 10.0.2.1/24 dev $TAP && ip link set $TAP up; } >> /tmp/api.tap 2>&1 ||
				echo "cannot configure $TAP: $(cat /tmp/api.tap)" >> /tmp/api.tap ;;
		  esac ) &
		spid=$!
	fi
	t0=$(up)
	snapnote=
	if [ "$how" = snap ]; then
		snapdir=/tmp/snap-$name
		rm -rf $snapdir /tmp/snaprc
		mkdir -p $snapdir
		echo "E2E-L1-RUN $name try=$try l1_uptime=$(up): kestrel $* --snapshot $snapdir"
		( $K "$@" --snapshot $snapdir </dev/null 2>&1 & echo $! > /tmp/kpid; wait $!; echo $? > /tmp/snaprc ) | tee -a $out &
		i=0
		while [ $i -lt "${l2timeout:-180}" ] && [ ! -f /tmp/snaprc ] && ! grep -q '^L2-SNAP-READY' $out; do
			sleep 1; i=$((i + 1))
		done
		ts=$(up)
		grep -q '^L2-SNAP-READY' $out && kill -USR1 $(cat /tmp/kpid)
		i=0
		while [ $i -lt 120 ] && [ ! -f /tmp/snaprc ]; do sleep 0.5; i=$((i + 1)); done
		[ -f /tmp/snaprc ] || kill -9 $(cat /tmp/kpid) 2>/dev/null
		sleep 0.5
		snapnote="SIGUSR1 to exit: $(dt $ts $(up)) s, status $(cat /tmp/snaprc 2>/dev/null || echo none); files: $(ls $snapdir | tr '\n' ' ')"
		cp $disk $disk.restored
		printf 'KESTREL-E2E-RESTORED %s\n' "$nonce" | dd of=$disk.restored bs=512 seek=2 conv=notrunc 2>/dev/null
		set -- restore $snapdir --override-disk "$disk=$disk.restored"
		disk0=$disk disk=$disk.restored
	fi
	echo "E2E-L1-RUN $name try=$try l1_uptime=$(up): kestrel $*"
	( $K "$@" </dev/null 2>&1 & echo $! > /tmp/kpid; wait $!; echo $? > /tmp/rc ) | tee -a $out &
	tpid=$!
	( i=0; while [ $i -lt "${l2timeout:-180}" ] && [ ! -f /tmp/rc ]; do sleep 1; i=$((i + 1)); done
	  if [ ! -f /tmp/rc ]; then
		echo "E2E-L1: $name: no exit after ${l2timeout:-180} s: killing kestrel"
		: > /tmp/timedout
		kill -9 $(cat /tmp/kpid) 2>/dev/null
		sleep 2   # a child left holding the pipe must not keep tee (and us) waiting
		kill $tpid 2>/dev/null
	  fi ) &
	wpid=$!
	wait $tpid
	kill $wpid 2>/dev/null
	[ -n "$vsock" ] && { kill $vpid 2>/dev/null; wait $vpid 2>/dev/null; }
	[ -n "$spid" ] && { kill $spid 2>/dev/null; wait $spid 2>/dev/null; }
	wall=$(dt $t0 $(up))
	rc=$(cat /tmp/rc 2>/dev/null || echo none)
	if [ -f /tmp/timedout ] && [ "$try" = 1 ] && [ "${l2retry:-1}" = 1 ]; then
		echo "E2E-L1: $name timed out (rc=$rc) after $wall s: one retry (TCG nested-SVM flake?)"
		dmesg | tail -n 5 | sed 's/^/E2E-L1: dmesg: /'
		run_case "$name" "$fl" "$kind" "$cpus" "${devs:-none}" "$how" 2 "$l2raw"
		return
	fi

	res=PASS
	chk() {   # check status detail
		echo "E2E-CHECK $name $1 $2 $3"
		[ "$2" = PASS ] || res=FAIL
	}
	if grep -q '^L2-INIT-REACHED' $out; then
		chk init PASS "$(grep -m1 '^L2-INIT-REACHED' $out | cut -c1-80)"
	else
		chk init FAIL "L2 never reached /init; last kestrel lines: $(grep -v '^$' $out | tail -n 3 | tr '\n' '|' | cut -c1-300)"
	fi
	btm=$(sed -n 's/.*BOOT-TIMER-MARKER ms=\([0-9.]*\).*/\1/p' $out | head -n 1)
	if [ -n "$btm" ]; then
		chk boot-timer PASS "kestrel saw the guest's write after $btm ms"
	else
		chk boot-timer FAIL "no BOOT-TIMER-MARKER from kestrel ($(grep -m1 'L2-CHECK boot-timer-write' $out | cut -d' ' -f3- | cut -c1-80))"
	fi
	grep '^L2-CHECK ' $out | grep -v ' boot-timer-write ' | while read -r _ c s d; do
		echo "E2E-CHECK $name $c $s $d"
	done
	grep -q '^L2-CHECK [^ ]* FAIL' $out && res=FAIL
	vcheck=virtio-mmio
	case ",$l2raw," in *,e2etransport=pci,*) vcheck=virtio-pci ;; esac
	for c in cpus modules $vcheck acpi; do
		grep -q "^L2-CHECK $c " $out || chk $c FAIL "L2 printed no result"
	done
	[ "$s3" -gt 0 ] && ! grep -q "^L2-CHECK s3 " $out && chk s3 FAIL "L2 printed no result"
	case ",$l2raw," in *,e2epacked=1,*)
		grep -q "^L2-CHECK packed " $out || chk packed FAIL "L2 printed no result${pnote:+ ($pnote)}" ;;
	esac
	case ",$devs," in *,net,*)
		grep -q "^L2-CHECK net " $out || chk net FAIL "L2 printed no result${nnote:+ ($nnote)}" ;;
	esac
	case ",$l2raw," in *,e2emq=*)
		grep -q "^L2-CHECK mq " $out || chk mq FAIL "L2 printed no result${nnote:+ ($nnote)}" ;;
	esac
	case ",$devs," in *,tap,*)
		grep -q "^L2-CHECK tap " $out || chk tap FAIL "L2 printed no result$(cat /tmp/api.tap 2>/dev/null | head -n 1 | sed 's/^/ (L1: /;s/$/)/')" ;;
	esac
	case ",$l2raw," in *,e2eroot=1,*)
		grep -q "^L2-CHECK rootfs " $out || chk rootfs FAIL "L2 printed no result" ;;
	esac
	if [ "$how" = snap ]; then
		grep -q "^L2-CHECK snapshot " $out || chk snapshot FAIL "L2 printed no result"
		if [ "$(cat /tmp/snaprc 2>/dev/null)" = 0 ] && grep -q 'snapshot: restored in' $out &&
			[ -n "$(ls $snapdir 2>/dev/null | grep '^memory-')" ] && [ -f $snapdir/state ]; then
			chk snapshot-host PASS "$snapnote; $(grep -m1 -o 'snapshot: restored in [0-9.]* ms' $out)"
		else
			chk snapshot-host FAIL "$snapnote; restore said: $(grep -m1 -iE 'snapshot|restore' $out | cut -c1-120)"
		fi
		rm -rf $snapdir $disk0
	fi
	case ",$devs," in *,balloon,*)
		grep -q "^L2-CHECK balloon " $out || chk balloon FAIL "L2 printed no result"
		what=ballooned
		[ -n "$rmib" ] && what="freed and reported"
		b0=$(awk '$1 == "before" {print $2}' /tmp/balloon 2>/dev/null)
		b1=$(awk '$1 == "after" {print $2}' /tmp/balloon 2>/dev/null)
		# Reporting gives back only the freed pages in whole free 2 MiB
		# blocks: at least half of the file; the balloon 3/4 of itself.
		want=$((bmib * 1024 * 3 / 4))
		[ -n "$rmib" ] && want=$((bmib * 1024 / 2))
		if [ -n "$b0" ] && [ -n "$b1" ] && [ $((b0 - b1)) -ge $want ]; then
			chk balloon-rss PASS "kestrel's VmRSS fell $(((b0 - b1) / 1024)) MiB ($b0 -> $b1 KiB) for $bmib MiB $what; $(grep '^stats ' /tmp/balloon | cut -c7-160)"
		else
			chk balloon-rss FAIL "kestrel's VmRSS '$b0' -> '$b1' KiB, wanted a fall of at least $((want / 1024)) MiB for $bmib MiB $what; $(grep '^stats ' /tmp/balloon | cut -c7-160)"
		fi ;;
	esac
	if [ -n "$vsock" ]; then
		for c in listen connect killed; do
			l=$(grep -m1 "^VSOCK-HOST $c " /tmp/vsock-host)
			if [ -n "$l" ]; then
				chk vsock-host-$c "$(echo "$l" | cut -d' ' -f3)" "$(echo "$l" | cut -d' ' -f4- | cut -c1-200)"
			else
				chk vsock-host-$c FAIL "the L1 end printed no result: $(tail -n 2 /tmp/vsock-host | tr '\n' '|' | cut -c1-200)"
			fi
		done
		for c in vsock-listen vsock-connect vsock-peer-killed; do
			grep -q "^L2-CHECK $c " $out || chk $c FAIL "L2 printed no result"
		done
		[ -e $vsock ] && chk vsock-host-listen FAIL "kestrel left its socket $vsock behind"
		grep '^VSOCK-BENCH ' /tmp/vsock-host | sed "s/^VSOCK-BENCH /E2E-VSOCK-BENCH $name /"
	fi
	if [ "$how" = fcput ]; then
		calls=$(cut -d' ' -f1,2 /tmp/api 2>/dev/null | tr '\n' ' ')
		if [ -s /tmp/api ] && ! awk '$2 != 204 {bad = 1} END {exit bad}' /tmp/api; then
			chk api FAIL "not every PUT answered 204: $(grep -v ' 204 ' /tmp/api | head -n 2 | tr '\n' '|' | cut -c1-240)"
		elif grep -q '^/actions ' /tmp/api 2>/dev/null; then
			chk api PASS "204 for each of $calls"
		else
			chk api FAIL "the PUT calls did not run (socket never appeared?): ${calls:-none}"
		fi
	fi
	case ",$devs," in *,blk,*)
		grep -q "^L2-CHECK blk-read " $out || chk blk-read FAIL "L2 printed no result${bnote:+ ($bnote)}"
		got=$(dd if=$disk bs=512 count=1 2>/dev/null | tr -d '\0' | head -n 1 | cut -c1-60)
		if [ "$got" = "KESTREL-E2E-GUEST $nonce" ]; then
			chk blk-write PASS "sector 0 of the image holds L2's block after kestrel exited"
		else
			chk blk-write FAIL "sector 0 of the image holds '$got', wanted 'KESTREL-E2E-GUEST $nonce'${bnote:+ ($bnote)}"
		fi
		rm -f $disk ;;
	esac
	if [ "$how" = fc ]; then
		cad=$(head -n 1 /tmp/cad 2>/dev/null | cut -c1-120)
		if [ "${cad%% *}" = 204 ] && grep -q '^L2-CTRL-ALT-DEL' $out; then
			chk ctrl-alt-del PASS "PUT /actions SendCtrlAltDel: 204; L2's init got SIGINT from the kernel and rebooted"
		elif [ "${cad%% *}" = 204 ]; then
			chk ctrl-alt-del FAIL "PUT /actions SendCtrlAltDel: 204, but L2's init never saw Ctrl+Alt+Del"
		else
			chk ctrl-alt-del FAIL "PUT /actions SendCtrlAltDel: '${cad:-not sent: L2 never printed L2-DONE}'"
		fi
	fi
	if [ "$s3" -gt 0 ]; then
		woke=$(grep -c 'acpi-pm: woken from S3' $out)
		if [ "$woke" = "$s3" ]; then
			chk s3-host PASS "kestrel put L2's vCPUs to sleep and woke them $woke time(s): $(grep -m1 'acpi-pm: woken from S3' $out | sed 's/.*acpi-pm: //' | cut -c1-80)"
		else
			chk s3-host FAIL "kestrel logged $woke S3 wake(s), wanted $s3"
		fi
	fi
	if [ "$l2exit" = poweroff ]; then
		exitmsg="poweroff -f (ACPI S5: $(grep -c 'acpi-pm: the guest entered S5' $out) 'entered S5' line)"
		grep -q 'acpi-pm: the guest entered S5' $out || rc="$rc, no S5 line"
	else
		exitmsg="reboot -f"
	fi
	if [ -f /tmp/timedout ]; then
		chk exit FAIL "kestrel still running after ${l2timeout:-180} s (killed)"
	elif [ "$rc" = 0 ] && grep -q '^L2-DONE' $out; then
		chk exit PASS "L2 ran $exitmsg, kestrel exited 0 after $wall s"
	elif [ "$rc" = 0 ]; then
		chk exit FAIL "kestrel exited 0 before L2 finished its checks"
	else
		chk exit FAIL "kestrel exited with status $rc after $wall s"
	fi
	if [ $res != PASS ]; then
		allok=0
		dmesg | tail -n 5 | sed 's/^/E2E-L1: dmesg: /'
	fi
	echo "E2E-CASE $name $res wall=$wall boot_timer_ms=${btm:-none} try=$try"
}

if [ -c /dev/kvm ]; then
	while read -r name fl kind cpus devs how l2words; do
		case $name in '' | '#'*) continue ;; esac
		run_case "$name" "$fl" "$kind" "$cpus" "$devs" "${how:-run}" 1 "$l2words" </dev/null
	done < /e2e/cases
fi
echo "E2E-L1-DONE all=$([ $allok = 1 ] && echo PASS || echo FAIL) l1_uptime=$(up)"
poweroff -f
sleep 10
