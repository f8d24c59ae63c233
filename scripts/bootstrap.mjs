#!/usr/bin/env node
// Makes a fresh clone runnable before anything TypeScript loads: npm dependencies first,
// then the host packages the lab needs (through `lvs-harness setup`). Plain JS, no deps.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const lock = `${root}package-lock.json`;
const installed = `${root}node_modules/.package-lock.json`;

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lvs-harness bootstrap: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error('lvs-harness bootstrap: installing npm dependencies (npm ci)');
  sh('npm', ['ci', '--no-audit', '--no-fund']);
}
sh(process.execPath, [`${root}bin/lvs-harness.mjs`, 'setup']);
