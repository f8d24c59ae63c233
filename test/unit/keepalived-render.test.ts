import { expect } from 'chai';
import { expectConfigTestClean } from '../topology-helpers.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isHarnessError } from '../../harness/errors.js';
import { commandArgv, referencedInterfaces, referencedScripts, validateKeepalivedConfig, type KeepalivedConfig } from '../../harness/keepalived/model.js';
import { keepalivedTestArgv, parseKeepalivedTestOutput, renderCommand, renderKeepalivedConf } from '../../harness/keepalived/render.js';
import { drBackupV3, haproxyTrackScript, models, natMaster } from '../fixtures/keepalived/models.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/keepalived');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

/** A model edited by `edit`, for the validation cases; the fixtures stay untouched. */
const variant = (base: KeepalivedConfig, edit: (c: KeepalivedConfig) => void): KeepalivedConfig => {
  const c = structuredClone(base) as KeepalivedConfig;
  edit(c);
  return c;
};

describe('keepalived model and rendering', () => {
  describe('renderKeepalivedConf', () => {
    for (const name of Object.keys(models)) {
      it(`renders ${name}.conf byte for byte`, () => {
        expect(renderKeepalivedConf(models[name]!)).to.equal(fixture(`${name}.conf`));
      });
    }

    it('is deterministic and leaves the model alone', () => {
      const before = JSON.stringify(natMaster);
      expect(renderKeepalivedConf(natMaster)).to.equal(renderKeepalivedConf(structuredClone(natMaster) as KeepalivedConfig));
      expect(JSON.stringify(natMaster)).to.equal(before);
    });

    it('writes advert_int and version even when the model leaves them to defaults', () => {
      const conf = renderKeepalivedConf(variant(natMaster, (c) => (delete c.vrrpInstances![0]!.advertInt, delete c.vrrpInstances![0]!.version)));
      expect(conf).to.contain('  advert_int 1\n  version 2\n');
    });

    it('indents with two spaces per level and ends with one newline', () => {
      const conf = renderKeepalivedConf(natMaster);
      expect(conf.endsWith('}\n')).to.equal(true);
      expect(conf).to.not.match(/\t/);
      expect(conf).to.contain('\n      url {\n        path /healthz\n        status_code 200\n      }\n');
    });

    it('gives a firewall-mark service no protocol line (keepalived warns it ignores one)', () => {
      const fwm = renderKeepalivedConf(drBackupV3).split('virtual_server fwmark 8 {')[1]!;
      expect(fwm).to.not.contain('protocol');
    });
  });

  describe('renderCommand', () => {
    it('leaves a bare path bare and quotes a command line with arguments', () => {
      expect(renderCommand('/usr/local/bin/check')).to.equal('/usr/local/bin/check');
      expect(renderCommand(['/usr/local/bin/check'])).to.equal('/usr/local/bin/check');
      expect(renderCommand('/usr/bin/pgrep  -x haproxy ')).to.equal('"/usr/bin/pgrep -x haproxy"');
    });
    it('keeps each argv element one argument through both of keepalived\'s passes', () => {
      // checked against keepalived 2.2.7: a vrrp_script with this line ran with exactly these arguments
      expect(renderCommand(['/s', 'haproxy pair', "it's master", 'plain', 'dq', 'back\\slash', '#hash!'])).to.equal(
        `"/s 'haproxy pair' 'it\\\\'s master' plain dq 'back\\\\\\\\slash' '#hash!'"`,
      );
      expect(renderCommand(['/s', 'say "hi"'])).to.equal(`"/s 'say \\"hi\\"'"`);
    });
  });

  describe('validateKeepalivedConfig', () => {
    it('finds nothing wrong with the fixtures', () => {
      for (const m of Object.values(models)) expect(validateKeepalivedConfig(m)).to.deep.equal([]);
    });

    const cases: [string, (c: KeepalivedConfig) => void, RegExp][] = [
      ['a fractional VRRPv2 advert_int', (c) => (c.vrrpInstances![0]!.advertInt = 0.5), /VI_NAT: VRRPv2 advert_int 0.5 must be whole seconds/],
      ['a VRRPv3 advert_int finer than 10 ms', (c) => ((c.vrrpInstances![0]!.version = 3), delete c.vrrpInstances![0]!.authentication, (c.vrrpInstances![0]!.advertInt = 0.205)), /VRRPv3 advert_int 0.205 must be a multiple of 0.01 s/],
      ['authentication with VRRPv3', (c) => (c.vrrpInstances![0]!.version = 3), /VI_NAT: VRRPv3 has no authentication/],
      ['an auth_pass keepalived would cut to 8 characters', (c) => (c.vrrpInstances![0]!.authentication!.pass = 'toolongpass'), /only the first 8/],
      ['nopreempt on a MASTER', (c) => (c.vrrpInstances![0]!.nopreempt = true), /nopreempt needs state BACKUP/],
      ['preempt_delay with nopreempt', (c) => ((c.vrrpInstances![0]!.state = 'BACKUP'), (c.vrrpInstances![0]!.nopreempt = true), (c.vrrpInstances![0]!.preemptDelay = 3)), /preempt_delay and nopreempt exclude each other/],
      ['a virtual_router_id out of range', (c) => (c.vrrpInstances![0]!.virtualRouterId = 300), /virtual_router_id 300 must be within 1..255/],
      ['IPv6 VIPs on VRRPv2', (c) => (c.vrrpInstances![0]!.virtualIpaddress = [{ address: 'fd00::100', prefix: 64 }]), /IPv6 VIPs need VRRP version 3/],
      ['a sync daemon tied to no instance', (c) => (c.globalDefs!.lvsSyncDaemon!.instance = 'VI_NONE'), /lvs_sync_daemon: VI_NONE is not a vrrp_instance/],
      ['a real server without a port', (c) => delete c.virtualServers![0]!.realServers[0]!.port, /real_server 10.0.1.11: needs a port/],
      ['scripts without enable_script_security', (c) => (c.globalDefs!.enableScriptSecurity = false), /SECURITY VIOLATION/],
      ['a relative script path', (c) => (c.vrrpInstances![0]!.notify!.master = 'notify.sh'), /notify_master: notify.sh is not an absolute path/],
      ['a $NAME keepalived would expand', (c) => (c.vrrpInstances![0]!.notify!.master = ['/bin/echo', '$HOME']), /keepalived expands as a config parameter/],
      ['an HTTP path with a space', (c) => ((c.virtualServers![0]!.realServers[0]!.check as { url: { path: string } }).url.path = '/a b'), /url path "\/a b" must start with \//],
    ];
    for (const [what, edit, message] of cases) {
      it(`rejects ${what}`, () => {
        const problems = validateKeepalivedConfig(variant(natMaster, edit));
        expect(problems.join('\n')).to.match(message);
      });
    }

    it('rejects a track_script naming no vrrp_script', () => {
      const problems = validateKeepalivedConfig(variant(haproxyTrackScript, (c) => c.vrrpInstances![0]!.trackScripts!.push({ name: 'chk_gone' })));
      expect(problems).to.deep.equal(['vrrp_instance VI_HAPROXY: track_script chk_gone is not a vrrp_script']);
    });

    it('makes renderKeepalivedConf throw a coded error listing every problem', () => {
      const bad = variant(natMaster, (c) => ((c.vrrpInstances![0]!.priority = 0), (c.virtualServers![0]!.realServers[1]!.weight = -1)));
      try {
        renderKeepalivedConf(bad);
        expect.fail('rendered an invalid model');
      } catch (e) {
        expect(isHarnessError(e)).to.equal(true);
        if (!isHarnessError(e)) return;
        expect(e.code).to.equal('ERR_LVS_KEEPALIVED_CONFIG');
        expect(e.message).to.contain('priority 0 must be within 1..255');
        expect(e.message).to.contain('real_server 10.0.1.12 80: weight must be a whole number ≥ 0');
      }
    });
  });

  describe('what a config needs on the node', () => {
    it('lists the interfaces it names', () => {
      expect(referencedInterfaces(natMaster)).to.deep.equal(['eth0', 'eth1']);
      expect(referencedInterfaces(drBackupV3)).to.deep.equal(['eth0']);
    });
    it('lists the programs it runs', () => {
      expect(referencedScripts(natMaster)).to.deep.equal(['/usr/local/lib/lvs-harness/check-http', '/usr/local/lib/lvs-harness/keepalived-notify']);
      expect(referencedScripts(haproxyTrackScript)).to.deep.equal(['/usr/bin/pgrep', '/usr/local/lib/lvs-harness/check-port', '/usr/local/lib/lvs-harness/keepalived-notify']);
      expect(commandArgv(' /a  b c ')).to.deep.equal(['/a', 'b', 'c']);
    });
  });

  describe('the config test', () => {
    it('runs keepalived -t on the file', () => {
      expect(keepalivedTestArgv('/etc/keepalived/keepalived.conf')).to.deep.equal(['keepalived', '--config-test', '--use-file', '/etc/keepalived/keepalived.conf']);
    });

    // recorded from keepalived 2.2.7 (Debian bookworm): `keepalived -t -f test/fixtures/keepalived/broken.conf`, exit 5
    it('reads what keepalived -t printed about a broken file', () => {
      const d = parseKeepalivedTestOutput(fixture('broken.stderr'), 'test/fixtures/keepalived/broken.conf');
      const f = 'test/fixtures/keepalived/broken.conf';
      expect(d).to.have.length(11);
      expect(d[0]).to.deep.equal({ file: f, line: 4, message: "Unknown keyword 'foo_bar'", kind: 'config' });
      expect(d[1]).to.deep.equal({ file: f, line: 25, message: 'PARSER : unknown [FOO] routing method for virtual server.', kind: 'config' });
      expect(d[6]).to.deep.equal({ file: f, message: 'Virtual server [10.0.0.100]:tcp:80: no forwarding method set, setting default NAT', kind: 'config' });
      expect(d[7]).to.deep.equal({ file: f, line: 8, message: "(VI_1) unknown state 'MASTR', defaulting to BACKUP", kind: 'config' });
      expect(d[10]).to.deep.equal({ file: f, message: '(VI_1) the virtual router id must be set', kind: 'config' });
      expect(d.map((x) => x.line ?? null)).to.deep.equal([4, 25, 28, 28, 30, 30, null, 8, 10, 10, null]);
    });

    it('tells a missing interface from a config error (exit 5)', () => {
      const d = parseKeepalivedTestOutput(fixture('missing-interface.stderr'), 'missing-interface.conf');
      expect(d.map((x) => [x.line ?? null, x.kind])).to.deep.equal([
        [4, 'interface'],
        [9, 'interface'],
        [null, 'interface'],
      ]);
      expect(d[0]!.message).to.equal("WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist");
    });

    it('tells a missing script from a config error (exit 5)', () => {
      expect(parseKeepalivedTestOutput(fixture('missing-script.stderr'), 'x.conf')).to.deep.equal([
        { file: 'x.conf', message: 'Disabling track script chk_missing since not found/accessible', kind: 'script' },
      ]);
    });

    it('reads nothing from a clean run and copes with CRLF', () => {
      expect(parseKeepalivedTestOutput('', 'a.conf')).to.deep.equal([]);
      expect(parseKeepalivedTestOutput('(a.conf: Line 3) bad thing\r\n\r\n', 'a.conf')).to.deep.equal([{ file: 'a.conf', line: 3, message: 'bad thing', kind: 'config' }]);
    });
  });

  // Declared only where keepalived is installed (not on CI; the lab's node image runs the same
  // check end to end). As root with unshare, it runs in a fresh network namespace holding the
  // interfaces each file names, so keepalived checks the whole file; scripts the fixtures name
  // are not on this machine, so only 'script' diagnostics may remain.
  const keepalived = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  if (!keepalived.error) {
    const netns = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'add', 'kpt0', 'type', 'veth', 'peer', 'name', 'kpt1'], { encoding: 'utf8' }).status === 0;
    describe(`keepalived -t on the golden files (${(keepalived.stderr || keepalived.stdout).split('\n')[0]}${netns ? ', in a network namespace' : ''})`, () => {
      for (const name of Object.keys(models)) {
        it(`accepts ${name}.conf`, () => {
          const file = path.join(FIXTURES, `${name}.conf`);
          expectConfigTestClean(file, referencedInterfaces(models[name]!), netns);
        });
      }
    });
  }
});
