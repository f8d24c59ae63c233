import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import type Docker from 'dockerode';
import { HarnessError } from '../../harness/errors.js';
import { DockerNode, finishedAtMs } from '../../harness/runtime/docker-node.js';
import { NO_CAPABILITIES, missingCapabilities, requireCapability, type Node } from '../../harness/runtime/node.js';
import { PID_MARK } from '../../harness/runtime/pid-line.js';

/**
 * DockerNode over a dockerode container double: no engine. What it asks the container for (exec
 * argv, kill, pause, unpause, start, restart, network connect) is logged; each docker exec
 * answers from `answer`, or (a spawn) stays open until the test ends it.
 */
class FakeStream extends EventEmitter {
  stdin = '';
  ended = false;
  write(b: string | Buffer) {
    this.stdin += b.toString();
    return true;
  }
  end(b?: string | Buffer) {
    if (b !== undefined) this.stdin += b.toString();
    this.ended = true;
    this.emit('stdin-end');
    return this;
  }
  destroy() {
    this.emit('close');
  }
}

function fakeContainer(o: { answer?: (argv: string[]) => { code: number; stdout?: string; stderr?: string }; state?: { Running: boolean; Paused: boolean; Status: string } } = {}) {
  const calls: string[] = [];
  const spawned: { argv: string[]; stream: FakeStream; out?: Writable; err?: Writable; code: number | null }[] = [];
  const state = o.state ?? { Running: true, Paused: false, Status: 'running' };
  const container = {
    id: 'c0ffee0000000000aaaa',
    async exec(opts: { Cmd: string[]; AttachStdin?: boolean }) {
      const argv = opts.Cmd;
      calls.push(`exec ${argv.join(' ')}`);
      const stream = new FakeStream();
      // a spawn: sh -c <wrapper> sh <argv...>, kept open
      const isSpawn = argv[0] === 'sh' && argv[1] === '-c' && argv[2]!.includes(PID_MARK);
      const entry = { argv, stream, code: null as number | null };
      if (isSpawn) spawned.push(entry);
      return {
        async start() {
          return stream;
        },
        async inspect() {
          return { Running: isSpawn && entry.code === null, ExitCode: entry.code ?? 0 };
        },
        entry,
        isSpawn,
      };
    },
    modem: {
      demuxStream(stream: FakeStream, out: Writable, err: Writable) {
        const s = spawned.find((x) => x.stream === stream);
        if (s) {
          s.out = out;
          s.err = err;
          return;
        }
        setImmediate(() => {
          const argv = calls.at(-1)!.slice(5).split(' ');
          const a = o.answer?.(argv) ?? { code: 0 };
          if (a.stdout) out.write(a.stdout);
          if (a.stderr) err.write(a.stderr);
          // execIn reads the exit code from inspect: the entry of the last exec
          lastCode = a.code;
          setImmediate(() => stream.emit('end'));
        });
      },
    },
    async inspect() {
      return { State: { ...state } };
    },
    async kill(x: { signal: string }) {
      calls.push(`kill ${x.signal}`);
      state.Running = false;
      (state as { FinishedAt?: string }).FinishedAt = '2026-12-01T01:17:58.123456789Z';
    },
    async start() {
      calls.push('start');
      state.Running = true;
    },
    async restart(x: { t: number }) {
      calls.push(`restart -t ${x.t}`);
    },
    async stop(x: { t: number }) {
      calls.push(`stop -t ${x.t}`);
    },
    async pause() {
      calls.push('pause');
      state.Paused = true;
    },
    async unpause() {
      calls.push('unpause');
      state.Paused = false;
    },
  };
  let lastCode = 0;
  // execIn asks the exec it created for the code: give it the last answer's
  const exec = container.exec.bind(container);
  container.exec = async (opts) => {
    const e = await exec(opts);
    if (!e.isSpawn) e.inspect = async () => ({ Running: false, ExitCode: lastCode });
    return e;
  };
  return { container: container as unknown as Docker.Container, calls, spawned, state };
}

describe('DockerNode', () => {
  let saved: string | undefined;
  beforeEach(() => {
    // every command by docker exec: the node shell needs a real container
    saved = process.env.LVSH_NODE_SHELL;
    process.env.LVSH_NODE_SHELL = '0';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.LVSH_NODE_SHELL;
    else process.env.LVSH_NODE_SHELL = saved;
  });

  it('exec: argv by docker exec, exit code, stdout and stderr; a non-zero exit throws unless allowed', async () => {
    const f = fakeContainer({ answer: (argv) => (argv[0] === 'false' ? { code: 1, stderr: 'nope\n' } : { code: 0, stdout: 'out\n', stderr: 'err\n' }) });
    const n = new DockerNode('rs1', f.container, { containerName: 'lvsh-nat-rs1' });
    expect(await n.exec(['ip', '-o', 'addr'])).to.deep.equal({ exitCode: 0, stdout: 'out\n', stderr: 'err\n' });
    expect((await n.exec(['false'], { allowFailure: true })).exitCode).to.equal(1);
    const e = await n.exec(['false']).then(() => undefined, (x: HarnessError) => x);
    expect(e?.code).to.equal('ERR_LVS_EXEC_FAILED');
    expect(e?.message).to.include('`false` in container c0ffee000000 exited with 1: nope');
    expect(f.calls).to.deep.equal(['exec ip -o addr', 'exec false', 'exec false']);
  });

  it('writeFile goes in on stdin to an atomic rename; readFile cats; handCommand is a docker exec line', async () => {
    const f = fakeContainer({ answer: (argv) => (argv[0] === 'cat' ? { code: 1, stderr: 'cat: /x: No such file or directory\n' } : { code: 0 }) });
    const n = new DockerNode('rs1', f.container, { containerName: 'lvsh-nat-rs1' });
    await n.writeFile('/etc/x.conf', 'text\n', 0o644);
    expect(f.calls[0]).to.match(/^exec sh -c f=\$1; .* sh \/etc\/x\.conf 644$/s);
    const e = await n.readFile('/x').then(() => undefined, (x: HarnessError) => x);
    expect(e?.message).to.equal('cannot read /x on rs1 (container lvsh-nat-rs1): /x: No such file or directory');
    expect(n.handCommand(['ip', 'addr', 'del', '10.0.0.5/32', 'dev', 'eth0'])).to.equal('docker exec lvsh-nat-rs1 ip addr del 10.0.0.5/32 dev eth0');
  });

  it('lifecycle: kill, restart, pause and unpause (only when paused), ensureRunning starts or thaws', async () => {
    const f = fakeContainer();
    const n = new DockerNode('rs1', f.container, { containerName: 'lvsh-nat-rs1' });
    expect(n.capabilities).to.deep.equal({ kill: true, stop: true, start: true, pause: true, restart: true, networks: false });
    await n.pause();
    expect(await n.state()).to.deep.equal({ running: true, paused: true, status: 'running' });
    await n.unpause();
    await n.unpause(); // not paused: nothing to docker
    await n.restart(2_500);
    await n.kill();
    // when it died, by the clock of the machine that ran it (Docker's FinishedAt)
    expect(await n.state()).to.deep.equal({ running: false, paused: false, status: 'running', endedAt: Date.parse('2026-12-01T01:17:58.123Z') });
    await n.ensureRunning(); // stopped: started
    await n.ensureRunning(); // running: nothing
    await n.pause();
    await n.ensureRunning(); // paused: unpaused
    expect(f.calls).to.deep.equal(['pause', 'unpause', 'restart -t 3', 'kill SIGKILL', 'start', 'pause', 'unpause']);
  });

  it('spawn: output streamed without the pid line, stdin written, the exit code at the end; kill signals the pid inside', async () => {
    const f = fakeContainer();
    const n = new DockerNode('c1', f.container);
    const p = await n.spawn(['node', '/opt/lvs-harness/agent.cjs']);
    const s = f.spawned[0]!;
    expect(s.argv.slice(3)).to.deep.equal(['sh', 'node', '/opt/lvs-harness/agent.cjs']);
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    s.err!.write(`\x1f${PID_MARK}42\nwarming up\n`);
    s.out!.write('{"type":"ready"}\n');
    p.stdin.write('{"cmd":"clock"}\n');
    expect(s.stream.stdin).to.equal('{"cmd":"clock"}\n');
    p.kill();
    await new Promise((r) => setImmediate(r));
    expect(f.calls.at(-1)).to.equal('exec kill -s TERM 42');
    s.code = 143;
    s.stream.emit('end');
    expect(await p.exit).to.deep.equal({ exitCode: 143, signal: null });
    expect(out).to.equal('{"type":"ready"}\n');
    expect(err).to.equal('warming up\n');
    p.kill(); // ended: nothing more
    expect(f.calls.filter((c) => c.startsWith('exec kill'))).to.have.length(1);
  });

  it('attaches to networks only when it has the engine', async () => {
    const connected: string[] = [];
    const docker = { getNetwork: (name: string) => ({ connect: async (o: { Container: string }) => void connected.push(`${name} ${o.Container}`), disconnect: async () => void connected.push(`${name} -`) }) } as unknown as Docker;
    const n = new DockerNode('c1', fakeContainer().container, { containerName: 'lvsh-nat-c1', docker });
    expect(n.capabilities.networks).to.equal(true);
    await n.attachNetwork('lvsh-nat-back');
    await n.detachNetwork('lvsh-nat-back');
    expect(connected).to.deep.equal(['lvsh-nat-back c0ffee0000000000aaaa', 'lvsh-nat-back -']);
  });
});

describe('requireCapability', () => {
  const commandsOnly = { name: 'lb1', capabilities: { ...NO_CAPABILITIES } } as unknown as Node;

  it('refuses a node without the capability, naming the node, the fault and what it cannot do', () => {
    const e = (() => {
      try {
        requireCapability(commandsOnly, ['kill', 'start'], 'kill on lb1');
      } catch (x) {
        return x as HarnessError;
      }
    })();
    expect(e?.code).to.equal('ERR_LVS_NODE_UNSUPPORTED');
    expect(e?.message).to.equal('kill on lb1: node lb1 cannot be killed (SIGKILL to every process at once), nor be started again; nothing was done to it');
    expect(e?.hint).to.equal('kill needs a node whose runtime can do that (a Docker container); lb1 runs commands only');
    expect(missingCapabilities(commandsOnly, ['pause', 'networks'])).to.deep.equal(['pause', 'networks']);
  });

  it('refuses a node that claims a capability but has no lifecycle to do it with', () => {
    const liar = { name: 'rs9', capabilities: { ...NO_CAPABILITIES, pause: true } } as unknown as Node;
    expect(() => requireCapability(liar, ['pause'], 'pause on rs9')).to.throw(HarnessError, 'pause on rs9: node rs9 cannot report state, pause, unpause; nothing was done to it');
  });

  it('gives a DockerNode its lifecycle', () => {
    const n = new DockerNode('rs1', fakeContainer().container);
    expect(requireCapability(n, ['kill', 'start', 'pause', 'restart'], 'kill on rs1')).to.equal(n);
  });
});

describe("DockerNode: Docker's FinishedAt as a time", () => {
  it('reads nanoseconds, fewer digits and offsets; a container that never ended and anything else is no time', () => {
    expect(finishedAtMs('2026-12-01T01:17:58.123456789Z')).to.equal(Date.parse('2026-12-01T01:17:58.123Z'));
    expect(finishedAtMs('2026-12-01T01:17:58.5Z')).to.equal(Date.parse('2026-12-01T01:17:58.500Z'));
    expect(finishedAtMs('2026-12-01T01:17:58Z')).to.equal(Date.parse('2026-12-01T01:17:58Z'));
    expect(finishedAtMs('2026-12-01T02:17:58.25+01:00')).to.equal(Date.parse('2026-12-01T01:17:58.250Z'));
    for (const x of ['0001-01-01T00:00:00Z', '', 'yesterday', undefined, 42, null]) expect(finishedAtMs(x), String(x)).to.equal(undefined);
  });
});
