#!/usr/bin/env node
// tests/mcp/modern_server.mjs — a modern-era-only (2026-07-28) MCP test server built on the
// TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0). Legacy traffic (initialize, or any
// request without the per-request _meta envelope) is rejected with -32022, on both transports.
//
//   node modern_server.mjs               stdio (one JSON-RPC message per line)
//   node modern_server.mjs --http PORT   Streamable HTTP on http://127.0.0.1:PORT/mcp
//                                        (0 = any free port); prints "listening <port>" on stderr
//
// Tools: add {a,b} → text sum + structuredContent {sum}; echo {message} → "Echo: <message>";
// toggle {} → adds/removes the tool `bonus` and emits notifications/tools/list_changed to
// every subscriptions/listen that opted in (toolsListChanged); slow {ms} → sleeps, "done".
//
// Modules: from $WEFT_MCP_PEERS/node_modules when that is set (like sdk_client.mjs), else by
// node's own resolution. Schemas are plain JSON Schema (fromJsonSchema), so no zod import.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const peers = process.env.WEFT_MCP_PEERS;
const dist = peers && pathToFileURL(path.join(path.resolve(peers), 'node_modules/@modelcontextprotocol/server/dist/')).href;
const { McpServer, createMcpHandler, fromJsonSchema, hostHeaderValidationResponse, localhostAllowedHostnames } =
    await import(dist ? `${dist}index.mjs` : '@modelcontextprotocol/server');
const { serveStdio } = await import(dist ? `${dist}stdio.mjs` : '@modelcontextprotocol/server/stdio');
const object = (properties, required = Object.keys(properties)) => fromJsonSchema({ type: 'object', properties, required });
const num = { type: 'number' };

const args = process.argv.slice(2);
const httpPort = args[0] === '--http' ? Number(args[1] ?? 0) : undefined;

let bonusOn = false;   // process-wide: HTTP builds a fresh McpServer per request
let handler;           // the HTTP handler (its notify.toolsChanged() feeds open listen streams)

function registerBonus(server) {
    return server.registerTool('bonus', { description: 'Exists while toggled on', inputSchema: object({}) },
        async () => ({ content: [{ type: 'text', text: 'bonus!' }] }));
}

// The factory: serveStdio calls it once per connection (plus once for a server/discover probe
// that opens the connection); createMcpHandler calls it once per HTTP request.
function makeServer() {
    const server = new McpServer({ name: 'weft-modern-test', version: '0.1.0' },
        { capabilities: { tools: { listChanged: true } } });
    let bonus = bonusOn ? registerBonus(server) : undefined;

    server.registerTool('add', {
        description: 'Add two numbers',
        inputSchema: object({ a: num, b: num }),
        outputSchema: object({ sum: num })
    }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }));

    server.registerTool('echo', { description: 'Echo a message', inputSchema: object({ message: { type: 'string' } }) },
        async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));

    server.registerTool('toggle', { description: 'Add or remove the tool "bonus"', inputSchema: object({}) }, async () => {
        bonusOn = !bonusOn;
        if (handler) {
            handler.notify.toolsChanged();          // HTTP: publish on the listen bus
        } else if (bonusOn) {
            bonus = registerBonus(server);          // stdio: the pinned instance sends list_changed,
        } else {                                    // serveStdio routes it to the open listens
            bonus?.remove();
            bonus = undefined;
        }
        return { content: [{ type: 'text', text: bonusOn ? 'bonus on' : 'bonus off' }] };
    });

    server.registerTool('slow', { description: 'Sleep ms milliseconds, then answer', inputSchema: object({ ms: num }) },
        async ({ ms }, ctx) => {
            await new Promise((resolve) => {
                const timer = setTimeout(resolve, ms);
                ctx?.mcpReq?.signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); });
            });
            return { content: [{ type: 'text', text: 'done' }] };
        });
    return server;
}

const onerror = (e) => process.stderr.write(`modern_server: ${e.message}\n`);

if (httpPort === undefined) {
    serveStdio(makeServer, { legacy: 'reject', onerror });
} else {
    handler = createMcpHandler(makeServer, { legacy: 'reject', onerror });
    // Minimal node:http → fetch adapter (the SDK's own is the separate @modelcontextprotocol/node).
    const srv = http.createServer(async (req, res) => {
        const abort = new AbortController();
        res.on('close', () => abort.abort());   // client went away: ends a listen stream / cancels
        const headers = new Headers();
        for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
        const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url}`, {
            method: req.method, headers, signal: abort.signal,
            ...(req.method !== 'GET' && req.method !== 'HEAD' && { body: req, duplex: 'half' })
        });
        let response = hostHeaderValidationResponse(request, localhostAllowedHostnames());
        if (!response && new URL(request.url).pathname !== '/mcp') response = new Response('not found\n', { status: 404 });
        try {
            response ??= await handler.fetch(request);
            res.writeHead(response.status, Object.fromEntries(response.headers));
            res.flushHeaders();
            if (response.body) for await (const chunk of response.body) res.write(chunk);
        } catch (e) {
            if (!res.headersSent) res.writeHead(500);
            if (!abort.signal.aborted) onerror(e);
        }
        res.end();
    });
    srv.listen(httpPort, '127.0.0.1', () => process.stderr.write(`listening ${srv.address().port}\n`));
    const stop = () => { handler.close().finally(() => process.exit(0)); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}
