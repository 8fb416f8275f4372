#!/usr/bin/env python3
"""run_e2e.py — starts a real weft stack (weftd from the build tree, fake LLM provider
tests/fakes/fake_llm.py, the web channel on a free loopback port) and runs the browser
test web_chat.mjs against it with Playwright and Debian's Chromium.

usage: run_e2e.py BUILD_ROOT [--url URL]
  BUILD_ROOT  meson build directory (weftd at services/weftd/weftd)
  --url URL   skip starting a stack; test the page at URL
Installs playwright-core once with `npm ci` into BUILD_ROOT/e2e-node (from this folder's
package.json + package-lock.json; no browser is downloaded). Exit 77 (skipped) when
chromium or npm is missing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
SKIP = 77


def install(build):
    """npm ci into BUILD/e2e-node, once per lock file content."""
    dest = os.path.join(build, "e2e-node")
    os.makedirs(dest, exist_ok=True)
    lock = open(os.path.join(HERE, "package-lock.json"), "rb").read()
    stamp = os.path.join(dest, ".lock-installed")
    if os.path.exists(stamp) and open(stamp, "rb").read() == lock and \
            os.path.isdir(os.path.join(dest, "node_modules", "playwright-core")):
        return dest
    for f in ("package.json", "package-lock.json", "web_chat.mjs"):
        shutil.copy(os.path.join(HERE, f), dest)
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", dest], cwd=dest,
                       env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    if r.returncode != 0:
        print(r.stdout)
        raise SystemExit("Failed to install playwright-core with npm ci (see above)")
    open(stamp, "wb").write(lock)
    return dest


def wait_file(path, proc, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    build = os.path.abspath(args[0])
    url = args[args.index("--url") + 1] if "--url" in args else None
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium) or not shutil.which("npm") or not shutil.which("node"):
        print("SKIP: needs %s, node and npm (apt-get install chromium nodejs npm)" % chromium)
        return SKIP
    node_dir = install(build)
    script = os.path.join(node_dir, "web_chat.mjs")
    shutil.copy(os.path.join(HERE, "web_chat.mjs"), script)
    if url:
        return subprocess.call(["node", script, url], cwd=node_dir)

    work = tempfile.mkdtemp(prefix="weft-e2e-")
    procs = []
    try:
        llm = subprocess.Popen([sys.executable, os.path.join(SOURCE, "tests/fakes/fake_llm.py"), "--port", "0",
                                "--port-file", os.path.join(work, "llm.port")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(llm)
        llm_port = wait_file(os.path.join(work, "llm.port"), llm)
        if not llm_port:
            raise SystemExit("Failed to start tests/fakes/fake_llm.py")
        cfg = os.path.join(work, "clawft.toml")
        with open(cfg, "w") as f:
            f.write('[weft]\nhome = "%s/home"\n\n[providers.fake]\nstyle = "openai"\nbase_url = "http://127.0.0.1:%s/v1"\n'
                    'model = "fake-model"\n\n[llm]\ndefault_provider = "fake"\n\n[agents.main]\n[agents.main.tools]\n'
                    'families = []\n\n[channels.web]\nlisten = "127.0.0.1:0"\n' % (work, llm_port))
        runtime = os.path.join(work, "run")
        log = open(os.path.join(work, "weftd.log"), "w")
        weftd = subprocess.Popen([os.path.join(build, "services/weftd/weftd"), "--config", cfg, "--runtime-dir", runtime],
                                 env=dict(os.environ, WEFT_HOME=os.path.join(work, "home"), WEFT_RUNTIME_DIR=runtime),
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(weftd)
        port = wait_file(os.path.join(runtime, "web.port"), weftd)
        if not port:
            print(open(os.path.join(work, "weftd.log")).read())
            raise SystemExit("Failed to start the stack: no %s/web.port" % runtime)
        # The URL weft prints: the token (from chan-web's 0600 file) logs the browser in.
        with open(os.path.join(work, "home", "channels", "web", "token")) as f:
            token = f.read().strip()
        rc = subprocess.call(["node", script, "http://127.0.0.1:%s/?token=%s" % (port, token),
                              "You said: hello from the browser"],
                             cwd=node_dir, timeout=300)
        if rc != 0:
            print(open(os.path.join(work, "weftd.log")).read())
        print("1 passed, 0 failed" if rc == 0 else "0 passed, 1 failed")
        return rc
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=15)
            except Exception:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except Exception:
                    pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
