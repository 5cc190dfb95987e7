/**
 * DcgmCsvParser on small inline inputs: the real export's quirks, every reject
 * with its reason and line, other layouts, header errors, chunking, batching.
 */
import t from 'tap';
import {
  createDictionaries,
  CsvHeaderError,
  DcgmCsvParser,
  RejectReason,
  RowBatch,
  type DcgmCsvParserOptions,
} from '../../src/ingest/index.js';
import { csvOf, HEADER, labelsFor, minimalRow, realRow, rowFields, UUID_A, UUID_B } from './fixtures/dcgm-lines.js';
import { Prng, testSeed } from '../fixtures/prng.js';
import { assertSameResult, parseWithParser, referenceParse, type PlainResult } from './fixtures/results.js';
import { rewriteCsv, smallCsv } from './fixtures/inputs.js';

const enc = new TextEncoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const parseText = (s: string, options: DcgmCsvParserOptions = {}): PlainResult => parseWithParser(bytes(s), options);
const TS = Date.UTC(2025, 6, 18, 20, 42, 34);

t.test('reads the real export layout: unquoted header, quoted fields, labels_raw with "" escapes', async (t) => {
  const text = csvOf(
    realRow(),
    realRow({ gpu_id: '1', device: 'nvidia1', uuid: UUID_B, value: '100' }),
    realRow({ metric_name: 'DCGM_FI_DEV_POWER_USAGE', value: '156.596', timestamp: '2025-07-18T20:42:35Z' }),
  );
  t.match(text.split('\n')[1], /^"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL",.*"66\.781","DCGM_FI_DRIVER_VERSION=""535\.129\.03"",Hostname=""/);
  const got = parseText(text);
  t.same(got.rejects, []);
  t.same(
    got.rows.map((r) => [r.line, r.tsMs, r.value, r.metric, r.gpu.uuid, r.gpu.gpuId]),
    [
      [2, TS, '66.781', 'DCGM_FI_DEV_GPU_UTIL', UUID_A, '0'],
      [3, TS, '100', 'DCGM_FI_DEV_GPU_UTIL', UUID_B, '1'],
      [4, TS + 1000, '156.596', 'DCGM_FI_DEV_POWER_USAGE', UUID_A, '0'],
    ],
  );
  t.same(got.rows[0]!.gpu, {
    uuid: UUID_A,
    gpuId: '0',
    device: 'nvidia0',
    modelName: 'NVIDIA H100 80GB HBM3',
    hostname: 'lab1-dgx1-hgpu-001',
    container: '',
    pod: '',
    namespace: '',
  });
  t.equal(got.rows[0]!.labels, labelsFor(rowFields()), 'labels_raw is decoded: "" becomes "');
  t.match(got.rows[0]!.labels, /^DCGM_FI_DRIVER_VERSION="535\.129\.03",Hostname="lab1-dgx1-hgpu-001",UUID="GPU-/);
});

t.test('dictionaries hold each distinct GPU, metric and labels_raw once, in first-seen order', async (t) => {
  const text = csvOf(
    realRow(),
    realRow({ uuid: UUID_B, gpu_id: '1', device: 'nvidia1' }),
    realRow({ metric_name: 'DCGM_FI_DEV_GPU_TEMP', value: '31' }),
    realRow({ timestamp: '2025-07-18T20:42:35Z', value: '67' }),
    realRow({ pod: 'trainer-0', namespace: 'ml', container: 'main' }),
  );
  const seen: number[][] = [];
  const parser = new DcgmCsvParser({}, (batch) => {
    for (let i = 0; i < batch.length; i++) seen.push([batch.gpu[i]!, batch.metric[i]!, batch.labels[i]!]);
  });
  parser.push(bytes(text));
  parser.end();
  t.same(seen, [
    [0, 0, 0],
    [1, 0, 1],
    [0, 1, 2],
    [0, 0, 0],
    [2, 0, 0],
  ]);
  t.same(
    parser.gpus.map((g) => [g.uuid, g.pod]),
    [
      [UUID_A, ''],
      [UUID_B, ''],
      [UUID_A, 'trainer-0'],
    ],
    'the same uuid in another pod is another identity',
  );
  t.same(parser.metrics, ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_TEMP']);
  t.equal(parser.labels.length, 3);
  t.same(parser.counts, {
    rows: 5,
    rejected: {
      column_count: 0,
      bad_value: 0,
      non_finite: 0,
      empty_uuid: 0,
      empty_metric: 0,
      bad_timestamp: 0,
      field_too_long: 0,
      unterminated_quote: 0,
    },
    bytes: text.length,
  });
});

t.test('parsers that share dictionaries give the same indexes', async (t) => {
  const dictionaries = createDictionaries();
  const indexes = (text: string): number[][] => {
    const out: number[][] = [];
    const parser = new DcgmCsvParser({ dictionaries }, (b) => {
      for (let i = 0; i < b.length; i++) out.push([b.gpu[i]!, b.metric[i]!, b.labels[i]!]);
    });
    parser.push(bytes(text));
    parser.end();
    return out;
  };
  const first = indexes(csvOf(realRow(), realRow({ uuid: UUID_B })));
  const second = indexes(csvOf(realRow({ uuid: UUID_B }), realRow({ value: '1' })));
  t.same(first, [
    [0, 0, 0],
    [1, 0, 1],
  ]);
  t.same(second, [
    [1, 0, 1],
    [0, 0, 0],
  ]);
  t.equal(dictionaries.gpus.values.length, 2);
});

/** Each malformed line, alone after a good line, with its expected reject. */
const MALFORMED: Array<[string, string, RejectReason, string]> = [
  ['a record with too few fields', realRow().slice(0, realRow().lastIndexOf(',"DCGM_FI_DRIVER')), RejectReason.ColumnCount, 'csv line 3: expected 12 fields, got 11'],
  ['a record with too many fields', `${realRow()},"extra"`, RejectReason.ColumnCount, 'csv line 3: expected 12 fields, got more than 12'],
  ['a value that is not a number', realRow({ value: 'n/a' }), RejectReason.BadValue, 'csv line 3: value "n/a" is not a number'],
  ['an empty value', realRow({ value: '' }), RejectReason.BadValue, 'csv line 3: value "" is not a number'],
  ['a value with a space', realRow({ value: ' 5' }), RejectReason.BadValue, 'csv line 3: value " 5" is not a number'],
  ['an infinite value', realRow({ value: 'inf' }), RejectReason.NonFinite, 'csv line 3: value "inf" is not finite'],
  ['a NaN value', realRow({ value: 'NaN' }), RejectReason.NonFinite, 'csv line 3: value "NaN" is not finite'],
  ['a value that overflows a double', realRow({ value: '1e999' }), RejectReason.NonFinite, 'csv line 3: value "1e999" is not finite'],
  ['an empty uuid', realRow({ uuid: '' }), RejectReason.EmptyUuid, 'csv line 3: uuid is empty'],
  ['an empty metric name', realRow({ metric_name: '' }), RejectReason.EmptyMetric, 'csv line 3: metric_name is empty'],
  [
    'a timestamp without a zone',
    realRow({ timestamp: '2025-07-18T20:42:34' }),
    RejectReason.BadTimestamp,
    'csv line 3: timestamp "2025-07-18T20:42:34" is not an RFC 3339 date-time',
  ],
  [
    'a timestamp with a space for T',
    realRow({ timestamp: '2025-07-18 20:42:34Z' }),
    RejectReason.BadTimestamp,
    'csv line 3: timestamp "2025-07-18 20:42:34Z" is not an RFC 3339 date-time',
  ],
  [
    'an impossible date',
    realRow({ timestamp: '2025-02-29T00:00:00Z' }),
    RejectReason.BadTimestamp,
    'csv line 3: timestamp "2025-02-29T00:00:00Z" is not an RFC 3339 date-time',
  ],
  ['epoch seconds', realRow({ timestamp: '1752871354' }), RejectReason.BadTimestamp, 'csv line 3: timestamp "1752871354" is not an RFC 3339 date-time'],
];

for (const [name, line, reason, detail] of MALFORMED) {
  t.test(`rejects ${name} as ${reason} with its line, and goes on`, async (t) => {
    const got = parseText(csvOf(realRow(), line, realRow({ value: '7' })));
    t.same(got.rejects, [{ reason, line: 3, detail }]);
    t.same(
      got.rows.map((r) => [r.line, r.value]),
      [
        [2, '66.781'],
        [4, '7'],
      ],
    );
  });
}

t.test('the first failing check names the reject: timestamp, metric_name, uuid, then value', async (t) => {
  const got = parseText(
    csvOf(
      realRow({ timestamp: 'x', metric_name: '', uuid: '', value: 'y' }),
      realRow({ metric_name: '', uuid: '', value: 'y' }),
      realRow({ uuid: '', value: 'y' }),
    ),
  );
  t.same(
    got.rejects.map((r) => r.reason),
    [RejectReason.BadTimestamp, RejectReason.EmptyMetric, RejectReason.EmptyUuid],
  );
});

t.test('accepts RFC 3339 offsets, fractions and lower-case t and z', async (t) => {
  const got = parseText(
    csvOf(
      realRow({ timestamp: '2025-07-18T22:42:34+02:00' }),
      realRow({ timestamp: '2025-07-18T20:42:34.5Z' }),
      realRow({ timestamp: '2025-07-18t20:42:34.123456z' }),
      realRow({ timestamp: '2025-07-18T15:12:34-05:30' }),
    ),
  );
  t.same(got.rejects, []);
  t.same(
    got.rows.map((r) => r.tsMs),
    [TS, TS + 500, TS + 123, TS],
  );
});

t.test('a field longer than maxFieldBytes is rejected and parsing resumes at the next line', async (t) => {
  const long = 'x'.repeat(300);
  const got = parseText(csvOf(realRow(), realRow({ pod: long }), realRow({ value: '7' })), { maxFieldBytes: 299 + 200 });
  t.same(got.rejects, [], 'fields up to the limit are fine');
  const small = parseText(csvOf(realRow(), realRow({ pod: long }), realRow({ value: '7' })), { maxFieldBytes: 299 });
  t.same(small.rejects, [
    {
      reason: RejectReason.FieldTooLong,
      line: 3,
      detail: 'csv line 3: field 9 (pod) is longer than maxFieldBytes (299); skipped to the next line',
    },
  ]);
  t.same(
    small.rows.map((r) => r.line),
    [2, 4],
  );
});

t.test('maxFieldBytes counts decoded bytes: "" escapes count once', async (t) => {
  const labels = '"'.repeat(100); // 200 bytes as written
  t.same(parseText(csvOf(realRow({ labels_raw: labels })), { maxFieldBytes: 100 }).rejects, []);
  t.same(
    parseText(csvOf(realRow({ labels_raw: `${labels}"` })), { maxFieldBytes: 100 }).rejects.map((r) => r.reason),
    [RejectReason.FieldTooLong],
  );
});

t.test('a quote left open at the end of the input is an unterminated_quote; rows before it stay', async (t) => {
  const text = `${csvOf(realRow())}${realRow({ value: '7' }).slice(0, -1)}`; // no closing quote, no newline
  const got = parseText(text);
  t.same(got.rejects, [
    { reason: RejectReason.UnterminatedQuote, line: 3, detail: 'csv line 3: field 12 (labels_raw) opens a quote that the input never closes' },
  ]);
  t.same(
    got.rows.map((r) => r.line),
    [2],
  );
});

t.test('a quote that never closes costs its own line only, however long the rest of the file', async (t) => {
  // A stray quote opens field 8 (container) on line 3 of an unquoted file: it would
  // swallow every later line; maxFieldBytes stops it, and line 4 on parse.
  const unquoted = (over: Parameters<typeof rowFields>[0]): string => {
    const f = rowFields({ ...over, labels_raw: 'none' });
    return HEADER.split(',')
      .map((c) => f[c as keyof typeof f])
      .join(',');
  };
  const lines = [unquoted({}), unquoted({ container: '"oops' })];
  for (let i = 0; i < 200; i++) lines.push(unquoted({ value: String(i) }));
  const got = parseText(csvOf(...lines));
  t.same(got.rejects, [
    {
      reason: RejectReason.FieldTooLong,
      line: 3,
      detail: 'csv line 3: field 8 (container) is longer than maxFieldBytes (4096); skipped to the next line',
    },
  ]);
  t.equal(got.rows.length, 201, 'every other line is a row');
  t.same(got.rows.slice(0, 3).map((r) => [r.line, r.value]), [
    [2, '66.781'],
    [4, '0'],
    [5, '1'],
  ]);
});

t.test('a quoted field may span lines; rows after it keep their physical line numbers', async (t) => {
  const got = parseText(csvOf(realRow({ labels_raw: 'a\nb\r\nc' }), realRow({ value: '7' })));
  t.same(got.rejects, []);
  t.same(
    got.rows.map((r) => [r.line, r.labels]),
    [
      [2, 'a\nb\r\nc'],
      [5, labelsFor(rowFields())],
    ],
  );
});

t.test('odd quoting is read as csv-parse reads it (relax_quotes)', async (t) => {
  const text = csvOf(
    realRow().replace('"nvidia0"', '"nvi"dia0"'), // a quote inside a quoted field: it closes early
    realRow().replace('"lab1-dgx1-hgpu-001"', 'lab1"dgx1'), // a quote inside an unquoted field
    realRow().replace('"66.781"', '"66.781"x'), // bytes after a closing quote
  );
  const got = parseText(text);
  assertSameResult(t, got, referenceParse(bytes(text)), 'same as csv-parse');
  t.same(
    got.rows.map((r) => [r.line, r.gpu.device, r.gpu.hostname]),
    [
      [2, '"nvi"dia0"', 'lab1-dgx1-hgpu-001'],
      [3, 'nvidia0', 'lab1"dgx1'],
    ],
  );
  t.same(got.rejects, [{ reason: RejectReason.BadValue, line: 4, detail: 'csv line 4: value "\\"66.781\\"x" is not a number' }]);
});

t.test('blank lines are skipped but counted', async (t) => {
  const got = parseText(`\n${HEADER}\n\n${realRow()}\r\n\r\n\n${realRow({ value: '1' })}\n\n`);
  t.same(got.rejects, []);
  t.same(
    got.rows.map((r) => r.line),
    [4, 7],
  );
});

t.test('reads CRLF, a BOM, reordered and extra columns, and an unquoted file', async (t) => {
  const base = csvOf(realRow(), realRow({ uuid: UUID_B, value: '-0.5e1' }));
  const want = parseText(base);
  t.equal(want.rows.length, 2);
  const layouts = {
    crlf: { eol: '\r\n' },
    bom: { bom: true },
    reordered: { order: [10, 4, 11, 1, 0, 2, 3, 5, 6, 7, 8, 9] },
    extra: { order: ['zone', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 'rack'], extraValue: () => 'a,"b"' },
    unquoted: { quote: 'none', order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
  } as const;
  for (const [name, layout] of Object.entries(layouts)) {
    const got = parseText(rewriteCsv(base, layout));
    t.same(got.rejects, [], `${name}: no rejects`);
    const expectLabels = name === 'unquoted' ? ['', ''] : want.rows.map((r) => r.labels);
    t.same(
      got.rows.map((r) => [r.line, r.tsMs, r.value, r.gpu, r.metric, r.labels]),
      want.rows.map((r, i) => [r.line, r.tsMs, r.value, r.gpu, r.metric, expectLabels[i]]),
      `${name}: same rows`,
    );
  }
  t.equal(parseText(rewriteCsv(base, { quote: 'none', order: [0, 1, 2, 3, 4, 5, 6, 10] })).rows[0]!.gpu.pod, '', 'absent optional columns read as ""');
});

t.test('a header without the required columns throws CsvHeaderError naming them and the source', async (t) => {
  const parser = new DcgmCsvParser({ source: '/data/x.csv' }, () => {});
  const header = 'timestamp,metric_name,gpu_id,device,modelName,Hostname,labels_raw\n';
  t.throws(() => parser.push(bytes(header + realRow())), {
    name: 'CsvHeaderError',
    message:
      '/data/x.csv: CSV header is missing required columns uuid, value (header: "timestamp","metric_name","gpu_id","device","modelName","Hostname","labels_raw")',
    source: '/data/x.csv',
    missing: ['uuid', 'value'],
  });
  t.throws(() => parser.push(bytes(realRow())), CsvHeaderError, 'the parser stays failed');
  t.throws(() => parser.end(), CsvHeaderError);
});

t.test('the header error comes from the push that completes the header', async (t) => {
  const parser = new DcgmCsvParser({}, () => {});
  parser.push(bytes('timestamp,metric_na'));
  parser.push(bytes('me,value'));
  t.throws(() => parser.push(bytes('\n')), { name: 'CsvHeaderError', missing: ['uuid', 'gpu_id', 'device', 'modelName', 'Hostname'] });
  const atEnd = new DcgmCsvParser({}, () => {});
  atEnd.push(bytes('timestamp,value'));
  t.throws(() => atEnd.end(), { name: 'CsvHeaderError', missing: ['metric_name', 'uuid', 'gpu_id', 'device', 'modelName', 'Hostname'] }, 'a header without a line end, at end()');
});

t.test('other header faults are CsvHeaderErrors too', async (t) => {
  const cases: Array<[string, string, DcgmCsvParserOptions, RegExp]> = [
    ['an empty input', '', {}, /^csv: no CSV header row: the input is empty$/],
    ['only blank lines', '\n\r\n\n', {}, /no CSV header row/],
    ['a column named twice', `${HEADER},value\n`, {}, /^csv: CSV header names column "value" twice \(columns 11 and 13\)$/],
    ['a header field over the limit', `${'h'.repeat(40)},${HEADER}\n`, { maxFieldBytes: 32 }, /^csv: CSV header \(line 1\) field 1 is longer than maxFieldBytes \(32\)$/],
    ['an unclosed quote in the header', 'timestamp,"metric_name,uuid\n1,2,3\n', {}, /^csv: CSV header \(line 1\) field 2 opens a quote that the input never closes$/],
    ['too many header columns', `${'a,'.repeat(5000)}${HEADER}\n`, {}, /has more than 4096 columns/],
  ];
  for (const [name, text, options, message] of cases) {
    const got = parseText(text, options);
    t.match(got.error, message, name);
    t.equal(referenceParse(bytes(text), options).error, got.error, `${name}: the reference agrees`);
  }
});

t.test('a header may be quoted and have any column order', async (t) => {
  const header = '"value","uuid","Hostname","modelName","device","gpu_id","metric_name","timestamp"';
  const got = parseText(`${header}\n"1","${UUID_A}","h","m","nvidia0","0","DCGM_FI_DEV_GPU_UTIL","2025-07-18T20:42:34Z"\n`);
  t.same(got.rejects, []);
  t.same(got.rows[0]!.gpu, { uuid: UUID_A, gpuId: '0', device: 'nvidia0', modelName: 'm', hostname: 'h', container: '', pod: '', namespace: '' });
  t.equal(got.rows[0]!.labels, '');
});

t.test('the same rows whatever byte offsets the input is split at', async (t) => {
  const text = `\uFEFF${csvOf(
    realRow(),
    realRow({ labels_raw: 'multi\nline' }),
    realRow({ value: 'n/a' }),
    `${realRow()},"x"`,
    minimalRow({ timestamp: '2025-07-18T20:42:35.25+00:00', value: '1e3' }),
  ).replace(/\n/g, '\r\n')}"2025`;
  const input = bytes(text);
  const want = referenceParse(input);
  t.equal(want.rows.length, 3);
  t.equal(want.rejects.length, 3);
  let checked = 0;
  for (let cut = 0; cut <= input.length; cut++) {
    const got = parseWithParser(input, {}, [cut]);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      assertSameResult(t, got, want, `split at ${cut}`);
      break;
    }
    checked++;
  }
  t.equal(checked, input.length + 1, `all ${input.length + 1} two-piece splits agree`);
  assertSameResult(t, parseWithParser(input, {}, Array.from({ length: input.length - 1 }, (_, i) => i + 1)), want, 'one byte at a time');
  assertSameResult(t, parseWithParser(input, { fastPath: false }, [17, 600, 601, 1200]), want, 'fast path off');
});

t.test('the same rows whatever random offsets a generated export is split at', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const input = bytes(smallCsv({ hosts: 2, gpusPerHost: 4, scrapes: 3, seed }));
  const want = referenceParse(input);
  t.equal(want.rows.length, 240);
  for (let round = 0; round < 30; round++) {
    const n = prng.int(1, 60);
    const cuts = Array.from({ length: n }, () => prng.int(0, input.length)).sort((a, b) => a - b);
    assertSameResult(t, parseWithParser(input, { batchRows: prng.int(1, 300) }, cuts), want, `seed ${seed} round ${round}: ${n} cuts`);
  }
});

t.test('rows arrive in batches of batchRows, the last one partial, and the batch is reused', async (t) => {
  const lines = Array.from({ length: 7 }, (_, i) => realRow({ value: String(i) }));
  const batches: number[][] = [];
  let batchObject: RowBatch | undefined;
  const parser = new DcgmCsvParser({ batchRows: 3 }, (batch) => {
    batchObject ??= batch;
    t.equal(batch, batchObject, 'the same RowBatch each time');
    batches.push(Array.from(batch.value.subarray(0, batch.length)));
  });
  parser.push(bytes(csvOf(...lines)));
  t.same(batches, [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  parser.end();
  t.same(batches[2], [6], 'end() flushes the partial batch');
  t.equal(batchObject!.length, 0, 'and resets it');
  parser.end();
  t.equal(batches.length, 3, 'a second end() does nothing');
  t.throws(() => parser.push(bytes('x')), { message: 'DcgmCsvParser.push called after end()' });
});

t.test('options are validated', async (t) => {
  const make = (o: object) => () => new DcgmCsvParser(o as DcgmCsvParserOptions, () => {});
  t.throws(make({ maxFieldBytes: 0 }), { name: 'RangeError', message: 'parser maxFieldBytes must be an integer from 1 to 67108864, got 0' });
  t.throws(make({ maxFieldBytes: 1.5 }), RangeError);
  t.throws(make({ batchRows: 0 }), { name: 'RangeError', message: 'parser batchRows must be an integer from 1 to 16777216, got 0' });
  t.throws(make({ fastPath: 'yes' }), { name: 'TypeError', message: 'parser fastPath must be a boolean, got string' });
  t.throws(make({ source: 3 }), { name: 'TypeError', message: 'parser source must be a string, got number' });
  t.doesNotThrow(make({}));
});

t.test('a line too long to be a record is skipped across chunks without buffering it', async (t) => {
  const text = `${csvOf(realRow())}${'x'.repeat(4_000_000)}\n${realRow({ value: '7' })}\n`;
  const input = bytes(text);
  const result: PlainResult = { rows: [], rejects: [] };
  const parser = new DcgmCsvParser(
    {},
    (b) => {
      for (let i = 0; i < b.length; i++) result.rows.push({ line: b.line[i]!, value: String(b.value[i]) } as never);
    },
    (reason, line, detail) => result.rejects.push({ reason, line, detail }),
  );
  let largest = 0;
  for (let at = 0; at < input.length; at += 65536) {
    parser.push(input.subarray(at, at + 65536));
    largest = Math.max(largest, (parser as unknown as { b: Buffer }).b.length);
  }
  parser.end();
  t.same(result.rejects, [
    { reason: RejectReason.FieldTooLong, line: 3, detail: 'csv line 3: field 1 (timestamp) is longer than maxFieldBytes (4096); skipped to the next line' },
  ]);
  t.same(
    result.rows.map((r) => [r.line, r.value]),
    [
      [2, '66.781'],
      [4, '7'],
    ],
  );
  t.ok(largest <= 512 * 1024, `the working buffer stayed at ${largest} bytes`);
});
