import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withCeilingRatios } from '../../harness/bench/ceiling.js';
import { parseBench, readBench } from '../../harness/bench/schema.js';
import { mode, rep, report } from './bench-fixture.js';
import { rejection } from '../helpers.js';

const roundTrip = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
const fails = (raw: unknown) => {
  try {
    parseBench(raw, 'bench.json');
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error('expected a failure');
};

describe('bench.json schema', () => {
  const good = report([mode('nat', [rep(900, 2), rep(910, 2)]), mode('ceiling', [rep(1000, 1), rep(1000, 1)])]);

  it('a report as bench writes it reads back unchanged through JSON', () => {
    const r = withCeilingRatios(good);
    expect(parseBench(roundTrip(r), 'bench.json')).to.deep.equal(r);
  });

  it('an empty point latency is null in JSON and still valid', () => {
    const r = roundTrip(report([mode('nat', [rep(0, 1, { ok: 0, errors: { refused: 5 }, latency: { count: 0, rejected: 0, minMs: null, meanMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null }, hdr: undefined })])]));
    expect(() => parseBench(r, 'bench.json')).not.to.throw();
  });

  it('errors name the file and the field', () => {
    const r = roundTrip(good) as { topologies: { services: { modes: { mode: string; points: { connection: string }[] }[] }[] }[] };
    r.topologies[0]!.services[0]!.modes[0]!.points[0]!.connection = 'pipelined';
    const e = fails(r);
    expect(e.code).to.equal('ERR_LVS_BENCH');
    expect(e.message).to.match(/^bench\.json: field topologies\[0\]\.services\[0\]\.modes\[0\]\.points\[0\]\.connection: "pipelined"/);
  });

  it('a missing field says it is missing', () => {
    const r = roundTrip(good) as { settings: Record<string, unknown> };
    delete r.settings.repeat;
    expect(fails(r).message).to.contain('field settings.repeat: missing');
  });

  it('an unknown mode and an unknown field are refused by name', () => {
    const r = roundTrip(good) as { topologies: { services: { modes: { mode: string }[] }[] }[] };
    r.topologies[0]!.services[0]!.modes[0]!.mode = 'masq';
    expect(fails(r).message).to.contain('modes[0].mode: "masq"');
    expect(fails({ ...(roundTrip(good) as object), extra: 1 }).message).to.contain('unknown field "extra"');
  });

  it('another schema, or no object at all, is refused with a hint', () => {
    const e = fails({ ...(roundTrip(good) as object), schema: 'lvs-harness/bench@2' }) as Error & { hint?: string };
    expect(e.message).to.contain('field schema');
    expect(e.hint).to.contain('newer harness');
    expect(fails(null).message).to.contain('(top level)');
    expect(fails([1]).message).to.contain('is not an object');
  });

  it('readBench takes a file or a report directory, and says what is wrong with neither', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-'));
    try {
      await writeFile(path.join(dir, 'bench.json'), JSON.stringify(good));
      expect((await readBench(dir)).runId).to.equal('run-1');
      expect((await readBench(path.join(dir, 'bench.json'))).runId).to.equal('run-1');
      expect((await rejection(readBench(path.join(dir, 'nope.json')))).message).to.contain('no such file');
      await writeFile(path.join(dir, 'bad.json'), '{');
      expect((await rejection(readBench(path.join(dir, 'bad.json')))).message).to.contain('not JSON');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench ratios to the ceiling', () => {
  it('pairs repetitions of the same round, and the knee with the ceiling\'s knee', () => {
    const r = withCeilingRatios(report([mode('nat', [rep(900, 2), rep(450, 2)]), mode('ceiling', [rep(1000, 1), rep(500, 1)])]));
    const nat = r.topologies[0]!.services[0]!.modes[0]!;
    expect(nat.points[0]!.repetitions.map((x) => x.ratio?.rate)).to.deep.equal([0.9, 0.9]);
    expect(nat.points[0]!.ratio!.rate!.median).to.equal(0.9);
    expect(nat.points[0]!.ratio!.p99!.median).to.be.closeTo(2, 0.01);
    expect(nat.knees[0]!.ratio).to.be.closeTo(675 / 750, 1e-9);
    expect(r.topologies[0]!.services[0]!.modes[1]!.points[0]!.ratio).to.equal(undefined);
  });

  it('divides by the ceiling\'s median when the repetition counts differ; leaves a service without a ceiling alone', () => {
    const r = withCeilingRatios(report([mode('dr', [rep(800, 2)]), mode('ceiling', [rep(900, 1), rep(1000, 1), rep(1100, 1)])]));
    expect(r.topologies[0]!.services[0]!.modes[0]!.points[0]!.repetitions[0]!.ratio!.rate).to.equal(0.8);
    const alone = report([mode('dr', [rep(800, 2)])]);
    expect(withCeilingRatios(alone)).to.deep.equal(alone);
  });
});
