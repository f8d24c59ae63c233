import { expect } from 'chai';
import { RECIPE, canonicalJson, stableHash, stepKeys, type ResolvedInputs } from '../../harness/lab/recipe.js';

const base = (): ResolvedInputs => ({
  recipe: RECIPE,
  kernelPackage: 'linux-image-6.1.0-56-amd64',
  kernelPackageVersion: '6.1.192-2',
  nodeVersion: 'v20.20.2',
  assets: { 'initramfs-init.sh': '#!/bin/sh\n', 'lab-init.sh': '#!/bin/sh\necho ready\n' },
});

describe('recipe hashing', () => {
  it('does not depend on key order', () => {
    expect(stableHash({ a: 1, b: [1, { c: 2, d: 3 }] })).to.equal(stableHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(canonicalJson({ b: 1, a: undefined, c: 'x' })).to.equal('{"b":1,"c":"x"}');
  });

  it('is stable for the same recipe', () => {
    expect(stepKeys(base())).to.deep.equal(stepKeys(base()));
  });

  it('a changed node package list rebuilds the node image and the root image, not the kernel', () => {
    const a = stepKeys(base());
    const inp = base();
    inp.recipe = { ...RECIPE, nodePackages: [...RECIPE.nodePackages, 'strace'] } as never;
    const b = stepKeys(inp);
    expect(b.nodeRootfs).to.not.equal(a.nodeRootfs);
    expect(b.rootImage).to.not.equal(a.rootImage);
    expect(b.lab).to.not.equal(a.lab);
    expect(b.kernel).to.equal(a.kernel);
    expect(b.labBase).to.equal(a.labBase);
    expect(b.initramfs).to.equal(a.initramfs);
  });

  it('a changed lab-init rebuilds only the root image', () => {
    const a = stepKeys(base());
    const inp = base();
    inp.assets['lab-init.sh'] += 'echo more\n';
    const b = stepKeys(inp);
    expect(b.rootImage).to.not.equal(a.rootImage);
    expect([b.kernel, b.initramfs, b.nodeRootfs, b.labBase]).to.deep.equal([a.kernel, a.initramfs, a.nodeRootfs, a.labBase]);
  });

  it('a new kernel in the archive rebuilds kernel, initramfs and root image', () => {
    const a = stepKeys(base());
    const inp = base();
    inp.kernelPackageVersion = '6.1.193-1';
    const b = stepKeys(inp);
    expect(b.kernel).to.not.equal(a.kernel);
    expect(b.initramfs).to.not.equal(a.initramfs);
    expect(b.rootImage).to.not.equal(a.rootImage);
    expect(b.nodeRootfs).to.equal(a.nodeRootfs);
  });

  it('a different Node binary changes the node image', () => {
    const inp = base();
    inp.nodeVersion = 'v20.21.0';
    expect(stepKeys(inp).nodeRootfs).to.not.equal(stepKeys(base()).nodeRootfs);
  });

  it('the recipe carries every module the harness relies on', () => {
    for (const m of ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_lblc', 'ip_vs_lblcr', 'ip_vs_dh', 'ip_vs_sh', 'ip_vs_sed', 'ip_vs_nq', 'ip_vs_fo', 'ip_vs_ovf', 'ip_vs_mh', 'ipip', 'sch_netem', 'veth', 'bridge', 'br_netfilter', 'overlay', 'nf_nat'])
      expect(RECIPE.vmModules, m).to.include(m);
    for (const p of ['ipvsadm', 'keepalived', 'nginx-light', 'iproute2', 'iptables', 'nftables', 'tcpdump', 'curl', 'procps', 'openssh-server', 'socat'])
      expect(RECIPE.nodePackages, p).to.include(p);
  });
});
