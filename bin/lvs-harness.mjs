#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so no build step stands between a clone and a run.
import { register } from 'tsx/esm/api';

register();
// debootstrap, mkfs.ext4 and depmod live in sbin, which a non-login root shell may lack
const path = (process.env.PATH ?? '').split(':');
for (const d of ['/usr/sbin', '/sbin']) if (!path.includes(d)) path.push(d);
process.env.PATH = path.filter(Boolean).join(':');
// lint answers without loading the rest of the CLI (Docker clients, the lab): under a second
if (process.argv[2] === 'lint') {
  const { lintCli } = await import('../harness/lint/command.ts');
  lintCli(process.argv.slice(3));
}
const { cli } = await import('../harness/cli.ts');
await cli(process.argv.slice(2));
