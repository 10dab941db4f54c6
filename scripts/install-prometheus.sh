#!/bin/sh
# install-prometheus.sh — make promtool (rule tests in deploy/prometheus) and the prometheus server
# binary (end-to-end scrape tests, which run it themselves on a free port) available.
#
# Idempotent: does nothing when both are already on PATH. Otherwise installs the distribution's
# prometheus package (Debian/Ubuntu), which carries promtool, and makes sure the install leaves no
# prometheus daemon running: only promtool is wanted, not a server on :9090.
set -eu

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi

# disable_unit undoes the package's "enable prometheus.service at boot". Debian's postinst enables
# the unit with deb-systemd-helper even when policy-rc.d forbids starting it, and that helper
# refuses to run outside dpkg ("was not called from dpkg"), so the wants/ links are removed
# directly; systemctl does the same when systemd runs. Runs on every call, so a machine whose
# package was installed earlier (by hand, or by an older version of this script) is fixed too.
disable_unit() {
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	fi
	for link in /etc/systemd/system/*.wants/prometheus.service; do
		[ -L "$link" ] || continue
		echo "removing $link (prometheus.service must not start at boot)"
		$SUDO rm -f "$link"
	done
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		# Keep deb-systemd-helper's own record in step, so a later package upgrade does not
		# re-enable the unit.
		$SUDO env DPKG_MAINTSCRIPT_PACKAGE=prometheus DPKG_MAINTSCRIPT_NAME=postinst \
			deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
	fi
}

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
	disable_unit
	echo "promtool present: $(promtool --version 2>&1 | head -n 1)"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-prometheus.sh: promtool is missing and apt-get is not available;" >&2
	echo "install prometheus (it ships promtool) with this system's package manager" >&2
	exit 1
fi

# Stop the package's postinst from starting the daemon (Debian's policy-rc.d protocol: exit 101 =
# action forbidden). Docker images usually have one already; a CI VM with systemd does not.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 0755 "$policy"
	made_policy=1
fi
cleanup() {
	if [ -n "$made_policy" ]; then
		$SUDO rm -f "$policy"
	fi
}
trap cleanup EXIT

# PIDs of prometheus servers already running before the install are not ours to touch.
before=$(pgrep -x prometheus 2>/dev/null || true)

$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus

# policy-rc.d forbids starting, not enabling: the package's postinst still enables the unit for the
# next boot. Undo that, and stop the daemon if it started anyway.
disable_unit
for pid in $(pgrep -x prometheus 2>/dev/null || true); do
	case " $(echo $before) " in
	*" $pid "*) ;;
	*)
		echo "stopping prometheus daemon $pid started by the package install"
		$SUDO kill "$pid" || true
		;;
	esac
done

promtool --version 2>&1 | head -n 1
