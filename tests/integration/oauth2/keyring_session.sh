#!/bin/sh
# keyring_session.sh PROGRAM [ARG]… — runs PROGRAM in a private D-Bus session bus with a real
# Secret Service (gnome-keyring-daemon, its "login" keyring made and unlocked with a test
# password, kept in a private temporary directory), and WEFT_TEST_KEYRING=1 so the
# OAuth2 broker's keyring test runs. Ends the bus (and the keyring with it) afterwards.
set -u
dir=$(mktemp -d /tmp/weft-keyring.XXXXXX) || exit 1
export HOME="$dir" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_RUNTIME_DIR="$dir/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export WEFT_TEST_KEYRING=1
dbus-run-session -- sh -c '
  printf "weft-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1
  exec "$@"' keyring-session "$@"
rc=$?
rm -rf "$dir"
exit $rc
