"""Fresh Debian 12 root file systems for the deploy tests, made with mmdebstrap and cached.

A root is made once per package list (the list's hash names the tarball under CACHE) and
unpacked into a new folder for each test, so a test always starts from a clean system.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile


def deps_of(deb):
    """The first alternative of each Depends entry of a .deb, without versions."""
    field = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True, capture_output=True,
                           text=True).stdout
    out = []
    for entry in field.split(","):
        first = entry.split("|")[0].strip()
        if first:
            out.append(first.split(" ")[0].split("(")[0])
    return out


def tarball(cache, packages, variant="minbase"):
    """The cached root file system with `packages`, made by mmdebstrap when missing."""
    packages = sorted(set(packages))
    key = hashlib.sha256((variant + ":" + ",".join(packages)).encode()).hexdigest()[:16]
    path = os.path.join(os.path.abspath(cache), f"bookworm-{variant}-{key}.tar")
    if os.path.exists(path):
        return path
    if not shutil.which("mmdebstrap"):
        sys.exit("Failed to make a Debian root file system: mmdebstrap is missing (tools/dev setup)")
    os.makedirs(cache, exist_ok=True)
    print(f"making a bookworm {variant} root with {len(packages)} packages into {path} (mmdebstrap)",
          flush=True)
    part = path + ".part"
    r = subprocess.run(["mmdebstrap", "--quiet", "--format=tar", f"--variant={variant}", "--include=" + ",".join(packages),
                        "bookworm", part], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"Failed to make a Debian root file system with mmdebstrap: {r.stderr[-2000:]}")
    os.replace(part, path)
    return path


def unpack(tar, prefix="weft-root-"):
    root = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))
    subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", tar], check=True)
    return root


def snapshot(root, skip=("proc", "sys", "dev", "tmp", "run")):
    """path -> (type, mode, uid, gid) of everything under root but the skipped top folders."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            seen["/" + os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid)
    return seen


# What a package's purge may leave in a root (Debian policy 9.2.2: a system user is never
# removed, so /etc/passwd and friends keep it), besides dpkg's and apt's own records, logs
# and the debconf cache.
POLICY_KEEPS = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/passwd-", "/etc/group-",
                "/etc/shadow-", "/etc/gshadow-", "/var/lib/dpkg/", "/var/lib/apt/", "/var/cache/apt/", "/var/log/",
                "/var/cache/debconf/", "/var/lib/systemd/deb-systemd-helper")


def changes(before, after, allowed=POLICY_KEEPS):
    """(added, removed, changed owner/mode) paths between two snapshots, outside `allowed`."""
    keep = lambda k: not k.startswith(allowed)  # noqa: E731
    added = sorted(k for k in after if k not in before and keep(k))
    gone = sorted(k for k in before if k not in after and keep(k))
    changed = sorted(k for k in before if k in after and before[k] != after[k] and keep(k))
    return added, gone, changed


def chroot(root, *cmd, check=True, env=None, timeout=300):
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    full_env.update(env or {})
    r = subprocess.run(["chroot", root, *cmd], capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} in the root failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def remove(root):
    subprocess.run(["rm", "-rf", "--one-file-system", root], check=False)


# A root entered by pivot_root in a mount namespace of its own, not by chroot: the kernel
# refuses a user namespace to a chrooted process, and weftd's tool processes need one (their
# sandbox). The root gets /proc, /dev and a fresh /run and /tmp (mode 1777, as docker's --tmpfs), as a
# container runtime gives.
_ENTER = r'''
set -e
root=$1; shift
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
if [ -n "${WEFT_ROOT_SHARE:-}" ]; then mkdir -p "$root/share" && mount --bind "$WEFT_ROOT_SHARE" "$root/share"; fi
if [ -n "${WEFT_ROOT_VOLUME:-}" ]; then mount --bind "${WEFT_ROOT_VOLUME%%:*}" "$root${WEFT_ROOT_VOLUME#*:}"; fi
mkdir -p "$root/.oldroot"
if [ "${WEFT_ROOT_READONLY:-0}" = 1 ]; then mount -o remount,bind,ro "$root"; fi
cd "$root"
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot 2>/dev/null || true
cd /
exec "$@"
'''


def enter_cmd(root, *cmd):
    """argv running `cmd` inside `root` in new mount and PID namespaces (see _ENTER)."""
    return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", _ENTER, "sh", root, *cmd]


def enter_env(env=None, share=None, volume=None, readonly=False):
    """The environment for enter_cmd: `share` is bind-mounted at /share, `volume` is
    (host dir, path in the root) bind-mounted there, `readonly` makes the root read-only
    (as docker run --read-only: only /run, /tmp, /share and the volume are writable)."""
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    full_env.update(env or {})
    if share:
        full_env["WEFT_ROOT_SHARE"] = share
    if volume:
        full_env["WEFT_ROOT_VOLUME"] = f"{volume[0]}:{volume[1]}"
    if readonly:
        full_env["WEFT_ROOT_READONLY"] = "1"
    return full_env


def enter(root, *cmd, check=True, env=None, timeout=300, share=None):
    """Runs `cmd` in `root` (enter_cmd) and waits."""
    full_env = enter_env(env, share)
    r = subprocess.run(enter_cmd(root, *cmd), capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} in the root failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r
