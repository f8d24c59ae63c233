import { expect } from 'chai';
import { parseConsole } from '../../harness/lab/console.js';

describe('lab console parsing', () => {
  it('follows the boot to ready, with kernel and ipvs', () => {
    const text = [
      '[    0.000000] Linux version 6.1.0-56-amd64',
      'lab: initramfs',
      'lab: ipvs loaded',
      'lab: network up',
      'lab: dockerd up',
      'lab: node image lvs-harness/node:abc',
      'lab: ready kernel=6.1.0-56-amd64 ipvs=yes',
    ].join('\r\n');
    const c = parseConsole(text);
    expect(c.phase).to.equal('ready');
    expect(c.kernel).to.equal('6.1.0-56-amd64');
    expect(c.ipvs).to.equal(true);
    expect(c.steps).to.have.length(6);
  });

  it('is still booting midway, and knows ipvs before ready', () => {
    const c = parseConsole('lab: initramfs\nlab: ipvs missing\n');
    expect(c.phase).to.equal('booting');
    expect(c.ipvs).to.equal(false);
  });

  it('reports a fatal line from lab-init', () => {
    const c = parseConsole('lab: initramfs\nlab: FATAL dockerd did not start\n');
    expect(c).to.deep.include({ phase: 'failed', error: 'dockerd did not start' });
  });

  it('reports a kernel panic before lab-init speaks', () => {
    const c = parseConsole('[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
    expect(c.phase).to.equal('failed');
    expect(c.error).to.contain('Unable to mount root fs');
  });
});
