// Helper processes the tests start (the Go relying party, oauth2-proxy):
// spawned with their output captured, waited for, and stopped by pid.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killOnExit, ROOT, until } from './server.mjs';

export const GO_RP = process.env.GO_RP || join(ROOT, 'tools', 'bin', 'mcias-go-rp');
export const OAUTH2_PROXY = process.env.OAUTH2_PROXY || join(ROOT, 'tools', 'bin', 'oauth2-proxy');

export function requireBinary(path) {
  if (!existsSync(path)) throw new Error(`${path} not found: run 'make tools-oidc'`);
}

export class Proc {
  constructor(name, cmd, args, { env } = {}) {
    requireBinary(cmd);
    this.name = name;
    this.output = '';
    this.proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    killOnExit(this.proc);
    this.exit = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    this.exited = false;
    this.proc.once('exit', () => {
      this.exited = true;
    });
    for (const s of [this.proc.stdout, this.proc.stderr]) s.on('data', (d) => { this.output += d; });
  }

  /** Waits for `pattern` in the output; returns the match. */
  async waitFor(pattern, timeoutMs = 60_000) {
    return until(`${this.name} to print ${pattern}`, () => {
      const m = pattern.exec(this.output);
      if (m) return m;
      if (this.exited) throw new Error(`${this.name} exited:\n${this.output}`);
      return null;
    }, { timeoutMs });
  }

  /** The JSON lines printed so far. */
  jsonLines() {
    return this.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  }

  async stop() {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exit;
    clearTimeout(t);
  }
}
