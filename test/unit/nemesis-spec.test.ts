import { expect } from 'chai';
import { HarnessError } from '../../harness/errors.js';
import { formatDuration, parseDuration, parsePercent } from '../../harness/nemesis/params.js';
import { parseFaultSpec } from '../../harness/nemesis/registry.js';

function usageError(spec: string): HarnessError {
  try {
    parseFaultSpec(spec);
  } catch (e) {
    expect(e).to.be.instanceOf(HarnessError);
    expect((e as HarnessError).code).to.equal('ERR_LVS_USAGE');
    return e as HarnessError;
  }
  throw new Error(`parseFaultSpec(${JSON.stringify(spec)}) accepted it`);
}

describe('nemesis: fault specs <name>[=<param>]:<target>[:<duration>]', () => {
  it('parses the documented forms', () => {
    expect(parseFaultSpec('kill:director1')).to.deep.equal({ spec: 'kill:director1', name: 'kill', target: 'director1' });
    expect(parseFaultSpec('pause:rs2:10s')).to.deep.equal({ spec: 'pause:rs2:10s', name: 'pause', target: 'rs2', durationMs: 10_000 });
    expect(parseFaultSpec('partition:director1/director2:15s')).to.deep.equal({
      spec: 'partition:director1/director2:15s',
      name: 'partition',
      target: 'director1/director2',
      durationMs: 15_000,
    });
    expect(parseFaultSpec('netem-delay=300ms:rs1:20s')).to.deep.equal({ spec: 'netem-delay=300ms:rs1:20s', name: 'netem-delay', param: '300ms', target: 'rs1', durationMs: 20_000 });
    expect(parseFaultSpec('netem-loss=30%:director1')).to.deep.equal({ spec: 'netem-loss=30%:director1', name: 'netem-loss', param: '30%', target: 'director1' });
    expect(parseFaultSpec('health:rs2:30s')).to.deep.equal({ spec: 'health:rs2:30s', name: 'health', target: 'rs2', durationMs: 30_000 });
    expect(parseFaultSpec('link-down=lan:rs1:2m').durationMs).to.equal(120_000);
    expect(parseFaultSpec('kill-app:rs3:500ms').durationMs).to.equal(500);
    expect(parseFaultSpec('restart=5s:rs1')).to.deep.equal({ spec: 'restart=5s:rs1', name: 'restart', param: '5s', target: 'rs1' });
  });

  it('canonicalises durations in the spec it returns', () => {
    expect(parseFaultSpec(' pause:rs2:120s ').spec).to.equal('pause:rs2:2m');
    expect(parseFaultSpec('pause:rs2:1.5s')).to.include({ spec: 'pause:rs2:1500ms', durationMs: 1500 });
  });

  it('names the spec, the part and what is allowed when a spec is wrong', () => {
    expect(usageError('').message).to.equal('fault spec "": spec: empty');
    const unknown = usageError('kil:rs1');
    expect(unknown.message).to.match(/^fault spec "kil:rs1": fault: "kil" is not a fault \(known: kill, stop, pause, restart, kill-keepalived, kill-haproxy, kill-app, link-down, partition, netem-delay, netem-loss, health\)$/);
    expect(unknown.hint).to.contain('<name>[=<param>]:<target>[:<duration>]');
    const noTarget = usageError('kill');
    expect(noTarget.message).to.equal('fault spec "kill": target: missing; kill acts on <node>');
    expect(noTarget.hint).to.equal('write kill:<node>[:<duration>]');
    expect(usageError('pause:rs2:10x').message).to.equal('fault spec "pause:rs2:10x": duration: "10x" is not a duration (a number with ms, s or m: 500ms, 10s, 1.5s, 2m)');
    expect(usageError('pause:rs2:10').message).to.contain('"10" is not a duration');
    expect(usageError('pause:rs2:0s').message).to.equal('fault spec "pause:rs2:0s": duration: "0s" is no time at all; a fault lasts more than 0');
    expect(usageError('pause:rs2:10s:x').message).to.equal('fault spec "pause:rs2:10s:x": spec: 4 parts separated by ":"; expected at most 3 (fault, target, duration)');
    expect(usageError('kill=9:rs1').message).to.equal('fault spec "kill=9:rs1": parameter: kill takes no parameter (got "=9")');
    expect(usageError('netem-delay=fast:rs1').message).to.equal(
      'fault spec "netem-delay=fast:rs1": parameter: "fast" is not a duration (a number with ms, s or m: 500ms, 10s, 1.5s, 2m); netem-delay takes the added delay (a number with ms, s or m: 500ms, 10s, 1.5s, 2m)',
    );
    expect(usageError('netem-delay=:rs1').message).to.contain('parameter: empty');
    expect(usageError('netem-loss=130%:rs1').message).to.contain('"130%" is not a percentage in (0, 100]');
    expect(usageError('netem-loss=0%:rs1').message).to.contain('"0%" is not a percentage in (0, 100]');
    expect(usageError('link-down=l@n:rs1').message).to.contain('"l@n" is not a network name');
  });

  it('checks the shape of the target for the fault', () => {
    const single = usageError('partition:director1:15s');
    expect(single.message).to.equal('fault spec "partition:director1:15s": target: "director1" is not two nodes; partition acts on <node>/<node>');
    expect(single.hint).to.equal('write partition:<node>/<node>[:<duration>], e.g. partition:director1/director2');
    expect(usageError('partition:a/b/c').message).to.contain('"a/b/c" is not two nodes');
    expect(usageError('partition:rs1/rs1').message).to.equal('fault spec "partition:rs1/rs1": target: "rs1/rs1" names rs1 twice; partition needs two different nodes');
    expect(usageError('pause:rs1/rs2').message).to.equal('fault spec "pause:rs1/rs2": target: "rs1/rs2" is a pair; pause acts on one node');
    expect(usageError('health:rs1/rs2').message).to.contain('health acts on one real-server');
    expect(usageError('kill:rs 1').message).to.contain('"rs 1" is not a node name');
    expect(usageError('partition:rs1/').message).to.contain('"" is not a node name');
  });

  it('refuses a duration for restart, which ends when the node is back', () => {
    const e = usageError('restart:rs1:10s');
    expect(e.message).to.equal('fault spec "restart:rs1:10s": duration: restart takes no duration: it ends when the node is back');
    expect(e.hint).to.equal('write restart[=<param>]:<node>');
  });
});

describe('nemesis: durations and percentages', () => {
  it('reads ms, s and m, whole or decimal', () => {
    expect(parseDuration('500ms')).to.equal(500);
    expect(parseDuration('10s')).to.equal(10_000);
    expect(parseDuration('2m')).to.equal(120_000);
    expect(parseDuration('0.25s')).to.equal(250);
    expect(parseDuration('0s')).to.equal(0);
    for (const bad of ['', '10', 's', '-1s', '1h', '1 s', '1e3ms', '10S']) expect(parseDuration(bad), bad).to.equal(undefined);
  });
  it('writes the largest whole unit', () => {
    expect([500, 1000, 1500, 60_000, 90_000, 120_000].map(formatDuration)).to.deep.equal(['500ms', '1s', '1500ms', '1m', '90s', '2m']);
  });
  it('reads percentages in (0, 100]', () => {
    expect(parsePercent('30%')).to.equal(30);
    expect(parsePercent('30')).to.equal(30);
    expect(parsePercent('0.5%')).to.equal(0.5);
    expect(parsePercent('100%')).to.equal(100);
    for (const bad of ['0', '0%', '100.1%', '-5%', 'ten%', '%', '']) expect(parsePercent(bad), bad).to.equal(undefined);
  });
});
