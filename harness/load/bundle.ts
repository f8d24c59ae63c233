import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

let cached: Promise<string> | undefined;

/**
 * The agent and autocannon as one CommonJS file for the node image's Node 20: nothing to
 * install in a client node, nothing fetched at run time. Built once per process (~0.3 s).
 */
/** How code that runs in a client node is built: what the agent uses, and what tests of such code build with. */
export const NODE_BUNDLE = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', write: false, logLevel: 'silent' } as const;

export function agentBundle(): Promise<string> {
  cached ??= build({
    entryPoints: [fileURLToPath(new URL('./agent.ts', import.meta.url))],
    ...NODE_BUNDLE,
    legalComments: 'none',
  }).then((r) => r.outputFiles[0]!.text);
  return cached;
}
