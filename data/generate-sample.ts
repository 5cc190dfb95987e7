/**
 * Writes the embedded sample, `data/sample.csv`: synthetic DCGM exporter CSV
 * (see src/ingest/sample-generator.ts). Deterministic: rerunning it rewrites
 * the same bytes, so a diff in review means the generator changed.
 *
 *   npm run build && node dist/data/generate-sample.js [--hosts 4] [--gpus 8]
 *     [--scrapes 3] [--seed N] [--out data/sample.csv]
 *
 * Run it from the repository root (the default --out is relative to it).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateDcgmSample, SAMPLE_DEFAULTS } from '../src/ingest/sample-generator.js';

function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new RangeError(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  return n;
}

const { values } = parseArgs({
  options: {
    hosts: { type: 'string' },
    gpus: { type: 'string' },
    scrapes: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string', default: 'data/sample.csv' },
  },
});
const csv = generateDcgmSample({
  hosts: intFlag('hosts', values.hosts, SAMPLE_DEFAULTS.hosts),
  gpusPerHost: intFlag('gpus', values.gpus, SAMPLE_DEFAULTS.gpusPerHost),
  scrapes: intFlag('scrapes', values.scrapes, SAMPLE_DEFAULTS.scrapes),
  seed: intFlag('seed', values.seed, SAMPLE_DEFAULTS.seed),
});
writeFileSync(values.out, csv);
const rows = csv.split('\n').length - 2;
console.log(`wrote ${values.out}: ${rows} rows, ${Buffer.byteLength(csv)} bytes`);
