#!/bin/sh
# The sysusers.d and tmpfiles.d entries the package installs (deploy/systemd/weft.*) are
# valid and make what docs/install.md says: applied by systemd's own tools to an empty root
# (--root), they create the system user and group weft with home /var/lib/weft and no login
# shell, /var/lib/weft 0750 and /run/weft 0700 owned by it; and the tools reject a broken line,
# so the check can fail.
set -eu
src=$1
root=$(mktemp -d /tmp/weft-entries-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"
fail() { echo "FAIL: $*" >&2; exit 1; }

systemd-sysusers --root="$root" - < "$src/deploy/systemd/weft.sysusers" || fail "systemd-sysusers refused weft.sysusers"
grep -q '^weft:x:[0-9]*:[0-9]*:weft AI-agent gateway:/var/lib/weft:/usr/sbin/nologin$' "$root/etc/passwd" ||
  fail "no user weft in $(cat "$root/etc/passwd")"
uid=$(awk -F: '$1=="weft"{print $3}' "$root/etc/passwd")
[ "$uid" -lt 1000 ] || fail "weft is not a system user (uid $uid)"
grep -q '^weft:x:' "$root/etc/group" || fail "no group weft"

systemd-tmpfiles --root="$root" --create - < "$src/deploy/systemd/weft.tmpfiles" || fail "systemd-tmpfiles refused weft.tmpfiles"
[ "$(stat -c '%a %u' "$root/var/lib/weft")" = "750 $uid" ] || fail "/var/lib/weft is $(stat -c '%a %u' "$root/var/lib/weft")"
[ "$(stat -c '%a %u' "$root/run/weft")" = "700 $uid" ] || fail "/run/weft is $(stat -c '%a %u' "$root/run/weft")"

# Re-applying changes nothing (the package's postinst runs them on every upgrade).
systemd-sysusers --root="$root" - < "$src/deploy/systemd/weft.sysusers" || fail "second systemd-sysusers run failed"
[ "$(grep -c '^weft:' "$root/etc/passwd")" = 1 ] || fail "user weft twice"

# The tools do reject what is wrong.
if echo 'u we!ft - "x"' | systemd-sysusers --root="$root" - 2>/dev/null; then fail "a bad user name was accepted"; fi
if echo 'd /var/lib/weft 07x weft weft -' | systemd-tmpfiles --root="$root" --create - 2>/dev/null; then
  fail "a bad mode was accepted"
fi
echo "ok: user weft (uid $uid), /var/lib/weft 0750, /run/weft 0700"
