import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { diffRules, normalize, parseRules, parseRulesFile, parseSave, renderRestore, RulesParseError, type VirtualServiceRule } from '../../harness/ipvs/rules.js';
import { servicesTable } from '../../harness/ipvs/services.js';

const FIX = 'test/fixtures/ipvsadm';
const fixture = (name: string) => readFileSync(`${FIX}/${name}`, 'utf8');
// a fixed table, so the tests do not depend on this host's /etc/services
const services = servicesTable('shopapi 8443/tcp\n# comment\nhttp 80/tcp www\n');

function parseError(text: string, file = 'rules.sh'): RulesParseError {
  try {
    parseRules(text, file, { services });
  } catch (e) {
    expect(e).to.be.instanceOf(RulesParseError);
    return e as RulesParseError;
  }
  throw new Error(`expected a RulesParseError for ${JSON.stringify(text)}`);
}

/** The rules without where they came from, for comparing tables. */
const bare = (s: readonly VirtualServiceRule[]) => normalize(s);

describe('IPVS rules: parseRules (ipvsadm -S with and without -n, and scripts)', () => {
  describe('ipvsadm -S', () => {
    it('without -n: port names resolve through the services table, host names are kept and flagged', () => {
      const r = parseRules(fixture('save-names.rules'), 'save-names.rules', { services });
      expect(r.source).to.equal('save');
      const web = r.services[0]!;
      expect(web).to.include({ address: 'shop-vip.lab.internal', port: 80, hostName: true });
      expect(web.loc).to.deep.equal({ file: 'save-names.rules', line: 1 });
      expect(web.realServers[1]).to.include({ address: 'rs2.lab.internal', port: 80, hostName: true });
      expect(web.realServers[1]!.loc).to.deep.equal({ file: 'save-names.rules', line: 3 });
      expect(r.warnings.map((w) => [w.line, w.message])).to.deep.equal([
        [1, 'host name shop-vip.lab.internal kept as written: it cannot be checked without resolving it'],
        [3, 'host name rs2.lab.internal kept as written: it cannot be checked without resolving it'],
      ]);
    });

    it('with -n: the same table in numbers (the two files differ only where host names stood)', () => {
      const names = parseRules(fixture('save-names.rules'), 'a', { services }).services;
      const numeric = parseRules(fixture('save-numeric.rules'), 'b', { services });
      expect(numeric.warnings).to.deep.equal([]);
      expect(diffRules(names.slice(1), numeric.services.slice(1))).to.deep.equal([]);
      expect(numeric.services[1]).to.deep.include({ scheduler: 'sh', schedFlags: 'sh-fallback,sh-port' });
      expect(numeric.services[2]).to.include({ protocol: 'udp', port: 53, onePacket: true });
      expect(numeric.services[1]!.realServers[1]).to.include({ port: 8443, method: 'masq' });
    });

    it('an /etc/services text given as the table: its names resolve, per protocol', () => {
      const r = parseRules('-A -t 10.0.0.1:shopapi -s rr\n-a -t 10.0.0.1:shopapi -r 10.0.0.2 -m\n', 'x', { services });
      expect(r.services[0]!.port).to.equal(8443);
      expect(r.services[0]!.realServers[0]!.port).to.equal(8443, '-r without a port takes the service port');
      expect(parseError('-A -u 10.0.0.1:shopapi -s rr\n').message).to.equal('rules.sh:1: unknown service name "shopapi": -A -u 10.0.0.1:shopapi -s rr');
    });

    it('IPv6, fwmark (-f, -f -6), -M, --pe, -b, GUE/GRE tunnels, and back through renderRestore', () => {
      const r = parseRules(fixture('ipv6-fwmark.rules'), 'v6.rules', { services });
      const [v6, fwm, fwm6, sip] = r.services;
      expect(v6).to.deep.include({ address: '2001:db8:40::10', port: 80, persistence: { timeout: 120, netmask: '64' } });
      expect(fwm).to.deep.include({ fwmark: 7, scheduler: 'mh', schedFlags: 'mh-port' });
      expect(fwm!.realServers.map(({ loc: _, ...x }) => x)).to.deep.equal([
        { address: '192.168.40.11', port: 0, method: 'tunnel', weight: 1, tunType: 'gue', tunPort: 6080, tunCsum: 'csum' },
        { address: '192.168.40.12', port: 0, method: 'tunnel', weight: 1, tunType: 'gre' },
        { address: '192.168.40.13', port: 0, method: 'tunnel', weight: 1 },
      ]);
      expect(fwm6).to.deep.include({ fwmark: 8, ipv6: true, persistence: { timeout: 300 } });
      expect(sip).to.include({ pe: 'sip' });
      const again = parseRules(renderRestore(r.services), 'again', { services }).services;
      expect(bare(again)).to.deep.equal(bare(r.services));
      expect(renderRestore(r.services)).to.contain('-A -u 192.168.40.10:5060 -s rr -p 60 --pe sip\n').and.contain('--tun-type gue --tun-port 6080 --tun-csum\n');
    });

    it('loc and hostName are ignored by normalize and diffRules', () => {
      const r = parseRules(fixture('save-numeric.rules'), 'n', { services }).services;
      expect(diffRules(r, parseSave(fixture('save-numeric.rules')))).to.deep.equal([]);
      expect(JSON.stringify(normalize(r))).to.not.contain('loc');
      // parseSave stays as it was: names kept as printed, no annotations
      expect(parseSave(fixture('save-names.rules'))[0]).to.include({ address: 'shop-vip.lab.internal', port: 'http' }).and.not.have.property('hostName');
    });
  });

  describe('option spellings ipvsadm (popt) accepts', () => {
    const canonical = parseRules('-A -t 10.0.0.1:80 -s wrr -p 60\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 3\n', 'c', { services }).services;
    const spellings = [
      '--add-service --tcp-service 10.0.0.1:80 --scheduler wrr --persistent 60\n--add-server --tcp-service 10.0.0.1:80 --real-server 10.0.0.2:80 --masquerading --weight 3',
      '--add-service --tcp-service=10.0.0.1:80 --scheduler=wrr --persistent=60\n--add-server --tcp-service=10.0.0.1:80 --real-server=10.0.0.2:80 --masquerading --weight=3',
      '-A -t10.0.0.1:80 -swrr -p60\n-a -t 10.0.0.1:http -r10.0.0.2:www -mw3',
      '-A -t 10.0.0.1:80 -s=wrr -p=60\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w=3',
      '-A -tcp-service 10.0.0.1:80 -scheduler wrr -persistent 60\n-a -t 10.0.0.1:80 -real-server 10.0.0.2:80 -masquerading -weight 3',
      '-At 10.0.0.1:80 -s wrr -p 60\n-at 10.0.0.1:80 -r 10.0.0.2:80 -mw 3',
    ];
    for (const text of spellings) {
      it(text.split('\n')[0]!, () => {
        expect(bare(parseRules(text, 's', { services }).services)).to.deep.equal(bare(canonical));
      });
    }

    it('-p without a value is 300 s, whatever follows it', () => {
      for (const t of ['-A -t 10.0.0.1:80 -p', '-A -t 10.0.0.1:80 -p -s rr', '-A -t 10.0.0.1:80 --persistent -s rr']) {
        expect(parseRules(t, 'p', { services }).services[0]!.persistence).to.deep.equal({ timeout: 300 });
      }
    });

    it('ipvsadm defaults: wlc, -g, weight 1; a -g/-i server takes the service port (with a warning)', () => {
      const r = parseRules('-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2:8080\n', 'd', { services });
      expect(r.services[0]!.scheduler).to.equal('wlc');
      expect(r.services[0]!.realServers[0]).to.include({ port: 80, method: 'droute', weight: 1 });
      expect(r.warnings[0]!.message).to.equal('10.0.0.2:8080: ipvsadm uses the service port 80 for a -g real server, not 8080');
    });

    it('-b flags are stored as -S prints them for the scheduler (flag-1 is sh-fallback under sh)', () => {
      expect(parseRules('-A -t 10.0.0.1:80 -s sh -b sh-port,flag-1', 'b', { services }).services[0]!.schedFlags).to.equal('sh-fallback,sh-port');
      expect(parseRules('-A -t 10.0.0.1:80 -s rr -b flag-3,flag-2', 'b', { services }).services[0]!.schedFlags).to.equal('flag-2,flag-3');
    });
  });

  describe('errors: file, line, the word, and what is allowed', () => {
    const cases: [string, number, string, string][] = [
      ['-A -t 10.0.0.1:80 --bogus', 1, '--bogus', 'unknown option --bogus'],
      ['-A -t 10.0.0.1:80 -s', 1, '-s', '-s needs a value'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.9:80 -r 10.0.0.2', 2, 'tcp:10.0.0.9:80', 'real server of a service not defined above'],
      // seed 003's typo: ipvsadm refuses it too
      ['-A -t 172.30.2.151:80 -s rr\n-a -t 172.30.2.151:80:80 -r 172.16.225.110 -m', 2, '172.30.2.151:80:80', '"172.30.2.151:80:80" is not an address'],
      ['-A -t 10.0.0.256:80', 1, '10.0.0.256:80', '"10.0.0.256:80" is not an address'],
      ['-A -t 10.0.0.1:65536', 1, '10.0.0.1:65536', 'port 65536 is out of range'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w 70000', 2, '70000', 'illegal weight "70000"'],
      ['-A -t 10.0.0.1:80 -6', 1, '-6', '-6 used before -f'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -s rr', 2, '-s', '-s is not an option of -a'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -g --tun-type gre', 2, '--tun-type', '--tun-type is a tunnel option'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -i --tun-type gue', 2, '--tun-type', '--tun-type gue needs --tun-port'],
      ['-A -t 10.0.0.1:80 -s rr -b sh-port', 1, 'sh-port', 'scheduler flag sh-port is for the sh scheduler, not rr'],
      ['-A -t 10.0.0.1:80 -s rr -s wrr', 1, '-s', '-s given twice (with -s)'],
      ['-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80', 2, 'tcp:10.0.0.1:80', 'service tcp:10.0.0.1:80 already exists (added at line 1)'],
      ['-A -t 10.0.0.1:80\n-e -t 10.0.0.1:80 -r 10.0.0.3', 2, '10.0.0.3:80', 'no real server 10.0.0.3:80 in tcp:10.0.0.1:80'],
      ['-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -g', 2, '[2001:db8::2]:80', '[2001:db8::2]:80 is IPv6 and the service IPv4'],
      ['-A -t 10.0.0.1:0 -s rr', 1, '10.0.0.1:0', '"10.0.0.1:0" is not address:port'],
      ['-A -t 10.0.0.1:80 stray', 1, 'stray', 'unexpected argument stray'],
      ['-A -f 0', 1, '0', 'illegal fwmark "0"'],
      ['-A -t 10.0.0.1:80 -p 0', 1, '0', 'illegal persistence timeout "0"'],
    ];
    for (const [text, line, word, why] of cases) {
      it(why, () => {
        const e = parseError(text);
        expect({ file: e.file, line: e.line, word: e.word }).to.deep.equal({ file: 'rules.sh', line, word });
        expect(e.message).to.equal(`rules.sh:${line}: ${why}: ${text.split('\n')[line - 1]}`);
        expect(e.allowed, 'says what is allowed').to.be.a('string').and.not.empty;
        expect(e.describe()).to.contain(`allowed: ${e.allowed}`);
      });
    }

    it('an unreadable file is a located error too', () => {
      expect(() => parseRulesFile(`${FIX}/no-such.rules`)).to.throw(RulesParseError, /no-such\.rules:0: cannot read the rules file \(ENOENT\)/);
    });
  });

  describe('shell scripts of ipvsadm commands', () => {
    it('builds the table the script leaves: -C, variables, continuations, sudo, $IPVSADM, -d, -E, -e, long options', () => {
      const r = parseRulesFile(`${FIX}/director.sh`, { services });
      expect(r.source).to.equal('script');
      expect(bare(r.services)).to.deep.equal(
        bare([
          {
            protocol: 'tcp',
            address: '192.168.40.100',
            port: 80,
            scheduler: 'wlc',
            // -E without a timeout: persistence 300 s; the spare was deleted, rs1's weight edited
            persistence: { timeout: 300 },
            realServers: [
              { address: '192.168.40.11', port: 80, method: 'droute', weight: 5 },
              { address: '192.168.40.12', port: 80, method: 'droute', weight: 1 },
            ],
          },
          { protocol: 'udp', address: '192.168.40.100', port: 53, scheduler: 'rr', realServers: [{ address: '192.168.40.11', port: 53, method: 'masq', weight: 2 }] },
        ]),
      );
      expect(r.services[0]!.realServers[1]!.loc).to.deep.equal({ file: `${FIX}/director.sh`, line: 16 }, 'a continued command has the line it starts on');
    });

    it('reports what it cannot evaluate, with the line, and skips it', () => {
      const r = parseRulesFile(`${FIX}/director.sh`, { services });
      expect(r.warnings.map((w) => w.line)).to.deep.equal([28, 32]);
      expect(r.warnings[0]!.message).to.match(/^for block \(lines 28-30\) not understood, skipped/);
      expect(r.warnings[1]!.message).to.match(/\$SELF comes from command substitution \$\(\.\.\.\) at line 31/);
      expect(r.skipped.map((s) => [s.line, s.text])).to.deep.equal([[34, 'ipvsadm -Ln']]);
    });

    it('extracts the host setup: VIP addresses, host routes, links, ARP and forwarding sysctls', () => {
      const d = parseRulesFile(`${FIX}/director.sh`, { services }).hostSetup.map(({ loc, ...s }) => ({ line: loc.line, ...s }));
      expect(d).to.deep.equal([
        { line: 9, kind: 'sysctl', key: 'net.ipv4.ip_forward', value: '1', via: 'proc' },
        { line: 10, kind: 'address', address: '192.168.40.100', dev: 'eth0', label: 'eth0:0', netmask: '255.255.255.255' },
        { line: 11, kind: 'route', host: '192.168.40.100', dev: 'eth0:0' },
        { line: 33, kind: 'sysctl', key: 'net.ipv4.conf.all.arp_announce', value: '2', via: 'sysctl' },
      ]);
      const rs = parseRulesFile(`${FIX}/realserver.sh`, { services });
      expect(rs.services).to.deep.equal([]);
      expect(rs.warnings.map((w) => w.line)).to.deep.equal([4], 'the case block');
      expect(rs.hostSetup.map((s) => (s.kind === 'sysctl' ? `${s.key}=${s.value} (${s.via})` : s.kind === 'address' ? `${s.address}/${s.prefix ?? s.netmask} ${s.label}` : s.kind))).to.deep.equal([
        '192.168.40.100/255.255.255.255 lo:0',
        'route',
        'net.ipv4.conf.lo.arp_ignore=1 (proc)',
        'net.ipv4.conf.lo.arp_announce=2 (proc)',
        'net.ipv4.conf.all.arp_ignore=1 (proc)',
        'net.ipv4.conf.all.arp_announce=2 (proc)',
        '192.168.40.101/32 lo:1',
        'net.ipv4.conf.all.arp_ignore=1 (sysctl.conf)',
      ]);
      expect(rs.skipped.map((s) => s.text)).to.deep.equal(['sysctl -p']);
    });

    it('terminal prompts, quotes, ${VAR:-default}, comments, -D and -C as ipvsadm runs them', () => {
      const text = [
        '[root@lvs ~]# ipvsadm -A -t 10.0.0.1:80 -s rr',
        "W='-w 2'",
        'ipvsadm -a -t "10.0.0.1:80" -r ${RIP:-10.0.0.2} -m $W # weight from W',
        'ipvsadm -A -t 10.0.0.1:81 -s rr && ipvsadm -D -t 10.0.0.1:81',
        'ipvsadm -A -t 10.0.0.1:82 -s rr; ipvsadm -C; ipvsadm -A -t 10.0.0.1:83 -s lc',
        'cat > /etc/sysconfig/ipvsadm <<EOF',
        '-A -t 10.0.0.9:80 -s rr',
        'EOF',
        'echo $((1+1)) done',
      ].join('\n');
      const r = parseRules(text, 'prompt.sh', { services });
      expect(bare(r.services)).to.deep.equal(bare([{ protocol: 'tcp', address: '10.0.0.1', port: 83, scheduler: 'lc', realServers: [] }]));
      expect(r.skipped.map((s) => s.line)).to.deep.equal([6, 7]);
      expect(r.warnings.map((w) => w.line)).to.deep.equal([9]);
      // before the -C, the weight came through the unquoted $W
      const early = parseRules(text.split('\n').slice(0, 3).join('\n'), 'p', { services });
      expect(early.services[0]!.realServers[0]).to.include({ address: '10.0.0.2', weight: 2, method: 'masq' });
    });

    it('an error in a script names the script, the line and the word', () => {
      const e = parseError('VIP=10.0.0.1\n\nipvsadm -A -t $VIP:80 -s rr\nipvsadm -a -t $VIP:80 -r 10.0.0.2 -w heavy\n', 'lvs.sh');
      expect([e.file, e.line, e.word]).to.deep.equal(['lvs.sh', 4, 'heavy']);
      expect(e.message).to.equal('lvs.sh:4: illegal weight "heavy": ipvsadm -a -t $VIP:80 -r 10.0.0.2 -w heavy');
    });

    it('detects the form; parseSave still refuses script lines', () => {
      expect(parseRules('# saved\n-A -t 10.0.0.1:80\n', 'a', { services }).source).to.equal('save');
      expect(parseRules('#!/bin/sh\nipvsadm -A -t 10.0.0.1:80\n', 'a', { services }).source).to.equal('script');
      expect(() => parseSave('ipvsadm -A -t 10.0.0.1:80\n')).to.throw(RulesParseError, 'line 1: expected -A or -a');
    });
  });

  describe('fuzz', () => {
    // a small deterministic generator, so a failure can be replayed
    let seed = 0x2545f491;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const WORDS = ['ipvsadm', '-A', '-a', '-E', '-e', '-d', '-D', '-C', '-t', '-u', '-f', '-6', '-s', 'rr', 'sh', '-p', '-M', '-r', '-g', '-i', '-m', '-w', '-x', '-y', '-b', 'sh-port', '--pe', 'sip', '--tun-type', 'gue', '--tun-port', '--tun-csum', '10.0.0.1:80', '10.0.0.2', '[2001:db8::1]:80', '2001:db8::2', 'host:http', '7', '0', '300', '255.255.255.0', '64', '$V', '${V}', 'V=10.0.0.1:80', '"', "'", '\\', '$(x)', '`y`', '|', ';', '&&', '>', '<<E', 'for', 'do', 'done', 'if', 'fi', '{', '}', '(', ')', '#', '=', '-', '--', '-w=', '--weight=', 'ifconfig', 'lo:0', 'route', 'add', '-host', 'echo', '/proc/sys/net/ipv4/ip_forward'];
    const fixtures = ['save-names.rules', 'save-numeric.rules', 'ipv6-fwmark.rules', 'director.sh', 'realserver.sh'].map(fixture);

    const check = (text: string) => {
      try {
        const r = parseRules(text, 'fuzz', { services });
        for (const w of r.warnings) expect(w.line).to.be.at.least(1);
      } catch (e) {
        if (!(e instanceof RulesParseError)) throw new Error(`not a RulesParseError on ${JSON.stringify(text)}: ${(e as Error).stack}`);
        expect(e.line, e.message).to.be.at.least(1);
      }
    };

    it('random tokens and mutated fixtures: a result or a located RulesParseError, nothing else', () => {
      const until = Date.now() + 300;
      let n = 0;
      while (Date.now() < until) {
        n++;
        if (n % 2) {
          const lines = Array.from({ length: 1 + rnd(6) }, () => Array.from({ length: rnd(12) }, () => WORDS[rnd(WORDS.length)]).join(rnd(4) ? ' ' : ''));
          check(lines.join(rnd(5) ? '\n' : '\\\n'));
        } else {
          const src = fixtures[rnd(fixtures.length)]!;
          const chars = [...src];
          for (let k = 0, m = 1 + rnd(4); k < m; k++) {
            const at = rnd(chars.length + 1);
            const op = rnd(3);
            if (op === 0) chars.splice(at, 1);
            else if (op === 1) chars.splice(at, 0, String.fromCharCode(rnd(128)));
            else chars.splice(at, 0, ...(' ' + WORDS[rnd(WORDS.length)]!));
          }
          check(chars.join(''));
        }
      }
      expect(n).to.be.greaterThan(50);
    });
  });
});
