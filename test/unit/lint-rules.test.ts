import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lint, RULES } from '../../harness/lint/lint.js';
import type { Finding } from '../../harness/lint/types.js';
import type { KeywordLifecycle } from '../../harness/keepalived/releases.js';

const DIR = path.join(import.meta.dirname, '../fixtures/lint');
const fx = (f: string) => path.join(DIR, f);
const loud = (fs: Finding[]) => fs.filter((f) => f.severity !== 'info');
const run = (a: string, b?: string) => lint({ files: b ? [] : [fx(a)], ...(b ? { pair: [fx(a), fx(b)] as const } : {}) }).flatMap((r) => r.findings);

/** in-memory configs: one file or a pair, each a text */
function lintText(a: string, b?: string, release?: '2.2.7' | '2.3.3') {
  const mem: Record<string, string> = { '/m/a.conf': a, ...(b !== undefined ? { '/m/b.conf': b } : {}) };
  const readFile = (p: string) => {
    if (!(p in mem)) throw new Error('ENOENT');
    return mem[p]!;
  };
  return lint({ files: b === undefined ? ['/m/a.conf'] : [], ...(b !== undefined ? { pair: ['/m/a.conf', '/m/b.conf'] as const } : {}), readFile, ...(release ? { release } : {}) }).flatMap((r) => r.findings);
}

describe('lint: fixture corpus', () => {
  it('the good pair and the seed 002 VI_141/VI_142 pair have no error or warning', () => {
    expect(loud(run('good-a.conf', 'good-b.conf'))).to.deep.equal([]);
    expect(loud(run('seed002-vi14x-a.conf', 'seed002-vi14x-b.conf'))).to.deep.equal([]);
  });

  const cases: [string, string | undefined, string, string?][] = [
    ['good-a.conf', 'auth-mismatch-b.conf', 'pair-mismatch', 'authentication differs'],
    ['good-a.conf', 'vrid-mismatch-b.conf', 'pair-mismatch', 'virtual_router_id 51 vs 52'],
    ['weak-weight-a.conf', 'weak-weight-b.conf', 'pair-track-weight', '150 − 2 = 148, still above the BACKUP\'s 100'],
    ['good-a.conf', 'services-differ-b.conf', 'pair-services', 'scheduler: wrr vs rr'],
    ['good-a.conf', 'vip-prefix-b.conf', 'pair-vips', '10.0.0.100/25'],
    ['lb-kind-lower.conf', undefined, 'lb-kind-case', 'setting default NAT'],
    ['auth-pass-long.conf', undefined, 'auth-pass', 'uses "s3cr3tpw"'],
    ['auth-pass-bang.conf', undefined, 'auth-pass', 'password is "abc"'],
    ['dr-port.conf', undefined, 'dr-port', 'on port 80, not 8080'],
    ['vip-not-held.conf', undefined, 'vip-not-held', '10.0.0.200 is not a VIP'],
    ['typo-weigth.conf', undefined, 'unknown-keyword', 'weigth'],
    ['advert-fraction.conf', undefined, 'advert-int-fraction', 'every 1 s'],
    ['nopreempt-master.conf', undefined, 'nopreempt-master', 'clears nopreempt'],
    ['vrrp-strict.conf', undefined, 'vrrp-strict', 'drop'],
    ['no-script-security.conf', undefined, 'script-security', 'SECURITY VIOLATION'],
    ['unicast-no-src.conf', undefined, 'unicast-no-src', 'primary address'],
    ['deprecated-nb-get-retry.conf', undefined, 'release-keyword', '`nb_get_retry` is deprecated in keepalived 2.2.7 (Debian 12 bookworm): use `retry`'],
  ];
  for (const [a, b, rule, text] of cases)
    it(`${a}${b ? ` + ${b}` : ''} → ${rule}`, () => {
      const fs = loud(run(a, b));
      const hit = fs.filter((f) => f.rule === rule);
      expect(hit, JSON.stringify(fs, null, 1)).to.have.length.greaterThan(0);
      if (text) expect(hit.map((f) => f.message).join('\n')).to.include(text);
      // one mistake each: nothing else is loud
      expect(fs.filter((f) => f.rule !== rule).map((f) => f.rule)).to.deep.equal([]);
    });

  it('typo weigth suggests weight', () => {
    const f = run('typo-weigth.conf').find((x) => x.rule === 'unknown-keyword')!;
    expect(f.hint).to.equal('did you mean "weight"?');
    expect(f.line).to.equal(47);
  });

  it('seed 002 HAProxy pair: unbalanced braces, and a track_script weight that cannot move mastership (with the arithmetic)', () => {
    const fs = run('seed002-haproxy-master.conf', 'seed002-haproxy-backup.conf');
    expect(fs.some((f) => f.rule === 'brace-balance' && f.file.endsWith('master.conf') && f.line === 2)).to.equal(true);
    const w = fs.find((f) => f.rule === 'pair-track-weight')!;
    expect(w.message).to.include('150 + 2 = 152 to 150, the BACKUP has 120 + 2 = 122');
    expect(w.hint).to.include('weight 31');
  });
});

const BASE = (extra = '', inst = '', vs = '') => `global_defs {
  enable_script_security
  script_user root
${extra}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 7
  priority 100
  virtual_ipaddress {
    192.0.2.10/24
  }
${inst}
}
${vs}
`;
const rulesOf = (fs: Finding[]) => [...new Set(loud(fs).map((f) => f.rule))].sort();

describe('lint: each rule fires and stays silent', () => {
  it('the base config is silent', () => expect(rulesOf(lintText(BASE()))).to.deep.equal([]));

  it('bad-value: state master (lower case) starts as BACKUP; MASTER is silent', () => {
    expect(rulesOf(lintText(BASE('', '  state master')))).to.deep.equal(['bad-value']);
    expect(rulesOf(lintText(BASE('', '  state MASTER')))).to.deep.equal([]);
  });

  it('duplicate-vrid: two instances with one VRID on one interface; another interface is silent', () => {
    const second = (ifc: string) => `vrrp_instance VI_2 {\n interface ${ifc}\n virtual_router_id 7\n priority 100\n virtual_ipaddress {\n 192.0.2.11\n }\n}`;
    expect(rulesOf(lintText(BASE() + second('eth0')))).to.deep.equal(['duplicate-vrid']);
    expect(rulesOf(lintText(BASE() + second('eth1')))).to.deep.equal([]);
  });

  it('track-undefined: a track_script with no vrrp_script; a defined one is silent', () => {
    expect(rulesOf(lintText(BASE('', '  track_script {\n    nope\n  }')))).to.deep.equal(['track-undefined']);
    expect(rulesOf(lintText(`vrrp_script ok {\n script "/bin/true"\n}\n` + BASE('', '  track_script {\n    ok\n  }')))).to.deep.equal([]);
  });

  it('brace-balance: a block on a keyword that takes none ends the enclosing block early', () => {
    const fs = loud(lintText(BASE('', '  priority 100 {\n  }')));
    expect(fs.map((f) => f.rule)).to.include('brace-balance');
    expect(fs.find((f) => f.rule === 'brace-balance')!.message).to.include('takes no `{ … }` block');
  });

  it('brace-balance: the } left over by a block ended early is reported on its own line', () => {
    const conf = 'vrrp_instance VI_1 {\n  interface eth0 {\n  }\n  priority 100\n\n}\n';
    const f = loud(lintText(conf)).find((x) => x.message.startsWith('an extra `}`'))!;
    expect(f.line).to.equal(6);
    expect(f.message).to.include('on line 6');
    expect(loud(lintText(conf.replace('interface eth0 {\n  }', 'interface eth0'))).filter((x) => x.rule === 'brace-balance')).to.deep.equal([]);
  });

  it('unknown-keyword leaves a keyword of another release to release-keyword', () => {
    expect(rulesOf(lintText(BASE('', '  owner_ignore_adverts')))).to.deep.equal(['release-keyword']);
    expect(rulesOf(lintText(BASE('', '  owner_ignore_advert')))).to.deep.equal(['unknown-keyword']);
  });

  it('vip-not-held stays silent when the file has no VRRP (a single director on its own address)', () => {
    expect(rulesOf(lintText('virtual_server 192.0.2.5 80 {\n lb_kind NAT\n real_server 10.0.0.1 80 {\n }\n}\n'))).to.deep.equal([]);
  });

  it('pair-unmatched and pair-election: an instance only on one side; both MASTER at one priority', () => {
    expect(rulesOf(lintText(BASE(), BASE().replace('VI_1', 'VI_X').replace('virtual_router_id 7', 'virtual_router_id 8')))).to.deep.equal(['pair-unmatched']);
    const master = BASE('', '  state MASTER');
    expect(rulesOf(lintText(master, master))).to.deep.equal(['pair-election']);
    expect(rulesOf(lintText(master, BASE().replace('priority 100', 'priority 90')))).to.deep.equal([]);
  });

  describe('syntax', () => {
    const SCRIPT = (quoted: string) => `vrrp_script chk {\n  script ${quoted}\n}\n` + BASE('', '  track_script {\n    chk\n  }');
    const syntaxOf = (fs: Finding[]) => fs.filter((f) => f.rule === 'syntax').map((f) => `${f.severity} ${f.line}: ${f.message}`);

    it('fires on a quote never closed (line 2); the closed quote is silent', () => {
      const fs = lintText(SCRIPT('"/usr/bin/test -d /proc/net/ip_vs'));
      expect(syntaxOf(fs)).to.have.length(1);
      expect(syntaxOf(fs)[0]).to.match(/^error 2: a '"' is never closed: keepalived logs "Unterminated quote"/);
      expect(fs.find((f) => f.rule === 'syntax')!.hint).to.equal('rewrite the line as keepalived.conf(5) shows it');
      expect(rulesOf(lintText(SCRIPT('"/usr/bin/test -d /proc/net/ip_vs"')))).to.deep.equal([]);
    });

    it('fires (warning) on a $NAME never defined; the defined name is silent', () => {
      const conf = (name: string) => '$IFACE=eth0\n' + BASE().replace('interface eth0', `interface ${name}`);
      expect(syntaxOf(lintText(conf('$IFAC')))).to.deep.equal(['warning 9: $IFAC is not defined (above this line); keepalived leaves it as written']);
      expect(rulesOf(lintText(conf('$IFACE')))).to.deep.equal([]);
    });

    it('fires on an include whose file does not exist, naming the path it looked for; once the file exists it is silent', () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'lvsh-lint-include-'));
      try {
        const main = path.join(dir, 'keepalived.conf');
        writeFileSync(main, BASE() + 'include conf.d/extra.conf\n');
        const lintDisk = () => lint({ files: [main] }).flatMap((r) => r.findings);
        const fs = lintDisk().filter((f) => f.rule === 'syntax');
        expect(fs.map((f) => [f.severity, f.file, f.line])).to.deep.equal([['error', main, 17]]);
        expect(fs[0]!.message).to.equal(`include conf.d/extra.conf: ${path.join(dir, 'conf.d/extra.conf')} does not exist; plain include skips it silently`);
        expect(fs[0]!.hint).to.equal('fix the include path (relative to the including file) or create the file');
        writeFileSync(path.join(dir, 'extra.conf'), 'vrrp_script chk {\n  script "/bin/true"\n}\n');
        writeFileSync(main, BASE() + 'include extra.conf\n');
        expect(rulesOf(lintDisk())).to.deep.equal([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('track-weight-need (info)', () => {
    const conf = (state: string, priority: number, track: string) =>
      `vrrp_script chk {\n  script "/bin/true"\n  weight -20\n}\n` + BASE('', track).replace('state BACKUP', `state ${state}`).replace('priority 100', `priority ${priority}`);
    const need = (fs: Finding[]) => fs.filter((f) => f.rule === 'track-weight-need');

    it('fires on the MASTER for a script\u2019s negative weight and a track entry\u2019s own positive one, with the arithmetic, and stays info', () => {
      const fs = lintText(conf('MASTER', 150, '  track_script {\n    chk\n  }\n  track_interface {\n    eth1 weight 10\n  }'));
      expect(need(fs).map((f) => [f.severity, f.line, f.message])).to.deep.equal([
        ['info', 19, 'vrrp_instance VI_1 (priority 150): track_script chk weight -20: on failure 150 − 20 = 130, so only a peer whose priority is above 130 takes the VIP over'],
        ['info', 22, 'vrrp_instance VI_1 (priority 150): track_interface eth1 weight +10: on failure this director stays at 150 while a peer that tracks it too rises by 10, so only such a peer with a priority above 140 takes the VIP over'],
      ]);
      expect(need(fs)[0]!.hint).to.include('keep the BACKUP\'s priority within 19 of 150');
      expect(rulesOf(fs)).to.deep.equal([]);
    });

    it('fires on a BACKUP whose priority is 200 or more (it is the MASTER in practice)', () => {
      expect(need(lintText(conf('BACKUP', 200, '  track_script {\n    chk\n  }'))).map((f) => f.message)).to.deep.equal([
        'vrrp_instance VI_1 (priority 200): track_script chk weight -20: on failure 200 − 20 = 180, so only a peer whose priority is above 180 takes the VIP over',
      ]);
    });

    it('silent on a BACKUP below 200, on a weight of 0 (FAULT, not a priority change), and without tracking', () => {
      expect(need(lintText(conf('BACKUP', 100, '  track_script {\n    chk\n  }')))).to.deep.equal([]);
      expect(need(lintText(conf('MASTER', 150, '  track_script {\n    chk weight 0\n  }\n  track_interface {\n    eth1\n  }')))).to.deep.equal([]);
      expect(need(lintText(conf('MASTER', 150, '')))).to.deep.equal([]);
    });
  });

  describe('pair-mismatch: advert_int and version', () => {
    const peer = (inst = '', extra = '') => BASE(extra, inst).replace('priority 100', 'priority 90');
    const mismatch = (fs: Finding[]) => fs.filter((f) => f.rule === 'pair-mismatch').map((f) => `${f.severity} ${f.file}:${f.line}: ${f.message}`);
    const W = 'vrrp_instance VI_1 (/m/a.conf:6) and VI_1 (/m/b.conf:6)';

    it('advert_int under VRRPv2: an error (each drops the other\u2019s adverts); the same interval, written or by default, is silent', () => {
      expect(mismatch(lintText(BASE('', '  advert_int 2'), peer()))).to.deep.equal([
        `error /m/a.conf:14: ${W}: advert_int 2 s vs 1 s under VRRPv2: keepalived drops adverts whose interval differs from its own ("advertisement interval mismatch"), so both become MASTER`,
      ]);
      expect(rulesOf(lintText(BASE('', '  advert_int 2'), peer('  advert_int 2')))).to.deep.equal([]);
      expect(rulesOf(lintText(BASE('', '  advert_int 1'), peer()))).to.deep.equal([]);
    });

    it('advert_int under VRRPv3: a warning (the BACKUP adopts the MASTER\u2019s interval); the same interval is silent', () => {
      const v3 = (adv: string) => `  version 3${adv ? `\n  advert_int ${adv}` : ''}`;
      const fs = lintText(BASE('', v3('0.5')), peer(v3('')));
      expect(mismatch(fs)).to.deep.equal([`warning /m/a.conf:15: ${W}: advert_int 0.5 s vs 1 s: under VRRPv3 a BACKUP adopts the MASTER's interval, so the takeover time depends on which director is MASTER`]);
      expect(fs.find((f) => f.rule === 'pair-mismatch')!.hint).to.equal('use one advert_int on both directors');
      expect(rulesOf(lintText(BASE('', v3('0.5')), peer(v3('0.5'))))).to.deep.equal([]);
    });

    it('version: an instance\u2019s version or global_defs vrrp_version that differs from the peer\u2019s; the same version either way is silent', () => {
      expect(mismatch(lintText(BASE('', '  version 3'), peer()))).to.deep.equal([`error /m/a.conf:14: ${W}: VRRP version 3 vs 2: neither accepts the other's adverts`]);
      // no version line: the instance takes global_defs vrrp_version, and the finding points at the instance
      expect(mismatch(lintText(BASE('  vrrp_version 3'), peer()))).to.deep.equal([`error /m/a.conf:6: ${W}: VRRP version 3 vs 2: neither accepts the other's adverts`]);
      expect(rulesOf(lintText(BASE('  vrrp_version 3'), peer('  version 3')))).to.deep.equal([]);
      expect(rulesOf(lintText(BASE('', '  version 2'), peer()))).to.deep.equal([]);
    });

    it('a version mismatch is reported once, not again as an advert_int mismatch', () => {
      expect(mismatch(lintText(BASE('', '  version 3\n  advert_int 0.5'), peer()))).to.deep.equal([`error /m/a.conf:14: ${W}: VRRP version 3 vs 2: neither accepts the other's adverts`]);
    });
  });

  it('info rules state the bounds with their formula', () => {
    const fs = lintText(BASE('', '', 'virtual_server 192.0.2.10 80 {\n delay_loop 10\n lb_kind NAT\n real_server 10.0.0.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n}'));
    expect(fs.find((f) => f.rule === 'health-bound')!.message).to.include('delay_loop 10 s + (retry 1 + 1) × connect_timeout 2 s + retry 1 × delay_before_retry 1 s = 15 s');
    expect(fs.find((f) => f.rule === 'takeover-bound')!.message).to.include('3.609375 s');
    // an SMTP_CHECK times out as a TCP_CHECK does, and its formula names it as what it is
    const smtp = lintText(BASE('', '', 'virtual_server 192.0.2.10 25 {\n delay_loop 10\n lb_kind NAT\n real_server 10.0.0.1 25 {\n  SMTP_CHECK {\n   connect_timeout 2\n  }\n }\n}')).find((f) => f.rule === 'health-bound')!.message;
    expect(smtp).to.match(/^SMTP_CHECK of real_server/).and.include('= 15 s (SMTP_CHECK)').and.not.include('TCP_CHECK');
  });

  it('no input crashes lint', () => {
    for (const t of ['', '}}}}', '{', 'vrrp_instance {', 'virtual_server {\n real_server {\n TCP_CHECK { retry x }', '\u0000\u0001binary', 'vrrp_instance A {\n track_script {\n', 'x '.repeat(5000)])
      expect(() => lintText(t)).not.to.throw();
  });

  it('every rule has an id, a summary and a why', () => {
    for (const r of RULES) expect(r.id && r.summary && r.why, r.id).to.be.a('string');
    expect(new Set(RULES.map((r) => r.id)).size).to.equal(RULES.length);
  });
});

describe('lint: release-keyword, per target release', () => {
  /** one file in memory, linted for a keepalived version, optionally with another keyword history */
  const lintFor = (text: string, release: '2.2.7' | '2.3.3', lifecycle?: readonly KeywordLifecycle[]) =>
    lint({ files: ['/m/a.conf'], readFile: (p) => (p === '/m/a.conf' ? text : (() => { throw new Error('ENOENT'); })()), release, ...(lifecycle ? { lifecycle } : {}) }).flatMap((r) => r.findings);
  const hits = (fs: Finding[]) => fs.filter((f) => f.rule === 'release-keyword');

  it('too new: a keyword 2.2.8+ added is an error under 2.2.7 (bookworm), naming the release and where; silent under 2.3.3 (trixie)', () => {
    const conf = BASE('', '  timer_expired_backup');
    const [f, ...more] = hits(lintFor(conf, '2.2.7'));
    expect(more).to.deep.equal([]);
    expect(f).to.include({ severity: 'error', file: '/m/a.conf', line: 14 });
    expect(f!.message).to.equal('`timer_expired_backup` in vrrp_instance VI_1 (line 6) is not known to keepalived 2.2.7 (Debian 12 bookworm): it was added in keepalived 2.2.8; keepalived ignores the line');
    expect(f!.hint).to.include('--release trixie (keepalived 2.3.3)');
    expect(rulesOf(lintFor(conf, '2.3.3'))).to.deep.equal([]);
  });

  it('too new, per block: tls_compliant is read in SSL_GET from 2.2.8 on, and in HTTP_GET by neither release', () => {
    const vs = (checker: string) => `virtual_server 192.0.2.10 443 {\n lb_kind NAT\n real_server 10.0.0.1 443 {\n  ${checker} {\n   tls_compliant\n   url {\n    path /\n   }\n  }\n }\n}\n`;
    expect(hits(lintFor(BASE('', '', vs('SSL_GET')), '2.2.7')).map((f) => f.line)).to.deep.equal([20]);
    expect(rulesOf(lintFor(BASE('', '', vs('SSL_GET')), '2.3.3'))).to.deep.equal([]);
    expect(rulesOf(lintFor(BASE('', '', vs('HTTP_GET')), '2.3.3'))).to.deep.equal(['unknown-keyword']);
  });

  it('deprecated in the target: a warning naming the release and what to use; the replacement is silent', () => {
    const conf = BASE('', '  thread_timer_expired');
    const f = hits(lintFor(conf, '2.3.3'))[0]!;
    expect(f).to.include({ severity: 'warning', line: 14 });
    expect(f.message).to.match(/^`thread_timer_expired` is deprecated in keepalived 2\.3\.3 \(Debian 13 trixie\): use `timer_expired_backup`/);
    expect(f.hint).to.equal('write timer_expired_backup instead');
    // under 2.2.7 the same keyword is too new, not deprecated
    expect(hits(lintFor(conf, '2.2.7')).map((x) => x.severity)).to.deep.equal(['error']);
    expect(rulesOf(lintFor(BASE('', '  timer_expired_backup'), '2.3.3'))).to.deep.equal([]);
  });

  it('deprecated in both releases: lvs_process_name warns under each with its release; checker_process_name is silent', () => {
    for (const [v, name] of [['2.2.7', 'Debian 12 bookworm'], ['2.3.3', 'Debian 13 trixie']] as const) {
      const f = hits(lintFor(BASE('  lvs_process_name chk'), v))[0]!;
      expect(f.message).to.include(`\`lvs_process_name\` is deprecated in keepalived ${v} (${name}): use \`checker_process_name\``);
      expect(rulesOf(lintFor(BASE('  checker_process_name chk'), v))).to.deep.equal([]);
    }
    // deprecated only in an instance: linkbeat_use_polling at the top level is silent
    expect(rulesOf(lintFor(BASE('', '  linkbeat_use_polling'), '2.3.3'))).to.deep.equal(['release-keyword']);
    expect(rulesOf(lintFor('linkbeat_use_polling\n' + BASE(), '2.3.3'))).to.deep.equal([]);
  });

  it('old synonyms keepalived neither logs nor plans to drop (lb_algo, lb_kind) are silent under both releases', () => {
    const vs = 'virtual_server 192.0.2.10 80 {\n lb_algo rr\n lb_kind NAT\n real_server 10.0.0.1 80 {\n }\n}\n';
    for (const v of ['2.2.7', '2.3.3'] as const) expect(rulesOf(lintFor(BASE('', '', vs), v))).to.deep.equal([]);
  });

  // keepalived removed no keyword between 2.2.7 and 2.3.3: a history of our own says what a removal looks like
  const removedIn233: KeywordLifecycle[] = [{ keyword: 'smtp_alert', blocks: ['vrrp_instance'], removed: '2.3.3', use: 'smtp_alert_vrrp', note: 'test entry', source: 'test' }];

  it('removed in the target: an error naming the release, with the replacement; silent for the release that still reads it', () => {
    const conf = BASE('', '  smtp_alert');
    const f = hits(lintFor(conf, '2.3.3', removedIn233))[0]!;
    expect(f).to.include({ severity: 'error', line: 14 });
    expect(f.message).to.equal('`smtp_alert` in vrrp_instance VI_1 (line 6) was removed in keepalived 2.3.3: keepalived 2.3.3 (Debian 13 trixie) does not know it and ignores the line: use `smtp_alert_vrrp`');
    expect(rulesOf(lintFor(conf, '2.2.7', removedIn233))).to.deep.equal([]);
    // and with keepalived's own history, smtp_alert is read by both
    expect(rulesOf(lintFor(conf, '2.3.3'))).to.deep.equal([]);
  });

  it('every keyword of the target release is silent: a file without keywords of another release lints as before', () => {
    expect(loud(lintFor(BASE(), '2.2.7'))).to.deep.equal([]);
    expect(loud(lintFor(BASE(), '2.3.3'))).to.deep.equal([]);
  });
});
