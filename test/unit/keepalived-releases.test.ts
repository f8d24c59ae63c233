import { expect } from 'chai';
import { tableAt } from '../../harness/keepalived/conf/keywords.js';
import { isHarnessError } from '../../harness/errors.js';
import { lintCommand } from '../../harness/lint/command.js';
import {
  compareVersions,
  DEBIAN_RELEASES,
  describeVersion,
  KEEPALIVED_VERSIONS,
  KEYWORD_LIFECYCLE,
  keywordVerdict,
  resolveTarget,
  type KeywordLifecycle,
} from '../../harness/keepalived/releases.js';

/** a small seeded generator (mulberry32): the fuzz cases are the same on every run */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const usageError = (f: () => unknown): Error & { code?: string } => {
  try {
    f();
  } catch (e) {
    expect(isHarnessError(e) && e.code, String(e)).to.equal('ERR_LVS_USAGE');
    return e as Error;
  }
  return expect.fail('no usage error');
};

describe('keepalived releases: bookworm 2.2.7, trixie 2.3.3', () => {
  it('each Debian release ships one keepalived version and kernel; describeVersion names the release', () => {
    expect(DEBIAN_RELEASES.map((r) => [r.name, r.debian, r.keepalived, r.kernel])).to.deep.equal([
      ['bookworm', 12, '2.2.7', '6.1'],
      ['trixie', 13, '2.3.3', '6.12'],
    ]);
    expect(KEEPALIVED_VERSIONS).to.deep.equal(['2.2.7', '2.3.3']);
    expect(describeVersion('2.3.3')).to.equal('keepalived 2.3.3 (Debian 13 trixie)');
    expect(describeVersion('2.2.8')).to.equal('keepalived 2.2.8');
    expect(compareVersions('2.2.10', '2.2.8')).to.be.greaterThan(0);
    expect(compareVersions('2.3.3', '2.3.3')).to.equal(0);
  });

  it('every keyword history entry has a source and a note, and says something', () => {
    for (const e of KEYWORD_LIFECYCLE) {
      expect(e.source, e.keyword).to.match(/\S/);
      expect(e.note, e.keyword).to.match(/\S/);
      expect(e.blocks.length, e.keyword).to.be.greaterThan(0);
      expect(!!(e.introduced || e.deprecated || e.removed || e.synonymOf), e.keyword).to.equal(true);
    }
  });

  it('the keyword tables agree with the history: each release reads a keyword exactly when its history says so', () => {
    for (const v of KEEPALIVED_VERSIONS)
      for (const e of KEYWORD_LIFECYCLE)
        for (const b of e.blocks) {
          const path = b ? b.split('.') : [];
          const reads = (!e.introduced || compareVersions(v, e.introduced) >= 0) && (!e.removed || compareVersions(v, e.removed) < 0);
          expect(tableAt(path, v)?.has(e.keyword), `${v} ${b}.${e.keyword}`).to.equal(reads);
        }
  });

  it('keywordVerdict: too new before it was added, deprecated from its deprecation on, removed from its removal on, nothing for synonyms', () => {
    expect(keywordVerdict(['vrrp_instance'], 'owner_ignore_adverts', '2.2.7')).to.include({ kind: 'too-new', since: '2.3.3' });
    expect(keywordVerdict(['vrrp_instance'], 'owner_ignore_adverts', '2.3.3')).to.equal(undefined);
    expect(keywordVerdict(['virtual_server', 'real_server', 'HTTP_GET'], 'nb_get_retry', '2.2.7')).to.include({ kind: 'deprecated', since: '2.0.15' });
    expect(keywordVerdict(['virtual_server', 'real_server', 'TCP_CHECK'], 'nb_get_retry', '2.2.7')).to.equal(undefined);
    expect(keywordVerdict(['virtual_server'], 'lb_algo', '2.3.3')).to.equal(undefined);
    const own: KeywordLifecycle[] = [{ keyword: 'k', blocks: ['b'], introduced: '2.2.0', deprecated: '2.2.7', removed: '2.3.3', note: 'n', source: 's' }];
    expect(keywordVerdict(['b'], 'k', '2.1.5', own)?.kind).to.equal('too-new');
    expect(keywordVerdict(['b'], 'k', '2.2.7', own)?.kind).to.equal('deprecated');
    expect(keywordVerdict(['b'], 'k', '2.3.3', own)?.kind).to.equal('removed');
    expect(keywordVerdict(['c'], 'k', '2.3.3', own)).to.equal(undefined);
  });

  it('resolveTarget: bookworm by default; the version from the release and the release from the version', () => {
    expect(resolveTarget({}, 'lint')).to.deep.include({ version: '2.2.7' });
    expect(resolveTarget({}, 'lint').release.name).to.equal('bookworm');
    expect(resolveTarget({ release: 'trixie' }, 'lint').version).to.equal('2.3.3');
    expect(resolveTarget({ keepalivedVersion: '2.3.3' }, 'lint').release.name).to.equal('trixie');
    expect(resolveTarget({ release: 'trixie', keepalivedVersion: '2.3.3' }, 'validate').version).to.equal('2.3.3');
  });

  it('resolveTarget: an unknown value, or a release and version that do not go together, is a usage error naming the flag and what is allowed', () => {
    expect(usageError(() => resolveTarget({ release: 'sid' }, 'lint')).message).to.equal(
      'lint: --release sid: known releases are bookworm (Debian 12, keepalived 2.2.7), trixie (Debian 13, keepalived 2.3.3)',
    );
    expect(usageError(() => resolveTarget({ keepalivedVersion: '2.3.4' }, 'validate')).message).to.equal(
      'validate: --keepalived-version 2.3.4: known versions are 2.2.7, 2.3.3 (Debian 12 bookworm ships 2.2.7, Debian 13 trixie ships 2.3.3)',
    );
    expect(usageError(() => resolveTarget({ release: 'bookworm', keepalivedVersion: '2.3.3' }, 'lint')).message).to.include('--release bookworm ships keepalived 2.2.7, not 2.3.3');
  });

  it('fuzz: unknown versions and releases are refused cleanly (a usage error naming the flag, the value printable), never a crash or a silent default', () => {
    const next = rng(16);
    const near = ['2.2.7 ', ' 2.3.3', 'v2.3.3', '2.3', '2', '2.3.3.0', '02.3.3', '2.2.07', '2.3.3\n', '2,3,3', 'Trixie', 'BOOKWORM', 'debian13', '13', '', '-1', '2.3.3-1', 'trixie\u0000', '\u001b[31m2.3.3'];
    const alphabet = '0123456789.v- \t\n\u0000\u001b\u00e9\u2028abcdefghijklmnopqrstuvwxyz';
    const random = Array.from({ length: 300 }, () => Array.from({ length: Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
    for (const value of [...near, ...random]) {
      for (const [flag, opts] of [
        ['--keepalived-version', { keepalivedVersion: value }],
        ['--release', { release: value }],
      ] as const) {
        const known = flag === '--release' ? DEBIAN_RELEASES.some((r) => r.name === value) : (KEEPALIVED_VERSIONS as readonly string[]).includes(value);
        if (known) {
          expect(() => resolveTarget(opts, 'lint')).to.not.throw();
          continue;
        }
        const e = usageError(() => resolveTarget(opts, 'lint'));
        expect(e.message, JSON.stringify(value)).to.include(`lint: ${flag} `);
        expect(e.message, JSON.stringify(value)).to.include(flag === '--release' ? 'bookworm (Debian 12, keepalived 2.2.7)' : 'known versions are 2.2.7, 2.3.3');
        // nothing that moves a terminal's cursor or breaks the line
        expect(e.message, JSON.stringify(value)).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
        expect(e.message.length).to.be.lessThan(300);
      }
    }
  });

  it('lint: --release and --keepalived-version on the command line (usage errors are exit 2)', () => {
    const file = new URL('../fixtures/lint/good-a.conf', import.meta.url).pathname;
    expect(usageError(() => lintCommand(['--release', 'buster', file])).message).to.match(/^lint: --release buster: known releases are bookworm/);
    expect(usageError(() => lintCommand(['--release', 'trixie', '--keepalived-version', '2.2.7', file])).message).to.include('--release trixie ships keepalived 2.3.3, not 2.2.7');
    expect(usageError(() => lintCommand(['--release', file])).message).to.match(/^lint: /);
    expect(lintCommand(['--release', 'trixie', file]).code).to.equal(0);
    expect(lintCommand(['--keepalived-version', '2.3.3', file]).code).to.equal(0);
  });
});
