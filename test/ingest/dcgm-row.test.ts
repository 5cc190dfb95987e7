/** The row model: RowBatch and RejectReason. */
import t from 'tap';
import { emptyRejectCounts, REJECT_REASONS, RejectReason, RowBatch } from '../../src/ingest/index.js';

t.test('RowBatch allocates its columns once and reset only empties it', async (t) => {
  const batch = new RowBatch(4);
  t.equal(batch.capacity, 4);
  t.equal(batch.length, 0);
  for (const column of [batch.line, batch.tsMs, batch.value, batch.gpu, batch.metric, batch.labels]) t.equal(column.length, 4);
  t.ok(batch.tsMs instanceof Float64Array && batch.value instanceof Float64Array);
  t.ok(batch.line instanceof Int32Array && batch.gpu instanceof Int32Array && batch.labels instanceof Int32Array);
  const tsMs = batch.tsMs;
  batch.tsMs[0] = 1;
  batch.length = 1;
  batch.reset();
  t.equal(batch.length, 0);
  t.equal(batch.tsMs, tsMs, 'the same arrays');
});

t.test('RowBatch rejects a capacity that is not a positive integer', async (t) => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, 0x1000001]) {
    t.throws(() => new RowBatch(bad), { name: 'RangeError', message: `RowBatch capacity must be an integer from 1 to 16777216, got ${bad}` });
  }
});

t.test('RejectReason values are the stable snake_case names', async (t) => {
  t.same(RejectReason, {
    ColumnCount: 'column_count',
    BadValue: 'bad_value',
    NonFinite: 'non_finite',
    EmptyUuid: 'empty_uuid',
    EmptyMetric: 'empty_metric',
    BadTimestamp: 'bad_timestamp',
    FieldTooLong: 'field_too_long',
    UnterminatedQuote: 'unterminated_quote',
  });
  t.same(REJECT_REASONS, Object.values(RejectReason));
  t.same(Object.keys(emptyRejectCounts()), REJECT_REASONS);
  t.ok(Object.values(emptyRejectCounts()).every((n) => n === 0));
});
