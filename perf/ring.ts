/**
 * perf scenarios that wrap a standalone benchmark and read its JSON lines:
 *
 * - ring: native-free-ring against MessagePort.postMessage
 *   (native-free-ring/bench/ring-bench.ts; it interleaves the two itself).
 * - csv: DCGM CSV parsing per thread, the fast path cold and warm against
 *   csv-parse alone (perf/csv-parse.ts).
 */
import { runJsonLines, type Measurement, type Scenario, type ScenarioOptions } from './harness.js';

const RING_BENCH = new URL('../../native-free-ring/dist/bench/ring-bench.js', import.meta.url);
const CSV_BENCH = new URL('./csv-parse.js', import.meta.url);
const RING_FULL = { mixes: '1x1,2x2,4x4,10x10', bytes: '32,256', batch: '1,256' };
const RING_QUICK = { mixes: '1x1,10x10', bytes: '32', batch: '1,256' };

export const ring: Scenario = {
  name: 'ring',
  about: 'native-free-ring against postMessage: msgs/s by mix, message size and batch',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    const set = o.quick ? RING_QUICK : RING_FULL;
    const cases = set.mixes.split(',').length * set.bytes.split(',').length * set.batch.split(',').length;
    const args = ['--json', '--mixes', set.mixes, '--bytes', set.bytes, '--batch', set.batch, '--runs', String(o.quick ? 1 : Math.max(3, o.runs))];
    if (o.quick) args.push('--duration', '150');
    o.progress.start('ring', cases);
    const out: Measurement[] = [];
    await runJsonLines(RING_BENCH, args, (v) => {
      const { case: name, machine: _machine, ...fields } = v;
      out.push({ scenario: 'ring', case: String(name), ...fields });
      o.progress.step(String(name));
    });
    o.progress.finish();
    return out;
  },
};

export const csv: Scenario = {
  name: 'csv',
  about: 'CSV rows/s per thread: the fast path (first pass cold, and warm) against csv-parse',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    o.progress.start('csv', 3);
    const out: Measurement[] = [];
    await runJsonLines(CSV_BENCH, ['--json', '--min-ms', o.quick ? '300' : '2000', '--file', o.file], (v) => {
      out.push({
        scenario: 'csv',
        case: String(v.impl),
        rows_per_s: Math.round(Number(v.rowsPerSec)),
        mb_per_s: Number((Number(v.bytesPerSec) / 1e6).toFixed(1)),
        ratio_to_csv_parse: Number(v.ratioVsCsvParse),
        rows_per_pass: v.rowsPerPass,
      });
      o.progress.step(String(v.impl));
    });
    o.progress.finish();
    return out;
  },
};
