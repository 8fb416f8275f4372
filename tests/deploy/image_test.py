#!/usr/bin/env python3
"""Issue 23: weft's container images (tools/pkg/mkimage), checked without a container runtime.

For each image archive (docker-archive, as `docker load` takes it): its metadata says what
docs/install.md promises — architecture, user weft, entry point and CMD gateway, the
HEALTHCHECK on weftctl status, the state volume, the port, the OCI labels, the tag. Then the
root file system runs, in the mount and PID namespaces this test makes in place of a runtime
(rootfs.enter: pivot_root, read-only root, a volume at /var/lib/weft, tmpfs /run and /tmp):
  amd64 — as user weft, the entry point's `gateway` brings weftd to READY, the web chat answers
          a turn from the fake LLM, and the HEALTHCHECK command exits 0 inside it;
  other — `weftd --version` and `weftctl --version` under qemu-user.

Where podman is installed, each archive is also loaded with `podman load` and inspected,
and run with `podman run` when the machine lets podman run containers (this one does not:
no CAP_SYS_RESOURCE, docs/install.md); that is reported, not failed.

usage: image_test.py SOURCE_ROOT IMAGE.tar [IMAGE.tar ...]
       image_test.py SOURCE_ROOT --build BUILD_DIR   (makes the .deb and the amd64 image first,
                                                      then also runs compose_test.py on it)
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rootfs  # noqa: E402

src = sys.argv[1]
images = sys.argv[2:]
failures = []
made_here = None
if images[:1] == ["--build"]:
    made_here = tempfile.mkdtemp(prefix="weft-image-build-")
    r = subprocess.run([os.path.join(src, "tools/pkg/mkdeb"), "--build", images[1], "--out", made_here],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"Failed to make the .deb: {r.stderr}")
    started = time.monotonic()
    r = subprocess.run([os.path.join(src, "tools/pkg/mkimage"), "--deb", r.stdout.split()[-1], "--out", made_here],
                       capture_output=True, text=True)
    print(r.stderr.strip())
    if r.returncode != 0:
        sys.exit("Failed to build the image (above)")
    print(f"image built in {time.monotonic() - started:.0f} s", flush=True)
    images = [r.stdout.split()[-1]]


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def read_archive(path, into):
    with tarfile.open(path) as t:
        t.extractall(into)
    manifest = json.load(open(os.path.join(into, "manifest.json")))
    if len(manifest) != 1:
        raise AssertionError(f"{path}: {len(manifest)} images in the archive, expected 1")
    m = manifest[0]
    return m, json.load(open(os.path.join(into, m["Config"])))


def unpack_layers(into, layers, root):
    os.makedirs(root)
    for layer in layers:
        subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", os.path.join(into, layer)], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """pids below `pid` in the process tree (from /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
    except OSError:
        return ""


def check_metadata(path, m, cfg):
    arch = cfg.get("architecture")
    name = os.path.basename(path)
    check(cfg.get("os") == "linux" and arch in ("amd64", "arm64") and name.endswith(f"-{arch}.tar"),
          f"{name}: os linux, architecture {arch} (as its name says)")
    c = cfg.get("config", {})
    check(c.get("User") == "weft", f"{name}: runs as user weft, not root ({c.get('User')!r})")
    check(c.get("Entrypoint") == ["/usr/local/bin/weft-entrypoint"] and c.get("Cmd") == ["gateway"],
          f"{name}: ENTRYPOINT weft-entrypoint, CMD gateway ({c.get('Entrypoint')}, {c.get('Cmd')})")
    hc = c.get("Healthcheck") or {}
    check(hc.get("Test") == ["CMD", "/usr/local/bin/weft-entrypoint", "health"] and hc.get("Interval", 0) > 0,
          f"{name}: HEALTHCHECK weft-entrypoint health ({hc})")
    check("/var/lib/weft" in (c.get("Volumes") or {}), f"{name}: state volume /var/lib/weft")
    check("8780/tcp" in (c.get("ExposedPorts") or {}), f"{name}: exposes the web chat's 8780/tcp")
    env = dict(e.split("=", 1) for e in c.get("Env", []))
    check(env.get("WEFT_HOME") == "/var/lib/weft" and env.get("WEFT_CONFIG") == "/etc/weft/clawft.toml",
          f"{name}: WEFT_HOME and WEFT_CONFIG set ({env})")
    labels = c.get("Labels") or {}
    version = labels.get("org.opencontainers.image.version", "")
    check(all(labels.get(f"org.opencontainers.image.{k}") for k in ("title", "version", "revision", "created", "licenses")),
          f"{name}: OCI labels title, version, revision, created, licenses ({sorted(labels)})")
    tags = m.get("RepoTags") or []
    check(any(t.endswith("clawft/weft:" + version.replace("+", "-")) for t in tags), f"{name}: tagged clawft/weft:<version> ({tags})")
    return c, env


def with_podman(path, cfg):
    """podman load and inspect; podman run where the machine allows it."""
    if not shutil.which("podman"):
        print(f"podman is not installed: {os.path.basename(path)} not loaded by a container engine")
        return
    load = subprocess.run(["podman", "load", "-i", path], capture_output=True, text=True, timeout=300)
    names = [l.split(": ", 1)[1].strip() for l in load.stdout.splitlines() if l.startswith("Loaded image")]
    check(load.returncode == 0 and len(names) == 2 and names[1].endswith(":latest"),
          f"podman load takes the archive: {names or load.stderr[-300:]}")
    if load.returncode != 0:
        return
    try:
        ins = subprocess.run(["podman", "image", "inspect", names[0]], capture_output=True, text=True)
        i = json.loads(ins.stdout)[0] if ins.returncode == 0 else {}
        check(i.get("Architecture") == cfg["architecture"] and i.get("Config", {}).get("User") == "weft",
              f"podman reads architecture {i.get('Architecture')} and user {i.get('Config', {}).get('User')}")
        run = subprocess.run(["podman", "run", "--rm", names[0], "weft", "--version"], capture_output=True, text=True,
                             timeout=120)
        if run.returncode == 0:
            check("weft" in run.stdout, f"podman run {names[0]} weft --version: {run.stdout.strip()}")
        else:
            print(f"podman cannot run containers on this machine: {run.stderr.strip().splitlines()[-1:]}")
    finally:
        subprocess.run(["podman", "rmi", "-f", *names], capture_output=True)


def run_gateway(root, c, env):
    """The amd64 root as a container: read-only, a volume, the entry point as user weft."""
    llm_port_file = tempfile.mktemp(prefix="weft-img-llm-")
    llm = subprocess.Popen([sys.executable, os.path.join(src, "tests/fakes/fake_llm.py"), "--port-file", llm_port_file],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    share = tempfile.mkdtemp(prefix="weft-img-share-")
    volume = tempfile.mkdtemp(prefix="weft-img-state-")
    proc = None
    try:
        for _ in range(100):
            if os.path.exists(llm_port_file) and open(llm_port_file).read().strip():
                break
            time.sleep(0.05)
        llm_port = int(open(llm_port_file).read())
        uid = int(next(l.split(":")[2] for l in open(os.path.join(root, "etc/passwd")) if l.startswith("weft:")))
        os.chown(volume, uid, uid)
        os.chmod(volume, 0o750)
        # Config by mount and environment: the image's own file plus a provider (the fake).
        base = open(os.path.join(root, "etc/weft/clawft.toml")).read()
        with open(os.path.join(share, "clawft.toml"), "w") as f:
            f.write(f'[providers.fake]\nstyle = "openai"\nbase_url = "http://127.0.0.1:{llm_port}/v1"\n'
                    f'model = "fake-model"\n\n[llm]\ndefault_provider = "fake"\nretries = 0\n\n' + base)
        os.chmod(share, 0o755)
        os.chmod(os.path.join(share, "clawft.toml"), 0o644)
        web_port, mcp_port = free_port(), free_port()
        token = secrets.token_hex(16)
        run_env = dict(env)
        run_env.update({"WEFT_CONFIG": "/share/clawft.toml", "WEFT_WEB_TOKEN": token,
                        "WEFT_WEB_LISTEN": f"127.0.0.1:{web_port}", "WEFT_MCP_LISTEN": f"127.0.0.1:{mcp_port}",
                        "HOME": "/var/lib/weft"})
        log = open(os.path.join(volume, "..", os.path.basename(volume) + ".log"), "w+")
        setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--init-groups", "--"]
        envargs = ["env", "-i"] + [f"{k}={v}" for k, v in run_env.items()]
        cmd = rootfs.enter_cmd(root, *setpriv, *envargs, *c["Entrypoint"], *c["Cmd"])
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=rootfs.enter_env(share=share, volume=(volume, "/var/lib/weft"), readonly=True),
                                stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{web_port}"
        healthy = False
        while time.monotonic() - started < 60 and proc.poll() is None:
            try:
                with urllib.request.urlopen(base_url + "/api/health", timeout=2) as r:
                    healthy = r.status == 200
                    break
            except OSError:
                time.sleep(0.2)
        check(healthy, f"the image's weftd serves the web chat (after {time.monotonic() - started:.1f} s)")
        # READY: the HEALTHCHECK command, run inside the container's namespaces as user weft.
        weftd = [p for p in descendants(proc.pid) if cmdline(p).endswith("weftd")]
        ready = None
        deadline = time.monotonic() + 60
        while weftd and time.monotonic() < deadline:
            hc = subprocess.run(["nsenter", f"--target={weftd[0]}", "--mount", "--pid", *setpriv, *envargs,
                                 *c["Healthcheck"]["Test"][1:]], capture_output=True, text=True)
            ready = hc
            if hc.returncode == 0:
                break
            time.sleep(0.3)
        check(ready is not None and ready.returncode == 0,
              "the HEALTHCHECK (weftctl status) passes inside the container: "
              + (f"{ready.stdout[-300:]}{ready.stderr[-300:]}" if ready else "no weftd process"))
        print(f"time from start to READY: {time.monotonic() - started:.2f} s", flush=True)

        try:
            turn(base_url, token)
        except (OSError, ValueError) as e:
            check(False, f"a turn through the web chat: {e}")
        check(os.listdir(volume), f"state went to the volume: {sorted(os.listdir(volume))}")
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        llm.terminate()
        llm.wait()
        if proc:
            log.seek(0)
            out = log.read()
            if failures:
                print("--- the container's output ---\n" + out[-4000:])
            log.close()
            os.remove(log.name)
        shutil.rmtree(share, ignore_errors=True)
        shutil.rmtree(volume, ignore_errors=True)


def turn(base_url, token):
    """A turn through the web chat, answered by the fake LLM."""
    hdr = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    stream = urllib.request.urlopen(urllib.request.Request(base_url + "/api/stream?session=img", headers=hdr), timeout=30)
    req = urllib.request.Request(base_url + "/api/messages", data=json.dumps({"session": "img", "text": "hello image"}).encode(),
                                 headers=hdr, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        check(r.status == 202, f"the web chat accepts a message ({r.status})")
    reply, event = None, None
    deadline = time.monotonic() + 30
    while reply is None and time.monotonic() < deadline:
        line = stream.readline().decode().rstrip("\n")
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "message":
            reply = json.loads(line.split(":", 1)[1])["text"]
    check(reply == "You said: hello image", f"the agent answers with the fake LLM's reply: {reply!r}")
    stream.close()


for path in images:
    into = tempfile.mkdtemp(prefix="weft-img-")
    try:
        m, cfg = read_archive(path, into)
        c, env = check_metadata(path, m, cfg)
        root = os.path.join(into, "rootfs")
        unpack_layers(into, m["Layers"], root)
        arch = cfg.get("architecture")
        with_podman(path, cfg)
        size = sum(os.path.getsize(os.path.join(into, l)) for l in m["Layers"])
        print(f"{os.path.basename(path)}: {size / 1048576:.1f} MiB of layers", flush=True)
        chk = rootfs.enter(root, *c["Entrypoint"], "check", check=False, env=env)
        if arch == "amd64":
            check(chk.returncode == 0 and "/etc/weft/clawft.toml: OK" in chk.stdout,
                  f"the image's own config is valid: {chk.stdout}{chk.stderr}")
            run_gateway(root, c, env)
        else:
            qemu = {"arm64": "qemu-aarch64-static"}[arch]
            for exe in ("usr/bin/weftd", "usr/bin/weftctl"):
                v = subprocess.run([qemu, "-L", root, os.path.join(root, exe), "--version"], capture_output=True, text=True)
                check(v.returncode == 0 and "weft" in v.stdout, f"{arch} /{exe} --version under {qemu}: {v.stdout.strip()}{v.stderr[-300:]}")
            f = subprocess.run(["file", "-L", os.path.join(root, "usr/bin/weftd")], capture_output=True, text=True).stdout
            check("aarch64" in f or "ARM aarch64" in f, f"weftd is an {arch} executable: {f.strip()}")
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", into])

if made_here:
    r = subprocess.run([sys.executable, os.path.join(src, "tests/deploy/compose_test.py"), src, *images])
    check(r.returncode == 0, "compose_test.py against the image made here")
    subprocess.run(["rm", "-rf", made_here])

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
