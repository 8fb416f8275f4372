#!/usr/bin/env python3
"""Issue 23: weft's .deb (tools/pkg/mkdeb) in a fresh Debian 12 root file system.

It installs there with dpkg (its Depends satisfied by the packages apt resolved for them),
creates the system user weft and /var/lib/weft 0750 through its own sysusers.d/tmpfiles.d
entries, marks /etc/weft/clawft.toml a conffile; systemd-analyze inside the root accepts the
installed unit and weftd accepts the installed config; `dpkg --purge` then leaves nothing but
what policy says may stay: the user and group weft and dpkg's own records and logs.

usage: deb_test.py SOURCE_ROOT BUILD_DIR
"""
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rootfs  # noqa: E402

src, build = sys.argv[1], sys.argv[2]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


out = tempfile.mkdtemp(prefix="weft-deb-")
r = subprocess.run([os.path.join(src, "tools/pkg/mkdeb"), "--build", build, "--out", out], capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"Failed to make the .deb: {r.stderr}")
deb = r.stdout.strip().splitlines()[-1]
print(r.stderr.strip())

# systemd inside the root: its sysusers/tmpfiles run the package's entries, systemd-analyze
# checks the unit (Recommends: systemd; a VPS has it).
tar = rootfs.tarball(os.path.join(build, "cache"), rootfs.deps_of(deb) + ["systemd"])
root = rootfs.unpack(tar)
try:
    before = rootfs.snapshot(root)
    subprocess.run(["cp", deb, os.path.join(root, "tmp/weft.deb")], check=True)
    inst = rootfs.chroot(root, "dpkg", "-i", "/tmp/weft.deb", check=False)
    check(inst.returncode == 0, f"dpkg -i installs the package ({inst.stdout[-400:]}{inst.stderr[-1500:]})")
    status = rootfs.chroot(root, "dpkg-query", "-W", "-f=${Status} ${Conffiles}", "weft", check=False).stdout
    check(status.startswith("install ok installed"), f"dpkg says installed: {status!r}")
    check("/etc/weft/clawft.toml" in status, "the config is a conffile")

    pw = rootfs.chroot(root, "getent", "passwd", "weft", check=False).stdout.strip().split(":")
    check(len(pw) == 7 and pw[5] == "/var/lib/weft" and pw[6] == "/usr/sbin/nologin" and int(pw[2]) < 1000,
          f"system user weft, home /var/lib/weft, no login: {pw}")
    st = os.stat(os.path.join(root, "var/lib/weft"))
    check(len(pw) == 7 and st.st_uid == int(pw[2]) and stat.S_IMODE(st.st_mode) == 0o750,
          f"/var/lib/weft belongs to weft, mode {oct(stat.S_IMODE(st.st_mode))}")
    for p in ("usr/bin/weftd", "usr/bin/weftctl", "usr/libexec/weft/bus", "usr/libexec/weft/weft-agent",
              "usr/lib/systemd/system/weftd.service", "usr/lib/sysusers.d/weft.conf", "usr/lib/tmpfiles.d/weft.conf"):
        check(os.path.exists(os.path.join(root, p)), f"/{p} is installed")
    check(os.path.islink(os.path.join(root, "usr/bin/weft")), "/usr/bin/weft links weftctl")

    v = rootfs.chroot(root, "systemd-analyze", "verify", "/usr/lib/systemd/system/weftd.service", check=False)
    check(v.returncode == 0, f"systemd-analyze verify accepts the installed unit {v.stderr.strip()}")
    c = rootfs.chroot(root, "weftd", "--check", check=False)
    check(c.returncode == 0 and "/etc/weft/clawft.toml: OK" in c.stdout, f"weftd --check: {c.stdout}{c.stderr}")
    w = rootfs.chroot(root, "weftctl", "config", "check", "/etc/weft/clawft.toml", check=False)
    check(w.returncode == 0, f"weftctl config check: {w.stdout}{w.stderr}")
    # The shared libraries resolve (dpkg-shlibdeps named their packages): every executable.
    bad = []
    for d in ("usr/bin", "usr/libexec/weft"):
        for name in os.listdir(os.path.join(root, d)):
            ldd = rootfs.chroot(root, "ldd", f"/{d}/{name}", check=False)
            if ldd.returncode == 0 and "not found" in ldd.stdout:
                bad.append(f"/{d}/{name}: {ldd.stdout}")
    check(not bad, "every executable's libraries are in the root " + "".join(bad))

    # State a running weft leaves, and the env file the VPS script writes: purge removes them.
    os.makedirs(os.path.join(root, "var/lib/weft/agents/main"), exist_ok=True)
    with open(os.path.join(root, "etc/weft/weft.env"), "w") as f:
        f.write("ANTHROPIC_API_KEY=x\n")
    p = rootfs.chroot(root, "dpkg", "--purge", "weft", check=False)
    check(p.returncode == 0, f"dpkg --purge ({p.stderr[-800:]})")
    after = rootfs.snapshot(root)
    added, gone, changed = rootfs.changes(before, after)
    check(not added, f"purge leaves no new file: {added[:20]}")
    check(not gone, f"purge removes nothing that was there before: {gone[:20]}")
    check(not changed, f"purge leaves owners and modes as they were: {changed[:20]}")
    check(rootfs.chroot(root, "getent", "passwd", "weft", check=False).returncode == 0,
          "the user weft stays after purge (policy)")
finally:
    rootfs.remove(root)
    subprocess.run(["rm", "-rf", out])

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
