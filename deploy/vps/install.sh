#!/usr/bin/env bash
# deploy/vps/install.sh — install weft on a Debian 12 / Ubuntu 22.04+ server in one command.
# Run it with --help for what it does; docs/install.md, "One-command VPS install".
set -euo pipefail

prog=install.sh
conf=/etc/weft/clawft.toml
envfile=/etc/weft/weft.env
state=/var/lib/weft
rundir=/run/weft
# Without systemd as PID 1 this script starts weftd itself: its pid file and log.
pidfile=/run/weftd.pid
logdir=/var/log/weft
logfile=$logdir/weftd.log

usage() {
  cat <<'USAGE'
usage: install.sh [OPTIONS]                install or update weft, configure it, start it
       install.sh --uninstall [--keep-data] stop weft and remove it

Installs weft's .deb (apt-get resolves its dependencies), writes the LLM provider, the web
chat port and an optional Telegram bot into /etc/weft/clawft.toml, puts the secrets into
/etc/weft/weft.env (mode 0600, root's; the config names them as ${NAME}), starts weftd
(systemctl enable --now weftd; without systemd as PID 1 — a container, WSL — as user weft in
the background) and prints the web chat's URL with its token.

Package:
  --deb PATH              the weft_<version>_<arch>.deb to install (default: a weft_*.deb
                          beside this script, else the one at --deb-url)
  --deb-url URL           download the .deb from URL (curl or wget)
  --from-source DIR       build the .deb from a weft source tree with 'tools/dev deb'
                          (needs the build dependencies: DIR/tools/dev setup; slow)

LLM provider (one; run again to change it):
  --provider NAME         anthropic, openai, openrouter, gemini, groq, deepseek, mistral, xai,
                          together, azure, ollama, vllm, llamacpp, lmstudio; any other name
                          is an OpenAI-compatible server at --provider-url
  --provider-url URL      the provider's base URL (required for other names and azure)
  --model MODEL           its chat model (default: the provider's)
  --api-key KEY           its API key (visible in the process list: prefer the next two)
  --api-key-file FILE     read the key from FILE
                          Else: $WEFT_API_KEY or the provider's own variable (e.g.
                          $ANTHROPIC_API_KEY), else the key already in /etc/weft/weft.env,
                          else asked for on a terminal.

Channels:
  --port PORT             web chat port on 127.0.0.1 (default 8780)
  --mcp-port PORT         weft's MCP server port on 127.0.0.1 (default 8781)
  --telegram-token TOKEN  run the Telegram bot with this token (or $TELEGRAM_TOKEN)

Other:
  --timeout SECONDS       how long to wait for weft to be ready (default 90)
  --uninstall             stop weft, purge the package and what this script added; the
                          system user weft stays (Debian policy)
  --keep-data             with --uninstall: keep /var/lib/weft (agents' workspaces, memory,
                          sessions, the audit chain)
  -h, --help              this help

Running it again with the same options changes nothing and says so; weftd is restarted only
when its config or secrets changed. Exit codes: 0 done, 1 refused or failed, 2 usage error.
USAGE
}

# How to name this script to run it again ("bash install.sh" when it came through a pipe).
case $0 in */install.sh|install.sh) self=$0 ;; *) self=install.sh ;; esac
say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
fail() { die "Failed to $1 '$2': $3"; }
usage_error() { printf '%s: %s (see --help)\n' "$prog" "$*" >&2; exit 2; }

deb="" deb_url="" from_source="" provider="" provider_url="" model="" api_key="" api_key_file=""
port=8780 mcp_port=8781 telegram_token="" timeout=90 uninstall=0 keep_data=0
need_arg() { [ $# -ge 2 ] || usage_error "option '$1' needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --deb) need_arg "$@"; deb=$2; shift 2 ;;
    --deb-url) need_arg "$@"; deb_url=$2; shift 2 ;;
    --from-source) need_arg "$@"; from_source=$2; shift 2 ;;
    --provider) need_arg "$@"; provider=$2; shift 2 ;;
    --provider-url) need_arg "$@"; provider_url=$2; shift 2 ;;
    --model) need_arg "$@"; model=$2; shift 2 ;;
    --api-key) need_arg "$@"; api_key=$2; shift 2 ;;
    --api-key-file) need_arg "$@"; api_key_file=$2; shift 2 ;;
    --port) need_arg "$@"; port=$2; shift 2 ;;
    --mcp-port) need_arg "$@"; mcp_port=$2; shift 2 ;;
    --telegram-token) need_arg "$@"; telegram_token=$2; shift 2 ;;
    --timeout) need_arg "$@"; timeout=$2; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --keep-data) keep_data=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
is_port() { case $1 in ''|*[!0-9]*) return 1 ;; esac; [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
is_port "$port" || usage_error "--port '$port' is not a port number (1-65535)"
is_port "$mcp_port" || usage_error "--mcp-port '$mcp_port' is not a port number (1-65535)"
[ "$port" != "$mcp_port" ] || usage_error "--port and --mcp-port are both $port"
case $timeout in ''|*[!0-9]*) usage_error "--timeout '$timeout' is not a number of seconds" ;; esac
[ $keep_data = 0 ] || [ $uninstall = 1 ] || usage_error "--keep-data goes with --uninstall"
case $provider in
  ''|[a-z0-9]|[a-z0-9][a-z0-9_-]*) ;;
  *) usage_error "--provider '$provider' must be lower-case letters, digits, '-' and '_'" ;;
esac
[ -z "$provider_url" ] || [ -n "$provider" ] || usage_error "--provider-url needs --provider NAME"
case $provider_url in ''|http://*|https://*) ;; *) usage_error "--provider-url '$provider_url' is not an http(s) URL" ;; esac

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- preconditions ----------------------------------------------------------------------

[ "$(id -u)" = 0 ] || die "Failed to install weft: this script needs root (run it with sudo)"

check_os() {
  [ -r /etc/os-release ] || fail "install weft on" "this system" "/etc/os-release is missing; Debian 12+ or Ubuntu 22.04+ needed"
  local id version
  id=$(. /etc/os-release && printf '%s' "${ID:-}")
  version=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
  case $id in
    debian) [ "${version%%.*}" -ge 12 ] 2>/dev/null && return 0 ;;
    ubuntu) [ "${version%%.*}" -gt 22 ] 2>/dev/null || { [ "${version%%.*}" = 22 ] && [ "${version#*.}" -ge 4 ] 2>/dev/null; } && return 0 ;;
  esac
  fail "install weft on" "${id:-unknown} ${version:-?}" "only Debian 12+ and Ubuntu 22.04+ are supported"
}

weft_uid() { getent passwd weft 2>/dev/null | cut -d: -f3; }

# The uids of the TCP listeners on PORT (any address), one a line: ss when there is one,
# else /proc/net/tcp{,6} (a minimal root has no iproute2).
listeners_of() {
  local p=$1 out hex
  if command -v ss >/dev/null 2>&1 && out=$(ss -Hltne "sport = :$p" 2>/dev/null); then
    printf '%s\n' "$out" | awk 'NF { u = 0; for (i = 1; i <= NF; i++) if ($i ~ /^uid:/) u = substr($i, 5); print u }'
  else
    hex=$(printf '%04X' "$p")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
      awk -v h="$hex" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == h) print $8 }'
  fi
}

# A port is taken when something other than weft's own user listens there (a running weft
# holds its ports on a re-run).
check_port() {
  local what=$1 p=$2 uid mine
  mine=$(weft_uid || true)
  for uid in $(listeners_of "$p"); do
    [ -n "$mine" ] && [ "$uid" = "$mine" ] && continue
    fail "use the $what port" "127.0.0.1:$p" "another program listens on it (choose another with --${3}port)"
  done
}

# --- helpers ---------------------------------------------------------------------------

systemd_runs() { [ -d /run/systemd/system ]; }

# A TOML basic string.
toml_str() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

# toml_set FILE TABLE KEY VALUE: sets KEY = VALUE (already TOML) in [TABLE] of FILE — the
# key's line replaced, else added after the table's last key (or its header); the table
# added at the end when the file has none. Everything else stays as it is, comments too.
toml_set() {
  local f=$1 t=$2 k=$3 v=$4 tmp
  tmp=$(mktemp "$f.XXXXXX")
  awk -v T="$t" -v K="$k" -v V="$v" '
    function header(line,   s) {
      if (line !~ /^[ \t]*\[[^\[]/) return "\001"   # [[array]] tables never match
      s = line; sub(/^[ \t]*\[[ \t]*/, "", s); sub(/[ \t]*\].*$/, "", s); return s
    }
    function is_table(line) { return line ~ /^[ \t]*\[/ }
    function is_key(line,   re) { re = "^[ \t]*" K "[ \t]*="; return line ~ re }
    NR == FNR {
      if (is_table($0)) { cur = header($0); if (cur == T && !seen) { seen = 1; after = FNR } }
      else if (cur == T && is_key($0)) has = 1
      else if (cur == T && seen == 1 && $0 !~ /^[ \t]*(#.*)?$/) after = FNR
      if (is_table($0) && cur != T && seen) seen = 2
      next
    }
    has && is_table($0) { cur = header($0) }
    has && cur == T && is_key($0) && !done { print K " = " V; done = 1; next }
    { print }
    !has && seen && FNR == after { print K " = " V }
    END { if (!seen) { print ""; print "[" T "]"; print K " = " V } }
  ' "$f" "$f" >"$tmp"
  mv "$tmp" "$f"
}

# env_set FILE NAME VALUE: NAME=VALUE replaces the line of NAME or is appended.
env_set() {
  local f=$1 n=$2 v=$3 tmp
  tmp=$(mktemp "$f.XXXXXX")
  awk -v N="$n" -v V="$v" 'BEGIN { p = N "=" } index($0, p) == 1 { if (!done) print N "=" V; done = 1; next }
    { print } END { if (!done) print N "=" V }' "$f" >"$tmp"
  mv "$tmp" "$f"
}
env_get() { [ -f "$2" ] && sed -n "s/^$1=//p" "$2" | head -n1; }

# Secrets go into the env file as unquoted NAME=value, which systemd and this script read
# alike only without quotes, backslashes, spaces or control characters.
check_secret() {
  case $2 in
    '') fail "store" "$1" "it is empty" ;;
    *[[:space:]\"\'\\\$\`]*|*[[:cntrl:]]*) fail "store" "$1" "it holds spaces, quotes, backslashes, \$ or control characters" ;;
  esac
}

# env_of FILE: the NAME=value lines of an env file into the array env_args (for env(1); no
# shell evaluation of the values).
env_of() {
  local line
  env_args=()
  [ -f "$1" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      [A-Za-z_]*=\"*\"|[A-Za-z_]*=\'*\') # quoted, as systemd allows: the quotes go
        env_args+=("${line%%=*}=$(printf '%s' "${line#*=}" | sed 's/^.//; s/.$//')") ;;
      [A-Za-z_]*=*) env_args+=("$line") ;;
    esac
  done <"$1"
}
# Runs "$@" with the variables of the env file FILE (first argument) added.
with_env() {
  local f=$1
  shift
  env_of "$f"
  env "${env_args[@]}" "$@"
}

weftctl_() { weftctl --runtime-dir "$rundir" "$@"; }

# The pid of the weftd this script started, when it still runs.
own_weftd_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = weftd ] && printf '%s' "$pid"
}

stop_own_weftd() {
  local pid
  pid=$(own_weftd_pid) || { rm -f "$pidfile"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    note "weftd (pid $pid) did not stop in 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# --- uninstall --------------------------------------------------------------------------

if [ $uninstall = 1 ]; then
  say "Stopping weft"
  if systemd_runs && systemctl list-unit-files weftd.service >/dev/null 2>&1; then
    systemctl disable --now weftd.service >/dev/null 2>&1 || true
  fi
  stop_own_weftd
  kept=""
  if [ $keep_data = 1 ] && [ -d "$state" ]; then
    # The package's purge removes /var/lib/weft: it waits beside it meanwhile.
    kept=$(mktemp -d /var/lib/weft.keep.XXXXXX)
    mv "$state" "$kept/weft"
  fi
  if dpkg-query -W -f='${Status}' weft 2>/dev/null | grep -q ' installed$\| config-files$'; then
    say "Purging the package weft"
    if command -v apt-get >/dev/null 2>&1; then
      out=$(apt-get purge -y weft 2>&1) || { [ -z "$kept" ] || mv "$kept/weft" "$state"; fail "purge" "weft" "$(printf '%s' "$out" | tail -n 5)"; }
    else
      out=$(dpkg --purge weft 2>&1) || { [ -z "$kept" ] || mv "$kept/weft" "$state"; fail "purge" "weft" "$(printf '%s' "$out" | tail -n 5)"; }
    fi
  else
    note "the package weft is not installed"
  fi
  say "Removing what this script added"
  rm -rf "$logdir" "$pidfile"
  rm -f "$envfile"
  rmdir /etc/weft 2>/dev/null || true
  if [ -n "$kept" ]; then
    mv "$kept/weft" "$state"
    rmdir "$kept"
    note "kept $state (--keep-data)"
  fi
  say "weft is uninstalled"
  note "stays: the system user and group 'weft' (Debian policy: files may still be theirs; 'deluser --system weft' removes them)"
  [ $keep_data = 0 ] || note "stays: $state, owned by weft"
  exit 0
fi

# --- install ----------------------------------------------------------------------------

say "Checking the system"
check_os
command -v dpkg >/dev/null 2>&1 || fail "install weft on" "this system" "dpkg is missing"
weft_running=0
if systemd_runs; then
  systemctl --quiet is-active weftd.service 2>/dev/null && weft_running=1
else
  own_weftd_pid >/dev/null && weft_running=1
fi
check_port "web chat" "$port" ""
check_port "MCP" "$mcp_port" "mcp-"
note "$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$ID $VERSION_ID}"), $(uname -m), ports $port and $mcp_port free$([ $weft_running = 0 ] || echo ' (or weft'"'"'s own)')"

# The provider and its key, before anything is installed (a missing key changes nothing).
key_var="" key_needed=1
case $provider in
  '') key_needed=0 ;;
  anthropic) key_var=ANTHROPIC_API_KEY ;;
  openai) key_var=OPENAI_API_KEY ;;
  openrouter) key_var=OPENROUTER_API_KEY ;;
  gemini) key_var=GEMINI_API_KEY ;;
  groq) key_var=GROQ_API_KEY ;;
  deepseek) key_var=DEEPSEEK_API_KEY ;;
  mistral) key_var=MISTRAL_API_KEY ;;
  xai) key_var=XAI_API_KEY ;;
  together) key_var=TOGETHER_API_KEY ;;
  azure) key_var=AZURE_OPENAI_API_KEY
         [ -n "$provider_url" ] || usage_error "--provider azure needs --provider-url https://<resource>.openai.azure.com/openai/deployments/<deployment>" ;;
  ollama|vllm|llamacpp|lmstudio) key_needed=0 ;;
  *) [ -n "$provider_url" ] || usage_error "--provider '$provider' is no built-in provider: give its --provider-url"
     key_var=WEFT_$(printf '%s' "$provider" | tr 'a-z-' 'A-Z_')_API_KEY ;;
esac
if [ -n "$key_var" ]; then
  if [ -n "$api_key_file" ]; then
    [ -r "$api_key_file" ] || fail "read the API key from" "$api_key_file" "no such readable file"
    api_key=$(head -n1 "$api_key_file" | tr -d '\r\n')
  fi
  [ -n "$api_key" ] || api_key=${WEFT_API_KEY:-}
  [ -n "$api_key" ] || api_key=$(printenv "$key_var" || true)
  [ -n "$api_key" ] || api_key=$(env_get "$key_var" "$envfile" || true)
  if [ -z "$api_key" ] && [ -t 0 ] && [ "$key_needed" = 1 ]; then
    printf '%s API key (%s; input hidden, empty: none): ' "$provider" "$key_var" >&2
    stty -echo 2>/dev/null || true
    IFS= read -r api_key || true
    stty echo 2>/dev/null || true
    printf '\n' >&2
  fi
  if [ -z "$api_key" ]; then
    case $provider in
      anthropic|openai|openrouter|gemini|groq|deepseek|mistral|xai|together|azure)
        fail "configure the provider" "$provider" "no API key (give --api-key-file FILE, --api-key KEY or \$$key_var)" ;;
      *) key_var="" ;;  # a custom server may need no key
    esac
  else
    check_secret "the API key of $provider" "$api_key"
  fi
fi
[ -n "$telegram_token" ] || telegram_token=${TELEGRAM_TOKEN:-}
[ -z "$telegram_token" ] || check_secret "the Telegram token" "$telegram_token"
if [ -z "$provider" ]; then
  note "no --provider given: the config's providers stay as they are (without one weft starts, and the web chat says how to add one)"
fi

# The package: --deb, --from-source, one beside this script, or --deb-url.
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd || echo .)
tmpdir=$(mktemp -d /tmp/weft-install.XXXXXX)
trap 'rm -rf "$tmpdir"' EXIT
if [ -n "$from_source" ]; then
  say "Building the package from $from_source (tools/dev deb)"
  [ -x "$from_source/tools/dev" ] || fail "build the package from" "$from_source" "no tools/dev there (not a weft source tree)"
  out=$("$from_source/tools/dev" deb 2>&1) || fail "build the package from" "$from_source" "$(printf '%s' "$out" | tail -n 5)"
  deb=$(printf '%s\n' "$out" | grep '\.deb$' | tail -n1)
  [ -n "$deb" ] || fail "build the package from" "$from_source" "tools/dev deb named no .deb"
elif [ -z "$deb" ] && [ -n "$deb_url" ]; then
  say "Downloading $deb_url"
  deb=$tmpdir/weft.deb
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$deb" "$deb_url" || fail "download" "$deb_url" "curl failed"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$deb" "$deb_url" || fail "download" "$deb_url" "wget failed"
  else
    fail "download" "$deb_url" "neither curl nor wget is installed (apt-get install curl, or give --deb)"
  fi
elif [ -z "$deb" ]; then
  deb=$(ls -1 "$here"/weft_*.deb 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$deb" ] || die "Failed to find weft's package: none given and none to download (give --deb weft_<version>_<arch>.deb, --deb-url URL or --from-source DIR)"
fi
[ -f "$deb" ] || fail "read the package" "$deb" "no such file"
case $deb in /*) ;; *) deb=$(pwd)/$deb ;; esac
deb_version=$(dpkg-deb -f "$deb" Version 2>/dev/null) || fail "read the package" "$deb" "not a .deb"
[ "$(dpkg-deb -f "$deb" Package)" = weft ] || fail "read the package" "$deb" "it is not weft's"
deb_arch=$(dpkg-deb -f "$deb" Architecture)
[ "$deb_arch" = "$(dpkg --print-architecture)" ] || [ "$deb_arch" = all ] ||
  fail "install" "$deb" "it is for $deb_arch, this system is $(dpkg --print-architecture)"

installed=$(dpkg-query -W -f='${Status} ${Version}' weft 2>/dev/null || true)
package_changed=0
if [ "$installed" = "install ok installed $deb_version" ]; then
  say "Package weft $deb_version is installed already"
else
  say "Installing weft $deb_version (${deb##*/})"
  package_changed=1
  # A changed /etc/weft/clawft.toml (this script changes it) is kept on upgrades.
  dpkg_opts="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
  if command -v apt-get >/dev/null 2>&1; then
    # Its Depends come from the distribution: when apt cannot resolve them (no package lists
    # yet, as on a fresh image), the lists are updated once and it tries again.
    # shellcheck disable=SC2086
    if ! out=$(apt-get install -y --no-install-recommends $dpkg_opts "$deb" 2>&1); then
      printf '%s\n' "$out" | grep -qE 'unmet dependencies|Unable to locate|no installation candidate|Depends:' ||
        fail "install" "${deb##*/}" "apt-get: $(printf '%s' "$out" | grep -E '^E:' | tail -n 3)"
      note "apt-get could not resolve the dependencies: updating the package lists (apt-get update)"
      out=$(apt-get update -q 2>&1) || fail "update the package lists" "apt-get update" "$(printf '%s' "$out" | grep -E '^(E|W):' | tail -n 3)"
      # shellcheck disable=SC2086
      out=$(apt-get install -y --no-install-recommends $dpkg_opts "$deb" 2>&1) ||
        fail "install" "${deb##*/}" "apt-get: $(printf '%s' "$out" | grep -E '^E:|Depends:' | tail -n 6)
(a package built on another release? build it on this one: --from-source DIR)"
    fi
  else
    out=$(dpkg --force-confdef --force-confold -i "$deb" 2>&1) ||
      fail "install" "${deb##*/}" "dpkg: $(printf '%s' "$out" | tail -n 3)"
  fi
fi
for t in weftd weftctl; do command -v $t >/dev/null || fail "install" "weft" "$t is not on PATH after installing"; done
uid=$(weft_uid) || true
[ -n "$uid" ] || fail "install" "weft" "the package made no user weft"
[ -f "$conf" ] || fail "install" "weft" "$conf is missing (reinstall: apt-get install --reinstall -o Dpkg::Options::=--force-confmiss ./weft.deb)"
if [ ! -d "$state" ] || [ "$(stat -c %U "$state")" != weft ]; then
  install -d -m 0750 -o weft -g weft "$state"
fi
note "user weft (uid $uid), $state, $conf"

# --- provider, secrets, config ---------------------------------------------------------

say "Configuring weft"
# Candidates of both files, compared with the installed ones byte for byte.
new_env=$tmpdir/weft.env new_conf=$tmpdir/clawft.toml
if [ -f "$envfile" ]; then cp "$envfile" "$new_env"; else : >"$new_env"; fi
cp "$conf" "$new_conf"
[ -z "$key_var" ] || env_set "$new_env" "$key_var" "$api_key"
[ -z "$telegram_token" ] || env_set "$new_env" TELEGRAM_TOKEN "$telegram_token"
if [ -n "$provider" ]; then
  [ -z "$provider_url" ] || toml_set "$new_conf" "providers.$provider" base_url "$(toml_str "$provider_url")"
  [ -z "$key_var" ] || toml_set "$new_conf" "providers.$provider" api_key "$(toml_str "\${$key_var}")"
  [ -z "$model" ] || toml_set "$new_conf" "providers.$provider" model "$(toml_str "$model")"
  # A [providers.*] table of its own (so the built-in default's "every provider whose key
  # is set" no longer applies), this one the default.
  [ -n "$provider_url$key_var$model" ] || toml_set "$new_conf" "providers.$provider" enabled true
  toml_set "$new_conf" llm default_provider "$(toml_str "$provider")"
fi
toml_set "$new_conf" channels.web listen "$(toml_str "127.0.0.1:$port")"
toml_set "$new_conf" mcp listen "$(toml_str "127.0.0.1:$mcp_port")"
[ -z "$telegram_token" ] || toml_set "$new_conf" channels.telegram token "$(toml_str '${TELEGRAM_TOKEN}')"

env_changed=0 conf_changed=0
if [ ! -f "$envfile" ] || ! cmp -s "$new_env" "$envfile" || [ "$(stat -c '%a %U %G' "$envfile")" != "600 root root" ]; then
  if [ -s "$new_env" ] || [ -f "$envfile" ]; then env_changed=1; fi
fi
cmp -s "$new_conf" "$conf" || conf_changed=1
if [ $conf_changed = 1 ] || [ $env_changed = 1 ]; then
  # weftctl config check with the new secrets, before either file is replaced.
  if ! out=$(with_env "$new_env" weftctl config check "$new_conf" 2>&1); then
    fail "configure weft in" "$conf" "the new config does not pass 'weftctl config check', the previous file is kept: $(printf '%s' "$out" | sed "s|$new_conf|$conf|g" | tail -n 5)"
  fi
fi
if [ $env_changed = 1 ]; then
  install -m 0600 -o root -g root "$new_env" "$envfile.new"
  mv "$envfile.new" "$envfile"
  note "secrets: $envfile written (mode 0600, root's): $(sed -n 's/=.*//p' "$envfile" | tr '\n' ' ')"
elif [ -f "$envfile" ]; then
  note "secrets: $envfile unchanged"
else
  note "secrets: none given, so no $envfile"
fi
if [ $conf_changed = 1 ]; then
  cp -p "$conf" "$conf.install-old"
  cat "$new_conf" >"$conf"
  if ! out=$(with_env "$envfile" weftctl config check "$conf" 2>&1); then
    mv "$conf.install-old" "$conf"
    fail "configure weft in" "$conf" "'weftctl config check' refused it, the previous file is restored: $(printf '%s' "$out" | tail -n 5)"
  fi
  rm -f "$conf.install-old"
  note "config: $conf written ($([ -z "$provider" ] || echo "provider $provider, ")web chat 127.0.0.1:$port, MCP 127.0.0.1:$mcp_port$([ -z "$telegram_token" ] || echo ', Telegram'))"
else
  note "config: $conf unchanged"
fi
changed=$((package_changed + env_changed + conf_changed))

# --- start ------------------------------------------------------------------------------

wait_ready() {  # $1: pid to watch (without systemd), or ""
  local pid=$1 deadline=$((SECONDS + timeout)) out unit_state="" failed
  while :; do
    if out=$(weftctl_ --timeout 2000 status 2>&1); then return 0; fi
    # A service weftd gave up on (its port taken, a crash loop) does not come back by waiting.
    failed=$(printf '%s\n' "$out" | awk '$1 == "SERVICE" { t = 1; next } t && $3 == "failed" { printf "%s ", $1 }')
    if [ -n "$failed" ]; then
      fail "start" "weftd" "${failed% } failed; weftctl status says:
$out
$([ -n "$pid" ] && echo "the end of $logfile:" && tail -n 12 "$logfile" 2>/dev/null ||
  { echo "journalctl -u weftd says:"; journalctl -u weftd.service -n 12 --no-pager 2>/dev/null; })"
    fi
    if [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; then
      fail "start" "weftd" "it exited; the end of $logfile:
$(tail -n 20 "$logfile" 2>/dev/null)"
    fi
    if [ -z "$pid" ]; then
      unit_state=$(systemctl is-active weftd.service 2>/dev/null || true)
    fi
    if [ -z "$pid" ] && { [ "$unit_state" = failed ] || [ "$unit_state" = inactive ]; }; then
      fail "start" "weftd.service" "it is $unit_state; journalctl -u weftd says:
$(journalctl -u weftd.service -n 20 --no-pager 2>/dev/null)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      if [ -n "$pid" ]; then
        fail "start" "weftd" "not ready after ${timeout} s; weftctl status says:
$out
the end of $logfile:
$(tail -n 20 "$logfile" 2>/dev/null)"
      fi
      fail "start" "weftd.service" "not ready after ${timeout} s; weftctl status says:
$out
journalctl -u weftd says:
$(journalctl -u weftd.service -n 20 --no-pager 2>/dev/null)"
    fi
    sleep 0.5
  done
}

# Looked at again: the package's postinst starts weftd where systemd runs (with the config
# as it was before this run wrote it).
weft_running=0
if systemd_runs; then
  systemctl --quiet is-active weftd.service 2>/dev/null && weft_running=1
else
  own_weftd_pid >/dev/null && weft_running=1
fi
if systemd_runs; then
  if [ $weft_running = 1 ] && [ $changed = 0 ]; then
    say "Nothing changed: weftd keeps running (systemd)"
  else
    if [ $weft_running = 1 ]; then
      say "Restarting weftd (systemctl restart weftd)"
      systemctl restart weftd.service || fail "restart" "weftd.service" "see: journalctl -u weftd"
    else
      say "Starting weftd (systemctl enable --now weftd)"
      systemctl enable --now weftd.service >/dev/null 2>&1 || fail "start" "weftd.service" "systemctl failed: $(journalctl -u weftd.service -n 10 --no-pager 2>/dev/null)"
    fi
  fi
  systemctl --quiet is-enabled weftd.service 2>/dev/null || systemctl enable weftd.service >/dev/null 2>&1 || true
  wait_ready ""
  how="systemd: systemctl status weftd; journalctl -u weftd"
else
  if [ $weft_running = 1 ] && [ $changed = 0 ]; then
    say "Nothing changed: weftd (pid $(own_weftd_pid)) keeps running"
  else
    if [ $weft_running = 1 ]; then
      say "Restarting weftd (no systemd as PID 1: this script runs it)"
      stop_own_weftd
    else
      say "Starting weftd as user weft (no systemd as PID 1 — a container or WSL: this script runs it in the background)"
    fi
    install -d -m 0700 -o weft -g weft "$rundir"
    install -d -m 0750 -o root -g root "$logdir"
    # As the unit does: user weft, umask 0077, WEFT_HOME, the env file's secrets.
    # setpriv (util-linux, essential) execs weftd; runuser would stay its parent.
    command -v setpriv >/dev/null 2>&1 || fail "start" "weftd" "setpriv is missing (apt-get install util-linux)"
    drop=(setpriv --reuid weft --regid weft --init-groups --inh-caps=-all)
    env_of "$envfile"
    (
      umask 0077
      cd "$state"
      # One process from env to weftd (each execs the next), so $! is weftd's pid.
      env "${env_args[@]}" HOME="$state" WEFT_HOME="$state" WEFT_RUNTIME_DIR="$rundir" \
        setsid "${drop[@]}" weftd --config "$conf" >>"$logfile" 2>&1 </dev/null &
      echo $! >"$pidfile"
    )
    pid=$(cat "$pidfile")
    note "weftd pid $pid, log $logfile"
  fi
  # Its pid from the pid file: until env, setsid and setpriv have exec'd, it is not named weftd.
  wait_ready "$(cat "$pidfile")"
  how="no systemd: this script started weftd (pid $(own_weftd_pid)); its log: $logfile; it does not come back after a reboot (run this script again)"
fi

if [ $changed = 0 ]; then
  say "weft is ready; this run changed nothing"
else
  say "weft is ready"
fi

# --- what now ---------------------------------------------------------------------------

token=""
for _ in $(seq 1 20); do
  [ -s "$state/channels/web/token" ] && { token=$(cat "$state/channels/web/token"); break; }
  sleep 0.5
done
echo
if [ -n "$token" ]; then
  echo "Web chat:  http://127.0.0.1:$port/?token=$token"
else
  echo "Web chat:  http://127.0.0.1:$port/ (its token: $state/channels/web/token, not written yet)"
fi
cat <<NEXT
  It listens on 127.0.0.1 only. From your computer, through SSH:
    ssh -N -L $port:127.0.0.1:$port root@<this server>
  then open the URL above in your browser.

Next steps:
  weftctl status                      services and their state
  $how
  edit $conf, then: weftctl config check $conf && weftctl reload
  secrets: $envfile (NAME=value, mode 0600), named in the config as \${NAME}
  docs: /usr/share/doc/weft/ (install.md, config.md, channels.md)
  remove: $self --uninstall [--keep-data]
NEXT
