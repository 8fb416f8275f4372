#!/usr/bin/env python3
"""weftctl security scan|explain as a person and a script use it: exit codes, --json output
validated against the JSON Schema in docs/guides/security.md, --fix (dry run, then --yes, then
a clean second scan) on a crafted home, usage errors. Runs the real binary on files only;
nothing in the corpus is executed and no network is used.

usage: weftctl_scan_test.py WEFTCTL SOURCE_ROOT
"""
import json
import os
import re
import stat
import subprocess
import sys
import tempfile

import jsonschema

weftctl, src = sys.argv[1], sys.argv[2]
corpus = os.path.join(src, "tests", "security", "corpus")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def schema():
    doc = open(os.path.join(src, "docs", "guides", "security.md")).read()
    m = re.search(r"<!-- BEGIN schema -->\s*```json\n(.*?)```\s*<!-- END schema -->", doc, re.S)
    assert m, "no schema block in docs/guides/security.md"
    return json.loads(m.group(1))


SCHEMA = schema()
jsonschema.Draft202012Validator.check_schema(SCHEMA)
validator = jsonschema.Draft202012Validator(SCHEMA)


def run(*args, env=None):
    p = subprocess.run([weftctl, *args], capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def scan_json(*args, env=None):
    rc, out, err = run("security", "scan", "--json", *args, env=env)
    doc = json.loads(out)
    errors = sorted(validator.iter_errors(doc), key=str)
    check(not errors, f"schema: {args}: {[e.message for e in errors[:3]]}")
    return rc, doc


with tempfile.TemporaryDirectory() as t:
    # An environment of its own: no developer's config or home is read.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": t, "WEFT_HOME": os.path.join(t, "none")}

    rc, doc = scan_json(os.path.join(corpus, "malicious", "weather-pro"), env=env)
    check(rc == 1, f"malicious skill: exit {rc}")
    check(not doc["passed"], "malicious skill passed")
    ids = {f["id"]: f for f in doc["findings"]}
    check("SKL-029" in ids and ids["SKL-029"]["line"] > 0 and ids["SKL-029"]["file"].endswith("SKILL.md"),
          f"SKL-029 with file:line: {sorted(ids)}")
    check(doc["findings"][0]["severity"] == "critical", "worst finding first")

    rc, doc = scan_json(os.path.join(corpus, "benign", "rust-toolchain"), env=env)
    check(rc == 0 and doc["passed"], f"benign skill: exit {rc}")
    check([f["id"] for f in doc["findings"]] == ["SKL-023"], f"vendor installer is SKL-023: {doc['findings']}")
    rc, doc = scan_json("--severity", "medium", os.path.join(corpus, "benign", "rust-toolchain"), env=env)
    check(rc == 1 and doc["threshold"] == "medium", f"--severity medium: exit {rc}")

    # Every corpus folder at once, the hostile-looking ones included (a symlink out, an ELF).
    rc, doc = scan_json(os.path.join(corpus, "malicious"), os.path.join(corpus, "benign"), env=env)
    check(rc == 1 and doc["files"] > 90, f"whole corpus: exit {rc}, {doc['files']} files")
    check(any(f["id"] == "SKL-070" for f in doc["findings"]), "symlink escape in the corpus")

    # A crafted home: open permissions and a secret in the config.
    home = os.path.join(t, "home")
    os.makedirs(os.path.join(home, "keys"))
    os.makedirs(os.path.join(home, "skills", "notes"))
    open(os.path.join(home, "keys", "witness.key"), "w").write("k" * 64)
    os.chmod(os.path.join(home, "keys", "witness.key"), 0o644)
    os.chmod(home, 0o755)
    os.chmod(os.path.join(home, "skills", "notes"), 0o777)
    cfg = os.path.join(home, "clawft.toml")
    open(cfg, "w").write('[providers.openai]\napi_key = "sk-proj-abcdefghijklmnopqrstuvwx"\n\n[agents.main]\nbudget_usd = 1.0\n')
    os.chmod(cfg, 0o644)
    henv = dict(env, WEFT_HOME=home)

    rc, doc = scan_json("--config", "--config-file", cfg, "--fix", env=henv)
    check(rc == 1, f"crafted home: exit {rc}")
    found = {f["id"] for f in doc["findings"]}
    for want in ("FS-001", "FS-002", "FS-005", "FS-007", "CFG-002"):
        check(want in found, f"crafted home: {want} in {sorted(found)}")
    check(doc["fix"]["dry_run"] and doc["fix"]["changes"], "--fix is a dry run with changes")
    check(stat.S_IMODE(os.stat(os.path.join(home, "keys", "witness.key")).st_mode) == 0o644, "dry run changed a mode")

    rc, out, err = run("security", "scan", "--config", "--config-file", cfg, "--fix", env=henv)
    check("dry run" in out and "-api_key = \"sk-…\"" in out
          and "+api_key = \"${WEFT_SECRET_PROVIDERS_OPENAI_API_KEY}\"" in out
          and "+WEFT_SECRET_PROVIDERS_OPENAI_API_KEY='sk-…'" in out and "EnvironmentFile=" in out, f"--fix text:\n{out}")
    check("abcdefghijklmnop" not in out + err, "the dry run printed the secret")
    check(not os.path.exists(os.path.join(home, "weft.env")), "the dry run wrote weft.env")
    check("sk-proj-abcdefghijklmnopqrstuvwx" in open(cfg).read(), "the dry run changed the config")

    rc, out, err = run("security", "scan", "--json", "--config", "--config-file", cfg, "--fix", "--yes", env=henv)
    check("abcdefghijklmnop" not in out + err, "--fix --yes --json printed the secret")
    doc = json.loads(out)
    check(not list(validator.iter_errors(doc)), "--fix --yes --json: schema")
    check(not doc["fix"]["dry_run"] and all(c["applied"] for c in doc["fix"]["changes"]), "--fix --yes applied")
    check(any(c["id"] == "CFG-002" and "diff" in c for c in doc["fix"]["changes"]), "the secret move is a change with a diff")
    left = {f["id"] for f in doc["findings"]}
    check(not left and rc == 0, f"after --fix --yes nothing is left: {sorted(left)} (exit {rc})")
    envf = os.path.join(home, "weft.env")
    check(stat.S_IMODE(os.stat(envf).st_mode) == 0o600, "weft.env is 0600")
    check(open(envf).read() == "WEFT_SECRET_PROVIDERS_OPENAI_API_KEY='sk-proj-abcdefghijklmnopqrstuvwx'\n", "weft.env holds the key")
    check(open(cfg).read() == '[providers.openai]\napi_key = "${WEFT_SECRET_PROVIDERS_OPENAI_API_KEY}"\n\n[agents.main]\nbudget_usd = 1.0\n',
          "the config says ${WEFT_SECRET_PROVIDERS_OPENAI_API_KEY}, the rest unchanged")
    # The config loads with the variable set (config check is strict about unset ones).
    rc, out, err = run("config", "check", cfg, env=dict(henv, WEFT_SECRET_PROVIDERS_OPENAI_API_KEY="sk-proj-abcdefghijklmnopqrstuvwx"))
    check(rc == 0, f"config check with the env set: {rc} {out} {err}")
    check(stat.S_IMODE(os.stat(os.path.join(home, "keys", "witness.key")).st_mode) == 0o600, "key is 0600")
    check(stat.S_IMODE(os.stat(home).st_mode) == 0o700, "home is 0700")

    rc, doc = scan_json("--config", "--config-file", cfg, env=henv)
    check(not doc["findings"] and rc == 0, f"second scan is clean: {doc['findings']}")

    # --installed: $WEFT_HOME/skills holds a copy of a malicious skill.
    import shutil
    shutil.copytree(os.path.join(corpus, "malicious", "persona-booster"), os.path.join(home, "skills", "persona-booster"))
    rc, doc = scan_json("--installed", "--config-file", cfg, env=henv)
    check(rc == 1 and os.path.join(home, "skills") in doc["scanned"]["paths"], f"--installed: {rc} {doc['scanned']}")
    check(any(f["id"] == "SKL-045" and "persona-booster" in f["file"] for f in doc["findings"]),
          "--installed finds the planted SOUL.md write")

    # explain and usage errors.
    rc, out, err = run("security", "explain", "SKL-001", env=env)
    check(rc == 0 and out.startswith("SKL-001"), f"explain: {rc} {out[:40]}")
    rc, out, err = run("security", "explain", "NOPE-1", env=env)
    check(rc == 1 and "Failed to explain 'NOPE-1'" in err, f"explain unknown: {rc} {err}")
    rc, out, err = run("security", "explain", env=env)
    check(rc == 2 and err.startswith("error:"), f"explain without ID: {rc} {err}")
    rc, out, err = run("security", "scan", "--yes", env=env)
    check(rc == 2, f"--yes without --fix: {rc}")
    rc, out, err = run("security", "scan", "--severity", "extreme", "x", env=env)
    check(rc == 2, f"bad --severity: {rc}")
    rc, out, err = run("security", "scan", os.path.join(t, "does-not-exist"), env=env)
    check(rc == 1 and "error: Failed to scan '" in err, f"missing path: {rc} {err}")
    for cmd in (["security", "--help"], ["security", "scan", "--help"], ["security", "explain", "--help"]):
        rc, out, err = run(*cmd, env=env)
        check(rc == 0 and out.startswith("usage: weftctl security"), f"{cmd}: {rc}")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
