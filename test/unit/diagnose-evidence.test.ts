import { expect } from 'chai';
import { parseEvidence, unreachable } from '../../harness/diagnose/evidence.js';
import { parseAddrs, parseLinks, parseNeigh, parseRoutes } from '../../harness/diagnose/parse-net.js';
import { commandsFor, END, evidenceArgv, evidenceScript } from '../../harness/diagnose/script.js';
import { fixtureText } from '../diagnose-helpers.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

describe('diagnose: evidence', () => {
  describe('the script', () => {
    it('asks a director for IPVS and keepalived, a client for neither', () => {
      expect(commandsFor('director').map((c) => c.key)).to.include.members(['ipvs', 'ipvs-conns', 'ipvs-persistent', 'keepalived-log', 'keepalived-conf', 'keepalived-proc', 'iptables-nat', 'iptables-mangle']);
      expect(commandsFor('client').map((c) => c.key)).to.deep.equal(['sysctl', 'addr', 'link', 'route', 'route6', 'neigh']);
      expect(evidenceScript('client')).not.to.include('ipvsadm');
    });

    it('is one sh -c program that POSIX sh reads, and its sections parse even where the tools are missing', function () {
      const argv = evidenceArgv('director');
      expect(argv.slice(0, 2)).to.deep.equal(['sh', '-c']);
      const syntax = spawnSync('/bin/sh', ['-n', '-c', argv[2]!]);
      expect(syntax.status, syntax.stderr?.toString()).to.equal(0);
      // run here, where the lab's tools and files are mostly missing: every section still ends with a status
      const r = spawnSync('/bin/sh', ['-c', argv[2]!], { timeout: 30_000 });
      const ev = parseEvidence('director', r.stdout.toString());
      expect(Object.keys(ev.items)).to.have.length(commandsFor('director').length);
      for (const it of Object.values(ev.items)) expect(it.exitCode, it.key).to.be.a('number');
      expect(ev.items['keepalived-conf']!.exitCode).to.not.equal(0);
    });
  });

  describe('the sysctls, read from /proc/sys by the shell (no sysctl -a to cut short)', () => {
    it('prints what sysctl prints for the files the modes depend on, a dotted device as sysctl names it, and nothing else', () => {
      const root = mkdtempSync(path.join(os.tmpdir(), 'lvsh-proc-'));
      const put = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      };
      put('net/ipv4/ip_forward', '0\n');
      put('net/ipv4/conf/all/rp_filter', '1\n');
      put('net/ipv4/conf/eth0.100/rp_filter', '2\n');
      put('net/ipv4/conf/eth0/arp_ignore', '1\n');
      put('net/ipv4/conf/eth0/forwarding', '1\n'); // not one of ours
      put('net/ipv4/vs/conntrack', '1\n');
      put('net/ipv4/vs/sync_threshold', '3\t50\n');
      put('net/ipv6/conf/all/forwarding', '0\n');
      const command = commandsFor('director').find((c) => c.key === 'sysctl')!.command;
      expect(command).not.to.match(/sysctl -a|\bcat\b|\bawk\b|\btr\b/);
      const r = spawnSync('/bin/sh', ['-c', command.split('/proc/sys').join(root)], { timeout: 10_000 });
      rmSync(root, { recursive: true, force: true });
      expect(r.status, r.stderr.toString()).to.equal(0);
      const lines = r.stdout.toString().trim().split('\n').sort();
      expect(lines).to.deep.equal(
        [
          'net.ipv4.ip_forward = 0',
          'net.ipv4.conf.eth0.arp_ignore = 1',
          'net.ipv4.conf.all.rp_filter = 1',
          'net.ipv4.conf.eth0/100.rp_filter = 2',
          'net.ipv4.vs.conntrack = 1',
          'net.ipv4.vs.sync_threshold = 3\t50',
          'net.ipv6.conf.all.forwarding = 0',
        ].sort(),
      );
      // what diagnose reads of it (a dotted device's key as confKey makes it)
      const ev = parseEvidence('director', `#lvsh-evidence-begin sysctl\n${r.stdout}#lvsh-evidence-end sysctl rc=0 lines=${lines.length}\n`);
      expect(ev.sysctls.get('net.ipv4.ip_forward')?.value).to.equal('0');
      expect(ev.sysctls.get('net.ipv4.conf.eth0/100.rp_filter')?.value).to.equal('2');
    });
  });

  describe('parsing a recorded director', () => {
    const ev = parseEvidence('director', fixtureText('nat', 'director'));
    it('reads the sysctls the modes depend on', () => {
      expect(ev.sysctls.get('net.ipv4.ip_forward')?.value).to.equal('1');
      expect(ev.sysctls.get('net.ipv4.vs.conntrack')?.line).to.equal('net.ipv4.vs.conntrack = 0');
      expect(ev.sysctls.get('net.ipv4.vs.sync_threshold')?.value).to.equal('3\t50');
    });
    it('keeps the command and the raw lines of every item', () => {
      expect(ev.items.ipvs?.command).to.equal('timeout 5 ipvsadm -Ln');
      expect(ev.items.ipvs?.lines[3]).to.equal('TCP  10.89.10.100:80 rr');
      expect(ev.items['keepalived-log']).to.deep.include({ exitCode: 1, lines: [] });
      expect(ev.error).to.equal(undefined);
    });
    it('reads the IPVS table and its connections', () => {
      expect(ev.ipvs.map((s) => s.key)).to.include.members(['10.89.10.100:80', '1', '[fd89:10::100]:80']);
      expect(ev.conns[0]).to.include({ state: 'TIME_WAIT', destination: '10.89.20.11:80' });
      expect(ev.conns[0]!.line).to.match(/^TCP 01:52/);
    });
    it('reads addresses, links with MTU and MAC, routes of both families', () => {
      expect(ev.addrs.find((a) => a.address === '10.89.10.100')).to.include({ dev: 'eth0', prefix: 32 });
      expect(ev.links.find((l) => l.dev === 'eth1')).to.include({ mtu: 1500, state: 'UP', mac: '02:42:0a:59:14:02' });
      expect(ev.links.find((l) => l.dev === 'tunl0')).to.include({ kind: 'ipip', state: 'DOWN' });
    });
  });

  describe('lines as iproute2 prints them', () => {
    it('addresses, IPv6 included, devices with @ifN', () => {
      expect(parseAddrs(['7: eth0@if8    inet6 fd89:20::11/64 scope global nodad \\       valid_lft forever preferred_lft forever'])[0]).to.include({ dev: 'eth0', family: 6, address: 'fd89:20::11', prefix: 64 });
    });
    it('a link that is down keeps its MTU and MAC', () => {
      expect(parseLinks(['44: eth0@if45: <BROADCAST,MULTICAST> mtu 1400 qdisc noqueue state DOWN mode DEFAULT group default \\    link/ether 02:42:0a:59:1e:0b brd ff:ff:ff:ff:ff:ff link-netnsid 0'])[0]).to.include({ dev: 'eth0', mtu: 1400, state: 'DOWN', mac: '02:42:0a:59:1e:0b' });
    });
    it('neighbour entries with and without a MAC, routes with types', () => {
      expect(parseNeigh(['10.89.30.12 dev eth0  FAILED', 'fd89:10::1 dev eth0 lladdr 02:42:5c:3a:11:7e router STALE'])).to.deep.equal([
        { address: '10.89.30.12', dev: 'eth0', state: 'FAILED', line: '10.89.30.12 dev eth0  FAILED' },
        { address: 'fd89:10::1', dev: 'eth0', lladdr: '02:42:5c:3a:11:7e', state: 'STALE', line: 'fd89:10::1 dev eth0 lladdr 02:42:5c:3a:11:7e router STALE' },
      ]);
      expect(parseRoutes(['blackhole 10.0.0.0/8', 'default via 10.89.20.2 dev eth0 '], 4).map((r) => [r.dst, r.via])).to.deep.equal([['10.0.0.0/8', undefined], ['default', '10.89.20.2']]);
    });
  });

  describe('never throws', () => {
    for (const [what, input] of [
      ['nothing', ''],
      ['not a string', 42],
      ['an unknown section', '#lvsh-evidence-begin bogus\nx\n#lvsh-evidence-end bogus rc=0 lines=1\n'],
      ['garbage in every section', commandsFor('director').map((c) => `#lvsh-evidence-begin ${c.key}\n\u0000 ::: [ ]\n-> -> ->`).join('\n')],
    ] as const) {
      it(`on ${what}`, () => {
        const ev = parseEvidence('n', input);
        expect(ev.node).to.equal('n');
        expect(ev.ipvs).to.be.an('array');
      });
    }
    it('says which sections were cut short and that a node did not answer', () => {
      expect(parseEvidence('d', '#lvsh-evidence-begin ipvs\nIP Virtual Server version 1.2.1 (size=4096)\n').error).to.equal('sections cut short: ipvs');
      expect(unreachable('rs2', 'container is not running').error).to.equal('container is not running');
    });
    it('keeps the number of lines a section had beyond those shown', () => {
      const ev = parseEvidence('d', `#lvsh-evidence-begin ipvs-conns\na\n${END} ipvs-conns rc=0 lines=9000\n`);
      expect(ev.items['ipvs-conns']).to.include({ totalLines: 9000, exitCode: 0 });
    });
  });
});
