import { errUsage } from '../errors.js';
import { parseRelease, type LabRelease } from '../lab/recipe.js';

/**
 * What `--release` and `--restart` ask of the lab, on a command that starts it (run, main, up,
 * validate, bench, smoke): resolveRuntime hands it to labUp. Kept apart from select.ts, which
 * loads the Docker client, so that a command can check its flags before loading anything.
 */
export interface LabRequest {
  /** the Debian release the lab must run; absent: whichever runs, else bookworm */
  release?: LabRelease;
  /** with a lab of another release running: stop it and boot `release` */
  restart?: boolean;
  /** the command asking, for the hint of a refusal (`lvs-harness run … --restart`) */
  command?: string;
}

/**
 * The lab a command's `--release` and `--restart` ask for. An unknown release is a usage error
 * naming the known ones; either flag beside an engine of the user's own (`--docker-host`, or
 * DOCKER_HOST), where no lab runs, is a usage error too. Both are said before anything is built.
 */
export function labRequest(o: { release?: unknown; restart?: unknown; dockerHost?: string; env?: NodeJS.ProcessEnv; command: string; hint?: string }): LabRequest {
  const release = parseRelease(o.release, `${o.command}: --release`);
  const restart = o.restart === true;
  const engine = o.dockerHost ? `--docker-host ${o.dockerHost}` : o.env?.DOCKER_HOST ? `DOCKER_HOST=${o.env.DOCKER_HOST}` : undefined;
  if (engine && (release || restart)) {
    const flag = release ? '--release' : '--restart';
    const what = release ? 'chooses a lab' : "switches the lab's release";
    const drop = o.dockerHost ? 'drop --docker-host' : 'unset DOCKER_HOST';
    throw errUsage(
      `${o.command}: ${flag} ${what} and does not apply with ${engine} (an engine of your own: no lab runs there)`,
      `${drop} to run in ${release ? `the ${release} lab` : 'the lab'}, or drop ${release && restart ? '--release and --restart' : flag} to run on that engine${o.hint ? `; ${o.hint}` : ''}`,
    );
  }
  return { ...(release ? { release, command: o.command } : {}), ...(restart ? { restart } : {}) };
}
