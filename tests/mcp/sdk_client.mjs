#!/usr/bin/env node
// tests/mcp/sdk_client.mjs — drive an MCP server with the real TypeScript SDK v1 client
// (@modelcontextprotocol/sdk@1.32.2, pinned in tests/mcp/peers), or with --modern the SDK v2
// client (@modelcontextprotocol/client@2.4.0) pinned to protocol 2026-07-28, and print what
// happened, one JSON line per step, so tests (and people) can judge a server from the outside.
const USAGE = `usage: node sdk_client.mjs [options] (--url URL | --stdio COMMAND [ARGS...])

Connects to an MCP server with the TypeScript SDK v1 Client (legacy era: initialize,
protocol 2025-11-25 negotiated down), runs a plan of operations and prints one JSON
line per operation on stdout.

  --modern        use the SDK v2 Client (@modelcontextprotocol/client 2.4.0) instead,
                  versionNegotiation pinned to 2026-07-28: server/discover, no initialize,
                  no session, per-request _meta. A server that does not offer 2026-07-28
                  (any legacy-only server) fails the connection (exit 1). With listChanged
                  set, the client opens subscriptions/listen for tools right after connect
                  when the server advertises tools.listChanged; wait_list_changed counts
                  what arrives on it. The SDK refuses ping locally (removed in 2026-07-28):
                  an ok:false line with "sdkCode". raw sends any method; spec methods the
                  era lacks are refused locally the same way.

Transports:
  --stdio COMMAND [ARGS...]  start COMMAND as a child speaking stdio; everything after
                             --stdio belongs to the command, so give it last. The child's
                             environment is exactly PATH (this process's) plus every --env.
  --env K=V                  add K=V to the child's environment (repeatable)
  --url URL                  Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp
  --header K:V               extra HTTP header on every request (repeatable; sent through
                             requestInit.headers)

Plan (one of them; a JSON array of operations):
  --plan JSON | --plan-file FILE
    {"op":"list"}                              tools/list, every page
    {"op":"call","name":N,"arguments":{...}}   tools/call; prints the full result
    {"op":"ping"}
    {"op":"wait_list_changed","timeout_ms":N}  waits for notifications/tools/list_changed
                                               (one received since connect or since the
                                               previous wait counts; default 5000 ms)
    {"op":"sleep","ms":N}
    {"op":"raw","method":M,"params":{...}}     any request; result or JSON-RPC error
  list, call, ping and raw take an optional "timeout_ms" (default 60000).

Other options:
  --measure N     after the first call op, repeat that call N times and print
                  {"op":"measure","ok":true,"n":N,"p50_us":..,"p99_us":..,"max_us":..,"errors":..}
                  (times from process.hrtime, one call after another)
  --peers DIR     where the peers are installed (DIR/node_modules/@modelcontextprotocol/sdk,
                  with --modern .../client); default: $WEFT_MCP_PEERS, else node's own
                  module resolution
  --help          this text

Output: first {"protocolVersion":..,"serverVersion":{..},"capabilities":{..},"instructions":..
(,"sessionId":.. over HTTP; never with --modern)}, then per op {"op":..,"ok":true,"result":..} or
{"op":..,"ok":false,"error":{"code":..,"message":..,"data"?:..}} (code is the JSON-RPC code,
null when the failure was not a JSON-RPC error; with --modern a local SDK error also has
"sdkCode", e.g. "REQUEST_TIMEOUT", "METHOD_NOT_SUPPORTED_BY_PROTOCOL_VERSION").

Exit status: 0 every op ran (some may have reported errors: the caller judges),
1 the connection failed (message on stderr), 2 bad usage.

Environment: WEFT_MCP_PEERS (see --peers).`;

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function usage(message) {
  process.stderr.write(`sdk_client: ${message}\nTry 'node sdk_client.mjs --help'.\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { env: {}, headers: {}, stdio: null, url: null, plan: null, measure: 0, modern: false,
              peers: process.env.WEFT_MCP_PEERS || null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`option '${a}' needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--help': case '-h':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
      case '--stdio':
        o.stdio = argv.slice(i + 1);
        if (o.stdio.length === 0) usage("'--stdio' needs a command");
        i = argv.length;
        break;
      case '--env': {
        const kv = value(), eq = kv.indexOf('=');
        if (eq <= 0) usage(`'--env ${kv}' is not K=V`);
        o.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--url': o.url = value(); break;
      case '--header': {
        const kv = value(), colon = kv.indexOf(':');
        if (colon <= 0) usage(`'--header ${kv}' is not K:V`);
        o.headers[kv.slice(0, colon).trim()] = kv.slice(colon + 1).trim();
        break;
      }
      case '--plan': o.plan = value(); break;
      case '--plan-file': {
        const f = value();
        try { o.plan = fs.readFileSync(f, 'utf8'); } catch (e) { usage(`Failed to read plan file '${f}': ${e.message}`); }
        break;
      }
      case '--measure': {
        const v = value();
        o.measure = Number(v);
        if (!Number.isInteger(o.measure) || o.measure < 1) usage(`'--measure ${v}' is not a positive integer`);
        break;
      }
      case '--peers': o.peers = value(); break;
      case '--modern': o.modern = true; break;
      default: usage(`unknown argument '${a}'`);
    }
  }
  if (!o.stdio === !o.url) usage('give exactly one of --stdio COMMAND or --url URL');
  if (o.url) {
    try { o.url = new URL(o.url); } catch { usage(`'--url ${o.url}' is not a URL`); }
  }
  if (o.plan === null) usage('give a plan with --plan JSON or --plan-file FILE');
  let plan;
  try { plan = JSON.parse(o.plan); } catch (e) { usage(`the plan is not JSON: ${e.message}`); }
  if (!Array.isArray(plan)) usage('the plan must be a JSON array of operations');
  const known = new Set(['list', 'call', 'ping', 'wait_list_changed', 'sleep', 'raw']);
  plan.forEach((op, n) => {
    if (!op || typeof op !== 'object' || !known.has(op.op))
      usage(`plan step ${n}: unknown op ${JSON.stringify(op && op.op)} (list, call, ping, wait_list_changed, sleep, raw)`);
    if (op.op === 'call' && typeof op.name !== 'string') usage(`plan step ${n}: call needs a "name"`);
    if (op.op === 'raw' && typeof op.method !== 'string') usage(`plan step ${n}: raw needs a "method"`);
    if (op.op === 'sleep' && !(Number(op.ms) >= 0)) usage(`plan step ${n}: sleep needs "ms"`);
  });
  if (o.measure && !plan.some((op) => op.op === 'call')) usage('--measure needs a call op in the plan');
  o.plan = plan;
  return o;
}

// The SDK from the pinned peers directory (ESM build), or wherever node finds it: v1
// (@modelcontextprotocol/sdk) or, for --modern, v2 (@modelcontextprotocol/client).
async function loadSdk(peers, modern) {
  const pkg = modern ? '@modelcontextprotocol/client' : '@modelcontextprotocol/sdk';
  const sub = modern ? [['dist/index.mjs', ''], ['dist/stdio.mjs', '/stdio']]
                     : ['client/index.js', 'client/stdio.js', 'client/streamableHttp.js', 'types.js']
                         .map((s) => [`dist/esm/${s}`, `/${s}`]);
  let urls;
  if (peers) {
    const root = path.join(path.resolve(peers), 'node_modules', ...pkg.split('/'));
    if (!fs.existsSync(path.join(root, 'package.json'))) {
      process.stderr.write(`sdk_client: Failed to find ${pkg} in '${peers}': no ${root}\n` +
                           `(install the peers with 'tools/dev peers')\n`);
      process.exit(1);
    }
    urls = sub.map(([file]) => pathToFileURL(path.join(root, file)).href);
  } else {
    urls = sub.map(([, name]) => pkg + name);
  }
  try {
    const modules = await Promise.all(urls.map((u) => import(u)));
    return Object.assign({}, ...modules);
  } catch (e) {
    process.stderr.write(`sdk_client: Failed to load ${pkg}: ${e.message}\n` +
                         `(set WEFT_MCP_PEERS or --peers; install with 'tools/dev peers')\n`);
    process.exit(1);
  }
}

function emit(obj) {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve));
}

function errorOf(e, sdk) {
  // v1: McpError (SDK-local failures too, with -320xx codes); v2: ProtocolError for JSON-RPC
  // errors, SdkError (string code) for local ones.
  if (sdk.SdkError && e instanceof sdk.SdkError) {
    const err = { code: null, message: e.message, sdkCode: e.code };
    if (e.data !== undefined) err.data = e.data;
    return err;
  }
  if (e instanceof (sdk.McpError ?? sdk.ProtocolError)) {
    const prefix = `MCP error ${e.code}: `;
    const message = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    const err = { code: e.code, message };
    if (e.data !== undefined) err.data = e.data;
    return err;
  }
  return { code: null, message: e && e.message ? e.message : String(e) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const sdk = await loadSdk(o.peers, o.modern);

  let transport, target;
  if (o.stdio) {
    // The SDK always merges its own default environment (HOME, USER, ...) into the child's;
    // env -i gives the child exactly PATH plus the --env pairs.
    const env = { PATH: process.env.PATH || '/usr/bin:/bin', ...o.env };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    transport = new sdk.StdioClientTransport({
      command: '/usr/bin/env', args: ['-i', ...envArgs, ...o.stdio], stderr: 'inherit' });
    target = o.stdio.join(' ');
  } else {
    transport = new sdk.StreamableHTTPClientTransport(o.url, { requestInit: { headers: o.headers } });
    target = o.url.href;
  }
  let protocolVersion = null;
  if (!o.modern) {
    const setVersion = transport.setProtocolVersion;
    transport.setProtocolVersion = (v) => {
      protocolVersion = v;
      if (setVersion) setVersion.call(transport, v);
    };
  }
  // tools/list_changed notifications: counted, consumed one per wait_list_changed.
  let changed = 0, seen = 0, wake = null;
  const onListChanged = () => {
    changed++; seen++;
    if (wake) wake();
  };
  // v2 aggregates every page in listTools(); the tools/list requests sent are the page count.
  let listRequests = 0;
  let client;
  if (o.modern) {
    const send = transport.send;
    transport.send = (message, options) => {
      if (message && message.method === 'tools/list') listRequests++;
      return send.call(transport, message, options);
    };
    // listChanged.tools registers the SDK's own notifications/tools/list_changed handler (it
    // would replace one set with setNotificationHandler) and, on a modern connection whose
    // server advertises tools.listChanged, opens subscriptions/listen {toolsListChanged} in
    // connect(). debounceMs 0 and no autoRefresh: one callback per notification.
    client = new sdk.Client({ name: 'weft-sdk-client', version: '0.1' }, {
      capabilities: {},
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: onListChanged } } });
  } else {
    client = new sdk.Client({ name: 'weft-sdk-client', version: '0.1' }, { capabilities: {} });
    client.setNotificationHandler(sdk.ToolListChangedNotificationSchema, onListChanged);
  }
  client.onerror = (e) => process.stderr.write(`sdk_client: transport error: ${e && e.message ? e.message : e}\n`);

  try {
    await client.connect(transport);
  } catch (e) {
    process.stderr.write(`sdk_client: Failed to connect to '${target}': ${e && e.message ? e.message : e}\n`);
    try { await client.close(); } catch { /* already closed */ }
    process.exit(1);
  }
  if (o.modern) protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  const hello = { protocolVersion, serverVersion: client.getServerVersion() ?? null,
                  capabilities: client.getServerCapabilities() ?? null,
                  instructions: client.getInstructions() ?? null };
  if (o.url && !o.modern) hello.sessionId = transport.sessionId ?? null;
  await emit(hello);

  const reqOpts = (op) => (op.timeout_ms ? { timeout: Number(op.timeout_ms) } : undefined);
  const callOnce = o.modern
    ? (op) => client.callTool({ name: op.name, arguments: op.arguments ?? {} }, reqOpts(op))
    : (op) => client.callTool({ name: op.name, arguments: op.arguments ?? {} }, undefined, reqOpts(op));
  // v2 request() wants a result schema for methods outside the spec: this one accepts anything.
  const anyResult = { '~standard': { version: 1, vendor: 'weft', validate: (value) => ({ value }) } };
  let measured = false;

  for (const op of o.plan) {
    let line;
    try {
      switch (op.op) {
        case 'list': {
          if (o.modern) {
            // Without a cursor v2 walks every page itself; 'refresh' skips its response cache.
            listRequests = 0;
            const r = await client.listTools(undefined, { ...reqOpts(op), cacheMode: 'refresh' });
            line = { op: 'list', ok: true, result: { names: r.tools.map((t) => t.name), pages: listRequests, tools: r.tools } };
            break;
          }
          const tools = [];
          let cursor, pages = 0;
          do {
            const r = await client.listTools(cursor ? { cursor } : {}, reqOpts(op));
            tools.push(...r.tools);
            cursor = r.nextCursor;
            pages++;
          } while (cursor);
          line = { op: 'list', ok: true, result: { names: tools.map((t) => t.name), pages, tools } };
          break;
        }
        case 'call':
          line = { op: 'call', ok: true, result: await callOnce(op) };
          break;
        case 'ping':
          line = { op: 'ping', ok: true, result: await client.ping(reqOpts(op)) };
          break;
        case 'wait_list_changed': {
          const timeout = Number(op.timeout_ms ?? 5000);
          if (changed === 0) {
            await new Promise((resolve) => {
              const t = setTimeout(resolve, timeout);
              wake = () => { clearTimeout(t); resolve(); };
            });
            wake = null;
          }
          if (changed > 0) {
            changed--;
            line = { op: 'wait_list_changed', ok: true, result: { received: seen } };
          } else {
            line = { op: 'wait_list_changed', ok: false,
                     error: { code: null, message: `timeout: no notifications/tools/list_changed within ${timeout} ms` } };
          }
          break;
        }
        case 'sleep':
          await sleep(Number(op.ms));
          line = { op: 'sleep', ok: true, result: { ms: Number(op.ms) } };
          break;
        case 'raw': {
          const req = { method: op.method };
          if (op.params !== undefined) req.params = op.params;
          line = { op: 'raw', ok: true, result: await client.request(req, o.modern ? anyResult : sdk.ResultSchema, reqOpts(op)) };
          break;
        }
      }
    } catch (e) {
      line = { op: op.op, ok: false, error: errorOf(e, sdk) };
    }
    await emit(line);

    if (op.op === 'call' && o.measure && !measured) {
      measured = true;
      const times = [];
      let errors = 0;
      for (let i = 0; i < o.measure; i++) {
        const t0 = process.hrtime.bigint();
        try {
          const r = await callOnce(op);
          if (r && r.isError) errors++;
        } catch {
          errors++;
        }
        times.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      times.sort((a, b) => a - b);
      const us = (x) => Math.round(x);
      await emit({ op: 'measure', ok: errors === 0, n: o.measure, p50_us: us(percentile(times, 0.5)),
                   p99_us: us(percentile(times, 0.99)), max_us: us(times[times.length - 1]), errors });
    }
  }

  if (o.url && !o.modern) {
    try { await transport.terminateSession(); } catch { /* the server may not support DELETE */ }
  }
  try { await client.close(); } catch { /* nothing left to close */ }
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`sdk_client: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
