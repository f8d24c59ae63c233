import { expect } from 'chai';
import { parseDockerHost } from '../../harness/runtime/docker.js';
import { chooseRuntime, type LocalProbe } from '../../harness/runtime/select.js';

const noEngine: LocalProbe = { engine: false, detail: 'nothing at /var/run/docker.sock' };
const engineNoIpvs: LocalProbe = { engine: true, socketPath: '/var/run/docker.sock', ipvs: false, detail: 'the host kernel 6.18 has no ip_vs' };
const engineIpvs: LocalProbe = { engine: true, socketPath: '/var/run/docker.sock', ipvs: true, detail: 'a NET_ADMIN container ran ipvsadm -Ln' };

describe('runtime selection', () => {
  it('an explicit --docker-host wins over everything', () => {
    const c = chooseRuntime({ flag: 'tcp://10.1.2.3:2376', env: { DOCKER_HOST: 'unix:///x.sock' }, local: engineIpvs });
    expect(c.kind).to.equal('explicit');
    expect(c).to.deep.include({ source: '--docker-host' });
    expect(c.kind === 'explicit' && c.endpoint).to.deep.equal({ kind: 'tcp', host: '10.1.2.3', port: 2376 });
  });

  it('then DOCKER_HOST, with the docker CLI TLS conventions', () => {
    const c = chooseRuntime({ env: { DOCKER_HOST: 'tcp://127.0.0.1:23750', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, local: engineIpvs });
    expect(c.kind).to.equal('explicit');
    if (c.kind !== 'explicit') return;
    expect(c.source).to.equal('DOCKER_HOST');
    expect(c.endpoint).to.deep.equal({ kind: 'tcp', host: '127.0.0.1', port: 23750, tls: { caPath: '/certs/ca.pem', certPath: '/certs/cert.pem', keyPath: '/certs/key.pem' } });
  });

  it('then the local engine, only when it can run IPVS', () => {
    const c = chooseRuntime({ env: {}, local: engineIpvs });
    expect(c.kind).to.equal('local');
    expect(c.reason).to.contain('ipvsadm -Ln');
    const d = chooseRuntime({ env: {}, local: engineNoIpvs });
    expect(d.kind).to.equal('lab');
    expect(d.reason).to.equal('the local engine cannot run IPVS (the host kernel 6.18 has no ip_vs)');
  });

  it('else the lab, saying why', () => {
    const c = chooseRuntime({ env: {}, local: noEngine });
    expect(c).to.deep.equal({ kind: 'lab', reason: 'no local Docker engine (nothing at /var/run/docker.sock)' });
  });

  it('parses Docker endpoints and rejects nonsense with the value in the message', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).to.deep.equal({ kind: 'socket', socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('tcp://[::1]:2375')).to.deep.equal({ kind: 'tcp', host: '::1', port: 2375 });
    expect(() => parseDockerHost('ftp://x')).to.throw('"ftp://x" is not a Docker endpoint');
  });
});
