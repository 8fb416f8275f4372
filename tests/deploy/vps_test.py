#!/usr/bin/env python3
"""The one-command VPS install (deploy/vps/install.sh) in a fresh Debian 12 root file system.

The root is what a stock Debian cloud image has (systemd, iproute2, procps, ca-certificates)
plus weft's Depends, so no download is needed after the first cached root. It is entered
with rootfs.enter (new mount and PID namespaces, no systemd as PID 1: the script starts
weftd itself, as it does in a container).

- The script refuses, with exit code 1, a clear message and nothing changed: as a user other
  than root, on Debian 11 and Ubuntu 20.04, when the web chat port is taken (found with ss)
  or the MCP port is (found in /proc/net/tcp, ss hidden), when no package is given, when a
  provider has no key; a bad option is exit code 2; --help works without root.
- It installs the real .deb with apt-get, configures the fake LLM (tests/fakes/fake_llm.py,
  which refuses any other key) as an OpenAI-compatible provider, starts weftd as user weft
  and waits for READY; a message through the web chat API, with the token of the printed
  URL, is answered by the fake LLM. The key is in /etc/weft/weft.env (0600, root's) and
  nowhere else under /etc or /usr/lib/systemd.
- Run again with the same arguments it changes nothing: the config and the env file keep
  their bytes and mtimes, weftd its pid, and it says so.
- A Telegram token weft refuses fails the script's config check, which says why; nothing
  changes. Another --port rewrites the config only and restarts weftd once; the web chat
  answers on the new port, nothing listens on the old one.
- --uninstall stops weft and purges the package: compared with the root before the install,
  only what policy allows differs (the user weft, dpkg's and apt's records, logs).
  Installed again, --uninstall --keep-data keeps /var/lib/weft.
- The same once more with systemd booted as PID 1 of a second root (skipped where the host
  has no cgroup to give it), the key from --api-key-file: enable --now, weftd as user weft, the unit holding no key, a
  turn, a re-run that does not restart weftd, uninstall.
- Printed: the time from the start of the script in a clean root to the first answered
  message (benchmark figure "clean root to READY with the VPS script").

usage: vps_test.py SOURCE_ROOT BUILD_DIR [--deb PATH]
  BUILD_DIR/cache holds the root file system tarballs; without --deb the .deb is made from
  BUILD_DIR with tools/pkg/mkdeb.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rootfs  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("src")
ap.add_argument("build")
ap.add_argument("--deb")
args = ap.parse_args()
src, build = os.path.abspath(args.src), os.path.abspath(args.build)
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_file(path, proc, timeout):
    """Waits for `path` to exist while `proc` runs; False on timeout or when proc ended."""
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return os.path.exists(path)
        time.sleep(0.1)
    return False


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def hold_port_as(uid, port):
    """A child process of user `uid` listening on 127.0.0.1:port; its pid."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
            os.write(w, b"1")
            time.sleep(600)
        finally:
            os._exit(0)
    os.close(w)
    os.read(r, 1)
    os.close(r)
    return pid


def web_turn(port, token, session, text):
    """Sends `text` to the web chat API and waits for the reply: (text, time it came) or ("", None)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/api/messages", body=json.dumps({"session": session, "text": text}),
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read().decode()
        check(r.status == 202, f"POST /api/messages is accepted: {r.status} {body}")
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", f"/api/stream?session={session}", headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        event = None
        deadline = time.time() + 60
        while time.time() < deadline:
            raw = r.fp.readline()
            if not raw:
                break
            ln = raw.decode().rstrip("\n")
            if ln.startswith("event:"):
                event = ln[6:].strip()
            elif ln.startswith("data:") and event == "message":
                c.close()
                return json.loads(ln[5:]).get("text", ""), time.time()
        c.close()
    except (OSError, http.client.HTTPException, ValueError) as e:
        check(False, f"the web chat API answers: {e}")
    return "", None


# systemd as PID 1 of the root, the way a container manager boots one: new mount and PID
# namespaces, /proc/sys read-only (the host's kernel settings stay as they are), a /dev of
# its own with only the harmless nodes (no getty reaches a host terminal), a cgroup of its
# own, $container set. Skipped where the host gives no cgroup hierarchy to delegate.
_BOOT = r"""
set -e
root=$1 cg=$2
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro sysfs "$root/sys"
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  mkdir -p "/sys/fs/cgroup/$cg"
  echo $$ >"/sys/fs/cgroup/$cg/cgroup.procs"
  mount --bind "/sys/fs/cgroup/$cg" "$root/sys/fs/cgroup"
else
  [ -d /sys/fs/cgroup/systemd ] || { echo "no cgroup hierarchy for systemd" >&2; exit 99; }
  mount -t tmpfs -o mode=755 tmpfs "$root/sys/fs/cgroup"
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h" ] || continue
    mkdir -p "/sys/fs/cgroup/$h/$cg" "$root/sys/fs/cgroup/$h"
    echo $$ >"/sys/fs/cgroup/$h/$cg/cgroup.procs"
    mount --bind "/sys/fs/cgroup/$h/$cg" "$root/sys/fs/cgroup/$h"
  done
  mount -o remount,bind,ro "$root/sys/fs/cgroup"
fi
mount -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
for n in null zero full random urandom tty; do touch "$root/dev/$n"; mount --bind "/dev/$n" "$root/dev/$n"; done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts" && ln -s pts/ptmx "$root/dev/ptmx" || true
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/share" && mount --bind "$WEFT_ROOT_SHARE" "$root/share"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
cd /
export container=weft-test
exec /lib/systemd/systemd
"""

# Units of a booted image that would touch the host's terminals or kernel: masked.
_MASK = ("getty.target", "getty@.service", "serial-getty@.service", "console-getty.service",
         "systemd-sysctl.service", "systemd-modules-load.service", "systemd-binfmt.service",
         "systemd-udevd.service", "systemd-firstboot.service", "sys-kernel-debug.mount",
         "sys-kernel-tracing.mount", "sys-kernel-config.mount", "sys-fs-fuse-connections.mount")


def cgroup_dirs(cg):
    out = []
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"):
        d = os.path.join(base, cg)
        if os.path.isdir(d):
            out.append(d)
    return out


def remove_cgroups(cg):
    for d in cgroup_dirs(cg):
        for dirpath, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def systemd_scenario(tar, share, llm_port):
    """The script where systemd is PID 1: enable --now, READY, a turn, a re-run, uninstall."""
    root = rootfs.unpack(tar)
    cg = f"weft-vps-test-{os.getpid()}"
    boot = None
    try:
        for unit in _MASK:
            p = os.path.join(root, "etc/systemd/system", unit)
            if not os.path.lexists(p):
                os.symlink("/dev/null", p)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "WEFT_ROOT_SHARE": share}
        boot = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", _BOOT, "sh",
                                 root, cg], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        init = None
        for _ in range(100):
            kids = read(f"/proc/{boot.pid}/task/{boot.pid}/children").split()
            if kids and read(f"/proc/{kids[0]}/comm").strip() == "systemd":
                init = kids[0]
                break
            if boot.poll() is not None:
                break
            time.sleep(0.1)
        if not init:
            boot.kill()
            err = boot.communicate()[1].strip()
            print(f"skip: systemd as PID 1 (cannot boot systemd in a namespace here: {err[-300:] or 'no systemd process'})")
            return

        def inside(*cmd, timeout=180):
            return subprocess.run(["nsenter", "-t", init, "-m", "-p", "--", "env", "-i",
                                   "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", *cmd],
                                  capture_output=True, text=True, timeout=timeout)
        state = ""
        for _ in range(600):
            state = inside("systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.1)
        if state not in ("running", "degraded"):
            print(f"skip: systemd as PID 1 (it did not come up here: {state!r})")
            return
        print(f"systemd is PID 1 of a second fresh root ({state})", flush=True)
        with open(os.path.join(share, "key"), "w") as f:  # the key from a file this time
            f.write("test-key\n")
        web_port, mcp_port = free_port(), free_port()
        while mcp_port == web_port:
            mcp_port = free_port()
        args = ["bash", "/share/install.sh", "--deb", "/share/" + os.path.basename(deb), "--provider", "openai",
                "--provider-url", f"http://127.0.0.1:{llm_port}/v1", "--api-key-file", "/share/key",
                "--port", str(web_port), "--mcp-port", str(mcp_port), "--timeout", "60"]
        t0 = time.time()
        r = inside(*args)
        t1 = time.time()
        out = r.stdout + r.stderr
        check(r.returncode == 0, f"systemd: the install succeeds (exit {r.returncode}):\n{out[-3000:]}")
        check("systemctl" in out and "no systemd as PID 1" not in out, "systemd: it starts weftd through systemctl")
        for ln in out.splitlines():
            if ln.startswith("==>"):
                print("   " + ln)
        show = inside("systemctl", "show", "-p", "ActiveState", "-p", "UnitFileState", "-p", "MainPID", "-p",
                      "ExecMainStartTimestampMonotonic", "weftd.service").stdout
        props = dict(ln.split("=", 1) for ln in show.splitlines() if "=" in ln)
        check(props.get("ActiveState") == "active" and props.get("UnitFileState") == "enabled",
              f"systemd: weftd.service is enabled and active: {props}")
        user = inside("ps", "-o", "user=", "-p", props.get("MainPID", "0")).stdout.strip()
        check(user == "weft", f"systemd: weftd runs as user weft ({user!r})")
        unit = inside("systemctl", "cat", "weftd.service").stdout + inside(
            "systemctl", "show", "-p", "Environment", "weftd.service").stdout
        check("EnvironmentFile=-/etc/weft/weft.env" in unit and "test-key" not in unit,
              "systemd: the unit reads /etc/weft/weft.env and holds no key itself")
        url = next((w for ln in out.splitlines() for w in ln.split()
                    if w.startswith(f"http://127.0.0.1:{web_port}/?token=")), "")
        answer, t_answer = web_turn(web_port, url.partition("?token=")[2], "vps-systemd", "hello systemd")
        check(answer == "You said: hello systemd", f"systemd: the fake LLM answers through the web chat: {answer!r}")

        r2 = inside(*args)
        show2 = inside("systemctl", "show", "-p", "ActiveState", "-p", "UnitFileState", "-p", "MainPID", "-p",
                       "ExecMainStartTimestampMonotonic", "weftd.service").stdout
        props2 = dict(ln.split("=", 1) for ln in show2.splitlines() if "=" in ln)
        check(r2.returncode == 0 and "changed nothing" in r2.stdout and props2 == props,
              f"systemd: a re-run changes nothing and does not restart weftd: {props2} {r2.stdout[-600:]}{r2.stderr}")

        r3 = inside("bash", "/share/install.sh", "--uninstall")
        check(r3.returncode == 0, f"systemd: --uninstall succeeds: {r3.stdout[-800:]}{r3.stderr}")
        gone = inside("systemctl", "show", "-p", "LoadState", "weftd.service").stdout.strip()
        procs = inside("sh", "-c", "for p in /proc/[0-9]*; do cat $p/comm; done 2>/dev/null | grep -c '^weft' || true")
        check(gone == "LoadState=not-found" and procs.stdout.strip() == "0",
              f"systemd: the unit is gone and no weft process runs ({gone}, {procs.stdout.strip()} processes)")
        check(not os.path.lexists(os.path.join(root, "etc/systemd/system/multi-user.target.wants/weftd.service")),
              "systemd: the unit is no longer enabled")
        if t_answer and answer == "You said: hello systemd":
            print(f"time from a clean root file system to READY with the VPS script, systemd as PID 1: {t1 - t0:.1f} s; "
                  f"to the first answered web chat message: {t_answer - t0:.1f} s", flush=True)
    finally:
        if boot:
            kids = read(f"/proc/{boot.pid}/task/{boot.pid}/children").split()
            for k in kids:  # the namespace's init: SIGKILL from outside ends everything in it
                try:
                    os.kill(int(k), 9)
                except OSError:
                    pass
            boot.kill()
            boot.wait()
        for _ in range(50):
            remove_cgroups(cg)
            if not cgroup_dirs(cg):
                break
            time.sleep(0.1)
        rootfs.remove(root)


out_dir = None
deb = args.deb
if not deb:
    out_dir = tempfile.mkdtemp(prefix="weft-vps-deb-")
    r = subprocess.run([os.path.join(src, "tools/pkg/mkdeb"), "--build", build, "--out", out_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"Failed to make the .deb: {r.stderr}")
    deb = r.stdout.strip().splitlines()[-1]
deb = os.path.abspath(deb)

# A stock Debian 12 cloud image has systemd, iproute2 (ss), procps and ca-certificates.
tar = rootfs.tarball(os.path.join(build, "cache"),
                     rootfs.deps_of(deb) + ["systemd", "iproute2", "procps", "ca-certificates"])
t_unpack = time.time()
root = rootfs.unpack(tar)
t_unpack = time.time() - t_unpack
share = tempfile.mkdtemp(prefix="weft-vps-share-")
os.chmod(share, 0o755)
script = os.path.join(src, "deploy/vps/install.sh")
shutil.copy(script, os.path.join(share, "install.sh"))
shutil.copy(deb, os.path.join(share, os.path.basename(deb)))
os.makedirs(os.path.join(share, "nodeb"))
shutil.copy(script, os.path.join(share, "nodeb/install.sh"))
sdeb = "/share/" + os.path.basename(deb)
os.makedirs(os.path.join(root, "share"), exist_ok=True)  # enter's mount point, before the snapshot

llm = None
holder = None
main = None
try:
    port_file = os.path.join(share, "llm.port")
    llm = subprocess.Popen([sys.executable, os.path.join(src, "tests/fakes/fake_llm.py"), "--port-file", port_file,
                            "--key", "test-key"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if read(port_file).strip():
            break
        time.sleep(0.05)
    llm_port = int(read(port_file).strip())
    web_port, mcp_port = free_port(), free_port()
    while mcp_port == web_port:
        mcp_port = free_port()
    install_args = ["--deb", sdeb, "--provider", "openai", "--provider-url", f"http://127.0.0.1:{llm_port}/v1",
                    "--api-key", "test-key", "--port", str(web_port), "--mcp-port", str(mcp_port), "--timeout", "60"]

    before = rootfs.snapshot(root)

    def run_in_root(shell, timeout=120):
        return rootfs.enter(root, "bash", "-c", shell, check=False, share=share, timeout=timeout)

    def refuses(what, shell, needle, code=1):
        r = run_in_root(shell)
        said = (r.stdout + r.stderr).strip()
        check(r.returncode == code and needle in said, f"refuses {what} with exit code {code}: {said[-300:]!r}")

    line = " ".join(install_args)
    refuses("a user other than root",
            f"setpriv --reuid nobody --regid nogroup --clear-groups bash /share/install.sh {line}", "needs root")
    for name, text in (("debian11", 'ID=debian\nVERSION_ID="11"\nPRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\n'),
                       ("ubuntu2004", 'ID=ubuntu\nVERSION_ID="20.04"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n')):
        with open(os.path.join(share, f"os-release-{name}"), "w") as f:
            f.write(text)
        refuses(f"an unsupported OS ({name})",
                f"mount --bind /share/os-release-{name} /etc/os-release && bash /share/install.sh {line}",
                "only Debian 12+ and Ubuntu 22.04+ are supported")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", web_port))
    holder.listen()
    refuses("a web chat port in use (ss)", f"bash /share/install.sh {line}", f"127.0.0.1:{web_port}': another program")
    holder.close()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", mcp_port))
    holder.listen()
    refuses("an MCP port in use (no ss: /proc/net/tcp)",
            f"mount --bind /dev/null /usr/bin/ss && bash /share/install.sh {line}",
            f"127.0.0.1:{mcp_port}': another program")
    holder.close()
    holder = None
    nodeb_line = " ".join(a for a in install_args[2:])
    refuses("without a package", f"bash /share/nodeb/install.sh {nodeb_line}", "none given and none to download")
    refuses("a bad option", "bash /share/install.sh --port eighty", "is not a port number", code=2)
    refuses("a provider without a key (no terminal to ask on)",
            f"bash /share/install.sh --deb {sdeb} --provider anthropic --port {web_port} --mcp-port {mcp_port} </dev/null",
            "Failed to configure the provider 'anthropic': no API key")
    h = run_in_root("setpriv --reuid nobody --regid nogroup --clear-groups bash /share/install.sh --help")
    check(h.returncode == 0 and h.stdout.startswith("usage: install.sh") and "--uninstall" in h.stdout,
          f"--help helps, also without root ({h.returncode})")
    after_refusals = rootfs.snapshot(root)
    check(after_refusals == before, "the refusals changed nothing in the root: "
          f"{sorted(set(after_refusals) ^ set(before))[:10]}")

    # The scenario runs in one enter: weftd, started in the background by the script, lives
    # as long as that PID namespace. The test steps it through files in the share.
    driver = f"""
set -u
cd /
run() {{ n=$1; shift; date +%s.%N >/share/t$n.start; bash /share/install.sh "$@" >/share/run$n.out 2>&1; echo $? >/share/run$n.rc; date +%s.%N >/share/t$n.end; }}
waitfor() {{ i=0; while [ ! -e "/share/$1" ]; do sleep 0.1; i=$((i+1)); [ $i -lt 3000 ] || exit 3; done; }}
weft_procs() {{ for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done | grep -c '^weft' || true; }}
run 1 {line}
cat /run/weftd.pid >/share/pid1 2>/dev/null
touch /share/phase1; waitfor go2
run 2 {line}
cat /run/weftd.pid >/share/pid2 2>/dev/null
run 6 {line} --telegram-token bad/token
[ -d /proc/$(cat /share/pid1) ] && echo alive >/share/alive2
touch /share/phase2; waitfor go7
run 7 {line} --port $(cat /share/port7)
cat /run/weftd.pid >/share/pid7 2>/dev/null
touch /share/phase7; waitfor go8
run 8 {line} --port $(cat /share/port8) --timeout 5
touch /share/phase8; waitfor go3
run 3 --uninstall
weft_procs >/share/procs3
touch /share/phase3; waitfor go4
run 4 {line}
run 5 --uninstall --keep-data
weft_procs >/share/procs5
touch /share/phase5
"""
    with open(os.path.join(share, "driver.sh"), "w") as f:
        f.write(driver)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "WEFT_ROOT_SHARE": share}
    main = subprocess.Popen(rootfs.enter_cmd(root, "bash", "/share/driver.sh"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    S = lambda name: os.path.join(share, name)  # noqa: E731

    # --- the install -----------------------------------------------------------------
    check(wait_file(S("phase1"), main, 240), "the install ran")
    out1 = read(S("run1.out"))
    rc1 = read(S("run1.rc")).strip()
    check(rc1 == "0", f"the install succeeds (exit {rc1}):\n{out1[-3000:]}")
    check("without systemd" in out1 or "no systemd as PID 1" in out1, "it says it runs weftd itself (no systemd)")
    url = next((w for ln in out1.splitlines() for w in ln.split() if w.startswith(f"http://127.0.0.1:{web_port}/?token=")), "")
    check(bool(url), f"it prints the web chat URL with its token on port {web_port}")
    token = url.partition("?token=")[2]
    token_file = read(os.path.join(root, "var/lib/weft/channels/web/token")).strip()
    check(bool(token) and token == token_file, "the printed token is chan-web's token file")
    check("ssh -N -L" in out1 and "weftctl status" in out1, "it says how to tunnel and what to do next")
    for ln in out1.splitlines():
        if ln.startswith("==>"):
            print("   " + ln)

    # A turn through the web chat API, answered by the fake LLM with the configured key.
    text = "hello from the VPS test"
    answer, t_answer = web_turn(web_port, token, "vps-test", text)
    check(answer == f"You said: {text}", f"the fake LLM answers through the web chat: {answer!r}")

    envf = os.path.join(root, "etc/weft/weft.env")
    conf = os.path.join(root, "etc/weft/clawft.toml")
    st = os.stat(envf) if os.path.exists(envf) else None
    check(st is not None and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0 and st.st_gid == 0,
          f"/etc/weft/weft.env is root's, mode 0600 ({oct(stat.S_IMODE(st.st_mode)) if st else 'missing'})")
    check("OPENAI_API_KEY=test-key\n" in read(envf), "the key is in /etc/weft/weft.env")
    holders = []
    for top in ("etc", "usr/lib/systemd", "lib/systemd"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                p = os.path.join(dirpath, name)
                if os.path.islink(p) or p == envf:
                    continue
                try:
                    with open(p, "rb") as f:
                        if b"test-key" in f.read():
                            holders.append(p[len(root):])
                except OSError:
                    pass
    check(not holders, f"the key is in no other file under /etc or the units: {holders}")
    ctext = read(conf)
    check('api_key = "${OPENAI_API_KEY}"' in ctext and f'listen = "127.0.0.1:{web_port}"' in ctext and
          stat.S_IMODE(os.stat(conf).st_mode) == 0o644,
          "the config names the key as ${OPENAI_API_KEY}, sets the port and stays world-readable")
    r = rootfs.chroot(root, "weftctl", "config", "check", "/etc/weft/clawft.toml", check=False,
                      env={"OPENAI_API_KEY": "x"})
    check(r.returncode == 0, f"weftctl config check passes on the written config {r.stdout}{r.stderr}")

    def fileinfo(p):
        if not os.path.exists(p):
            return None
        st = os.stat(p)
        with open(p, "rb") as f:
            return f.read(), st.st_mtime_ns, st.st_mode, st.st_uid
    files1 = {p: fileinfo(p) for p in (conf, envf)}
    pid1 = read(S("pid1")).strip()

    # --- the same again ---------------------------------------------------------------
    open(S("go2"), "w").close()
    check(wait_file(S("phase2"), main, 180), "the second run ran")
    out2 = read(S("run2.out"))
    check(read(S("run2.rc")).strip() == "0", f"the second run succeeds:\n{out2[-2000:]}")
    check("changed nothing" in out2 and "Nothing changed" in out2 and "unchanged" in out2,
          f"it says nothing changed:\n{out2[-1500:]}")
    out6 = read(S("run6.out"))
    check(read(S("run6.rc")).strip() == "1" and "does not pass 'weftctl config check', the previous file is kept" in out6
          and "[channels.telegram]" in out6,
          f"a Telegram token weft refuses (bad/token) fails the config check, which it says: {out6[-700:]!r}")
    check(all(files1[p] is not None and fileinfo(p) == files1[p] for p in files1),
          "the config and the env file keep bytes, mtime, mode, owner (after the same run and the refused one)")
    check(pid1 != "" and read(S("pid2")).strip() == pid1 and read(S("alive2")).strip() == "alive",
          f"weftd keeps running with the same pid {pid1}")

    # --- another port: only the config changes, weftd restarts once -------------------
    port7 = free_port()
    while port7 in (web_port, mcp_port):
        port7 = free_port()
    with open(S("port7"), "w") as f:
        f.write(str(port7))
    open(S("go7"), "w").close()
    check(wait_file(S("phase7"), main, 180), "the run with another port ran")
    out7 = read(S("run7.out"))
    pid7 = read(S("pid7")).strip()
    check(read(S("run7.rc")).strip() == "0" and "Restarting weftd" in out7 and "secrets: /etc/weft/weft.env unchanged" in out7
          and "config: /etc/weft/clawft.toml written" in out7,
          f"with another --port it rewrites the config only and restarts weftd:\n{out7[-1500:]}")
    check(pid7 not in ("", pid1), f"weftd has a new pid ({pid1} -> {pid7})")
    check(fileinfo(envf) == files1[envf] and f'listen = "127.0.0.1:{port7}"' in read(conf),
          "the env file is untouched, the config has the new port")
    answer7, _ = web_turn(port7, token, "vps-test-2", "and on the new port")
    check(answer7 == "You said: and on the new port", f"the web chat answers on the new port: {answer7!r}")
    try:
        socket.create_connection(("127.0.0.1", web_port), timeout=2).close()
        old_open = True
    except OSError:
        old_open = False
    check(not old_open, f"nothing listens on the old port {web_port} any more")

    # --- weft never ready: a bounded wait, and why ------------------------------------
    # A port held by weft's own uid passes the script's check (a running weft holds its
    # ports on a re-run) but chan-web cannot bind it: weftd never gets all services ready.
    weft_uid = int(rootfs.chroot(root, "getent", "passwd", "weft", check=False).stdout.split(":")[2])
    port8 = free_port()
    while port8 in (web_port, mcp_port, port7):
        port8 = free_port()
    holder_pid = hold_port_as(weft_uid, port8)
    try:
        with open(S("port8"), "w") as f:
            f.write(str(port8))
        open(S("go8"), "w").close()
        check(wait_file(S("phase8"), main, 120), "the run that cannot become ready ran")
    finally:
        os.kill(holder_pid, 9)
        os.waitpid(holder_pid, 0)
    out8 = read(S("run8.out"))
    t8 = float(read(S("t8.end"), "0")) - float(read(S("t8.start"), "0"))
    check(read(S("run8.rc")).strip() == "1" and "install.sh: Failed to start 'weftd': chan-web failed; weftctl status says:" in out8
          and "address in use" in out8 and t8 < 5,
          f"when a service fails it says so at once ({t8:.1f} s, --timeout 5), with weftctl status and the log's end:\n"
          f"{out8[-1500:]}")

    # --- uninstall --------------------------------------------------------------------
    open(S("go3"), "w").close()
    check(wait_file(S("phase3"), main, 180), "the uninstall ran")
    out3 = read(S("run3.out"))
    check(read(S("run3.rc")).strip() == "0", f"--uninstall succeeds:\n{out3[-2000:]}")
    check(read(S("procs3")).strip() == "0", f"no weft process is left ({read(S('procs3')).strip()})")
    q = subprocess.run(["dpkg-query", "--admindir", os.path.join(root, "var/lib/dpkg"), "-W", "-f=${Status}", "weft"],
                       capture_output=True, text=True)
    check(q.returncode != 0 or "not-installed" in q.stdout, f"the package is purged: {q.stdout!r}")
    check("the system user and group 'weft'" in out3, "it says the user weft stays")
    after = rootfs.snapshot(root)
    added, gone, changed = rootfs.changes(before, after)
    check(not added, f"uninstall leaves no new file: {added[:20]}")
    check(not gone, f"uninstall removes nothing that was there before: {gone[:20]}")
    check(not changed, f"uninstall leaves owners and modes as they were: {changed[:20]}")
    check(not os.path.exists(os.path.join(root, "var/log/weft")), "the script's log folder is gone")

    # --- install again, uninstall keeping the data -------------------------------------
    open(S("go4"), "w").close()
    check(wait_file(S("phase5"), main, 240), "the reinstall and --uninstall --keep-data ran")
    check(read(S("run4.rc")).strip() == "0", f"the reinstall succeeds:\n{read(S('run4.out'))[-2000:]}")
    out5 = read(S("run5.out"))
    check(read(S("run5.rc")).strip() == "0", f"--uninstall --keep-data succeeds:\n{out5[-2000:]}")
    check(read(S("procs5")).strip() == "0", "no weft process is left")
    kept = os.path.join(root, "var/lib/weft")
    pw = rootfs.chroot(root, "getent", "passwd", "weft", check=False).stdout.split(":")
    check(os.path.isdir(os.path.join(kept, "agents/main")) and len(pw) == 7 and os.stat(kept).st_uid == int(pw[2]),
          "--keep-data keeps /var/lib/weft (the agent's workspace), still weft's")
    check(not os.path.exists(envf) and not os.path.exists(conf), "the config and the secrets are gone")
    check("kept /var/lib/weft" in out5, "it says what it kept")

    main.wait(timeout=30)
    t0 = float(read(S("t1.start")))
    t1 = float(read(S("t1.end")))
    t2 = float(read(S("t2.end"))) - float(read(S("t2.start")))
    if t_answer and answer == f"You said: {text}":
        print(f"time from a clean root file system to READY with the VPS script: {t1 - t0:.1f} s "
              f"(apt-get install, config, weftd as user weft until 'weftctl status' is all ready); "
              f"to the first answered web chat message: {t_answer - t0:.1f} s; "
              f"re-run with nothing to change: {t2:.1f} s; unpacking the root: {t_unpack:.1f} s", flush=True)

    systemd_scenario(tar, share, llm_port)
finally:
    if holder:
        holder.close()
    if main and main.poll() is None:
        main.kill()
        main.wait()
    if llm:
        llm.kill()
        llm.wait()
    rootfs.remove(root)
    shutil.rmtree(share, ignore_errors=True)
    if out_dir:
        shutil.rmtree(out_dir, ignore_errors=True)

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
