/**
 * The synthetic DCGM sample: deterministic, in the exporter's exact format,
 * plausible values; and data/sample.csv is what the generator writes.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { DCGM_HEADER, DCGM_METRICS, generateDcgmSample, SAMPLE_DEFAULTS } from '../../src/ingest/index.js';

const SAMPLE = new URL('../../data/sample.csv', import.meta.url);

t.test('data/sample.csv is exactly what the generator writes with its defaults, under 500 KB', async (t) => {
  const committed = readFileSync(SAMPLE, 'utf8');
  const generated = generateDcgmSample();
  t.ok(committed === generated, 'data/sample.csv is current: regenerate it with node dist/data/generate-sample.js');
  t.ok(Buffer.byteLength(generated) < 500_000, `${Buffer.byteLength(generated)} bytes`);
});

t.test('the same options give the same bytes; another seed other values', async (t) => {
  t.equal(generateDcgmSample({ hosts: 2, scrapes: 2 }), generateDcgmSample({ hosts: 2, scrapes: 2 }));
  t.not(generateDcgmSample({ seed: 1 }), generateDcgmSample({ seed: 2 }));
});

t.test('the sample has the exporter format: unquoted header, every field quoted, LF endings', async (t) => {
  const text = generateDcgmSample({ hosts: 2, scrapes: 2 });
  const lines = text.split('\n');
  t.equal(lines[0], DCGM_HEADER);
  t.equal(lines.at(-1), '', 'ends with a line feed');
  t.notMatch(text, /\r/);
  for (const line of lines.slice(1, -1)) {
    if (!/^"[^"]*"(,"[^"]*")*,"([^"]|"")*"$/.test(line)) {
      t.fail(`not the exporter form: ${line}`);
      return;
    }
  }
  t.pass(`${lines.length - 2} lines in the exporter form`);
});

t.test('the sample covers hosts x GPUs x metrics x scrapes with plausible values', async (t) => {
  const hosts = 3;
  const scrapes = 4;
  const text = generateDcgmSample({ hosts, scrapes });
  const [header, ...rows] = parse(text) as string[][];
  const col = Object.fromEntries(header!.map((name, i) => [name, i])) as Record<string, number>;
  const get = (r: string[], name: string): string => r[col[name]!]!;
  t.equal(rows.length, hosts * SAMPLE_DEFAULTS.gpusPerHost * DCGM_METRICS.length * scrapes);
  t.same([...new Set(rows.map((r) => get(r, 'metric_name')))], [...DCGM_METRICS]);
  const stamps = [...new Set(rows.map((r) => get(r, 'timestamp')))];
  t.same(
    stamps.map((s) => Date.parse(s) - Date.parse(stamps[0]!)),
    [0, 1000, 2000, 3000],
    'scrapes 1 s apart',
  );
  t.match(stamps[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'timestamps as the exporter writes them');
  const uuids = new Set(rows.map((r) => get(r, 'uuid')));
  t.equal(uuids.size, hosts * 8);
  t.ok([...uuids].every((u) => /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(u)), 'UUIDs in NVIDIA form');
  t.equal(new Set(rows.map((r) => get(r, 'Hostname'))).size, hosts);
  t.ok(rows.every((r) => /^[a-z0-9]+-dgx1-hgpu-\d{3}$/.test(get(r, 'Hostname'))), 'hostnames like the real ones');
  t.ok(rows.every((r) => get(r, 'device') === `nvidia${get(r, 'gpu_id')}`));
  const k8s = rows.filter((r) => get(r, 'pod') !== '');
  t.ok(k8s.length > 0 && k8s.length < rows.length / 2, `some GPUs run in Kubernetes pods (${k8s.length} of ${rows.length} rows)`);
  t.ok(k8s.every((r) => get(r, 'namespace') !== '' && get(r, 'container') !== ''));

  const byKey = new Map<string, number>();
  for (const r of rows) byKey.set(`${get(r, 'timestamp')} ${get(r, 'uuid')} ${get(r, 'metric_name')}`, Number(get(r, 'value')));
  for (const r of rows.filter((x) => get(x, 'metric_name') === 'DCGM_FI_DEV_FB_USED')) {
    const free = byKey.get(`${get(r, 'timestamp')} ${get(r, 'uuid')} DCGM_FI_DEV_FB_FREE`);
    if (Number(get(r, 'value')) + free! !== 81007) t.fail(`FB_USED + FB_FREE = ${Number(get(r, 'value')) + free!}`);
  }
  const range = (metric: string): [number, number] => {
    const v = rows.filter((r) => get(r, 'metric_name') === metric).map((r) => Number(get(r, 'value')));
    return [Math.min(...v), Math.max(...v)];
  };
  const within = (metric: string, lo: number, hi: number): void => {
    const [min, max] = range(metric);
    t.ok(min >= lo && max <= hi, `${metric} in [${lo}, ${hi}]: [${min}, ${max}]`);
  };
  within('DCGM_FI_DEV_GPU_UTIL', 0, 100);
  within('DCGM_FI_DEV_MEM_COPY_UTIL', 0, 100);
  within('DCGM_FI_DEV_POWER_USAGE', 60, 700);
  within('DCGM_FI_DEV_GPU_TEMP', 20, 85);
  within('DCGM_FI_DEV_SM_CLOCK', 345, 1980);
  within('DCGM_FI_DEV_MEM_CLOCK', 2619, 2619);
  t.ok(rows.every((r) => Number.isFinite(Number(get(r, 'value')))), 'all values numeric');
});

t.test('labels_raw carries the series labels sorted by key, as the exporter writes them', async (t) => {
  const [header, ...rows] = parse(generateDcgmSample({ hosts: 4, scrapes: 1 })) as string[][];
  const at = (name: string): number => header!.indexOf(name);
  for (const r of rows) {
    const labels = r[at('labels_raw')]!;
    const pairs = [...labels.matchAll(/([A-Za-z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
    const keys = pairs.map(([k]) => k!);
    const want = ['DCGM_FI_DRIVER_VERSION', 'Hostname', 'UUID', '__name__', 'container', 'device', 'gpu', 'instance', 'job', 'modelName', 'namespace', 'pod']
      .filter((k) => r[at('pod')] !== '' || !['container', 'namespace', 'pod'].includes(k));
    if (keys.join() !== want.join() || [...keys].sort().join() !== keys.join()) {
      t.fail(`labels keys ${keys.join()}`);
      return;
    }
    const label = Object.fromEntries(pairs) as Record<string, string>;
    if (label['UUID'] !== r[at('uuid')] || label['__name__'] !== r[at('metric_name')] || label['instance'] !== `${r[at('Hostname')]}:9400`) {
      t.fail(`labels disagree with the row: ${labels}`);
      return;
    }
  }
  t.pass(`${rows.length} rows`);
});

t.test('sample options are validated', async (t) => {
  t.throws(() => generateDcgmSample({ hosts: 0 }), { name: 'RangeError', message: 'sample hosts must be an integer from 1 to 999, got 0' });
  t.throws(() => generateDcgmSample({ gpusPerHost: 1.5 }), RangeError);
  t.throws(() => generateDcgmSample({ scrapes: -1 }), RangeError);
  t.throws(() => generateDcgmSample({ intervalMs: 0 }), RangeError);
  t.throws(() => generateDcgmSample({ startMs: NaN }), RangeError);
});
