// Tiny local HTTP servers for the tests: a redirect-URI listener that
// records every request it gets, and an upstream that echoes the request
// headers (for oauth2-proxy).

import http from 'node:http';
import { until } from './server.mjs';

/** Starts an HTTP server on 127.0.0.1 (a free port) with `handler`. */
export function listen(handler) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 1000;
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        server,
        port,
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise((r) => {
          server.closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
  });
}

const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A relying party's redirect URI stand-in: answers every GET with a small
 * page naming the query, and records the request URLs in order. */
export async function startCallbackListener() {
  const requests = [];
  const l = await listen((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    requests.push({ method: req.method, url, headers: req.headers });
    const params = [...url.searchParams].map(([k, v]) => `<li><code>${escape(k)}</code>: <code>${escape(v)}</code></li>`).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>Relying party</title><h1>Callback received</h1><p>${escape(url.pathname)}</p><ul>${params}</ul>`);
  });
  return {
    ...l,
    requests,
    url: (path) => `${l.origin}${path}`,
    /** The first request to `path` after the `since`-th recorded one. */
    async next(path, { since = 0, timeoutMs = 60_000 } = {}) {
      return until(`a request to ${l.origin}${path}`, () => requests.slice(since).find((r) => r.url.pathname === path)?.url, { timeoutMs });
    },
  };
}

/** An upstream that answers with the request's method, path and headers as
 * JSON (and in an HTML page), recording each request. */
export async function startEchoUpstream() {
  const requests = [];
  const l = await listen((req, res) => {
    const seen = { method: req.method, path: req.url, headers: req.headers };
    requests.push(seen);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>Upstream</title><h1>Upstream reached</h1><pre id="echo">${escape(JSON.stringify(seen, null, 2))}</pre>`);
  });
  return { ...l, requests };
}
