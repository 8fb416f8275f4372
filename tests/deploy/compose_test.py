#!/usr/bin/env python3
"""Issue 23: deploy/compose/compose.yaml parses and names only what the build makes.

Without a container engine (none runs here), the file is read as compose does it: YAML, then
`${NAME}` / `${NAME:-default}` interpolated from env.example; every service's image must be
one the image build tags (tools/pkg/mkimage: clawft/weft:<version> and :latest — the tags in
the archives given, else the script's defaults), every named volume it mounts must be declared,
the state volume must sit at the image's VOLUME, and the container must keep the image's
read-only root with tmpfs /run and /tmp.

usage: compose_test.py SOURCE_ROOT [IMAGE.tar ...]
"""
import json
import os
import re
import sys
import tarfile

import yaml

src = sys.argv[1]
archives = sys.argv[2:]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)


def interpolate(value, env):
    def sub(m):
        name, default = m.group(1), m.group(3)
        v = env.get(name, "")
        return v if v or default is None else default
    if isinstance(value, str):
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", sub, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


# The image names the build makes.
made = set()
for a in archives:
    with tarfile.open(a) as t:
        for m in json.load(t.extractfile("manifest.json")):
            made.update(tag.removeprefix("docker.io/") for tag in m["RepoTags"])
if not made:
    script = open(os.path.join(src, "tools/pkg/mkimage")).read()
    name = re.search(r"\bname=([a-z0-9./_-]+)", script).group(1)
    check("tagged <version> and latest" in script, "mkimage tags its images latest too")
    made = {f"{name}:latest"}
print(f"images the build makes: {sorted(made)}")

compose_dir = os.path.join(src, "deploy/compose")
env = {}
for line in open(os.path.join(compose_dir, "env.example")):
    line = line.strip()
    if line and not line.startswith("#"):
        k, _, v = line.partition("=")
        env[k] = v
doc = yaml.safe_load(open(os.path.join(compose_dir, "compose.yaml")))
doc = interpolate(doc, env)
services = doc.get("services") or {}
check(bool(services), f"compose.yaml has services: {sorted(services)}")
declared = set((doc.get("volumes") or {}).keys())
for name, svc in services.items():
    image = svc.get("image", "")
    check(image in made, f"service {name}: image {image!r} is one the build makes")
    for v in svc.get("volumes", []):
        source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
        if source and not source.startswith((".", "/", "~")):
            check(source in declared, f"service {name}: volume {source!r} is declared under volumes:")
    mounts = {v.split(":")[1] for v in svc.get("volumes", []) if isinstance(v, str)}
    check("/var/lib/weft" in mounts, f"service {name}: the state volume is at the image's VOLUME /var/lib/weft")
    check(svc.get("read_only") is True and {"/run", "/tmp"} <= set(svc.get("tmpfs", [])),
          f"service {name}: read-only root with tmpfs /run and /tmp")
    for p in svc.get("ports", []):
        host = str(p).split(":")
        check(len(host) == 3 and host[0] == "127.0.0.1", f"service {name}: port {p} published on loopback only")
    check(svc.get("command", ["gateway"])[0] == "gateway", f"service {name}: runs the gateway")
    for k, v in (svc.get("environment") or {}).items():
        check("$" not in str(v), f"service {name}: {k} interpolates ({v!r})")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
