import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { DEFAULT_RELEASE, type LabRelease } from './recipe.js';

/** The repository root (two levels above harness/lab/). */
export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** Where lab artefacts, credentials and the running lab's state live (ignored by git). */
export function labHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.LVS_HARNESS_LAB_HOME ? path.resolve(env.LVS_HARNESS_LAB_HOME) : path.join(REPO_ROOT, '.cache', 'lab');
}

export interface LabPaths {
  home: string;
  /** step caches: <home>/cache/<step>-<key>/ */
  cache: string;
  /** mutual-TLS material made by `lab build` */
  tls: string;
  /** the running lab: state.json, console.log */
  run: string;
  state: string;
  console: string;
  /** the console of the last lab that stopped, kept for diagnosis */
  lastConsole: string;
}

export function labPaths(home = labHome()): LabPaths {
  const run = path.join(home, 'run');
  return {
    home,
    cache: path.join(home, 'cache'),
    tls: path.join(home, 'tls'),
    run,
    state: path.join(run, 'state.json'),
    console: path.join(run, 'console.log'),
    lastConsole: path.join(home, 'last-console.log'),
  };
}

/**
 * The last build of a release (`lab build --release R`): lab.json for bookworm, as before
 * releases existed (so an existing build stays found), lab-<release>.json for the others.
 */
export function artifactsPath(paths: Pick<LabPaths, 'home'>, release: LabRelease = DEFAULT_RELEASE): string {
  return path.join(paths.home, release === DEFAULT_RELEASE ? 'lab.json' : `lab-${release}.json`);
}
