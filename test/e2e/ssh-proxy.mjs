#!/usr/bin/env node
// The SSH tests' ProxyCommand (test/e2e/ssh.test.ts): carries one SSH connection between this
// process's stdin/stdout and port 22 inside a lab container, over a hijacked docker exec of socat.
// The lab's containers sit on networks inside the VM, out of the host's reach; this is how a jump
// host carries a connection to a staging director, with the Docker engine as the jump host.
// Usage: ssh-proxy.mjs <docker host:port> <container> [<ca> <cert> <key>] (the lab's API is mutual TLS)
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';

const [endpoint, container, ca, cert, key] = process.argv.slice(2);
if (!endpoint || !container) {
  process.stderr.write('usage: ssh-proxy.mjs <docker host:port> <container> [<ca> <cert> <key>]\n');
  process.exit(2);
}
const [host, port] = endpoint.split(':');
const docker = new Docker(
  ca ? { host, port: Number(port), protocol: 'https', ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) } : { host, port: Number(port), protocol: 'http' },
);
try {
  const exec = await docker.getContainer(container).exec({ Cmd: ['socat', 'STDIO', 'TCP:127.0.0.1:22'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: true });
  docker.modem.demuxStream(stream, process.stdout, process.stderr);
  process.stdin.pipe(stream);
  stream.on('end', () => process.exit(0));
  stream.on('error', (e) => {
    process.stderr.write(`ssh-proxy: ${container}: ${e.message}\n`);
    process.exit(1);
  });
} catch (e) {
  process.stderr.write(`ssh-proxy: ${container}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
