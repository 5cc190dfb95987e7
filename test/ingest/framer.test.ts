/**
 * Framer: record boundaries by csv-parse's rules, limits, and resuming.
 * (The differential test checks it against csv-parse on random damage; these
 * are the rules one by one.)
 */
import t from 'tap';
import { Frame, Framer } from '../../src/ingest/internal.js';

const enc = new TextEncoder();

/** Frames `text` from 0 in one go; returns [outcome, end or pos, fields]. */
function frame(text: string, maxFieldBytes = 100, maxFields = 10, eof = true): [Frame, number, number] {
  const b = enc.encode(text);
  const f = new Framer(maxFieldBytes, maxFields);
  f.begin(0);
  const r = f.run(b, b.length, eof);
  return [r, r === Frame.End ? f.end : f.pos, f.field + 1];
}

t.test('a record ends at LF or CRLF outside quotes', async (t) => {
  t.same(frame('a,b\nc'), [Frame.End, 4, 2]);
  t.same(frame('a,b\r\nc'), [Frame.End, 5, 2]);
  t.same(frame('a,"b\nc",d\ne'), [Frame.End, 10, 3], 'LF inside quotes is data');
  t.same(frame('a\rb,c\n'), [Frame.End, 6, 2], 'a lone CR is data');
  t.same(frame('a,b'), [Frame.End, 3, 2], 'the end of input ends the last record');
});

t.test('quotes follow csv-parse with relax_quotes', async (t) => {
  t.same(frame('"a""b",c\n'), [Frame.End, 9, 2], '"" is an escaped quote');
  t.same(frame('a"b,c\n'), [Frame.End, 6, 2], 'a quote not at a field start is data');
  t.same(frame('a"b,"c\n'), [Frame.EofInQuote, 7, 2], 'one at a field start opens a quoted field');
  t.same(frame('"ab"c,"d\n",e\n'), [Frame.End, 13, 3], 'a quote closes before other bytes, and later quotes open fields');
  t.same(frame('"a"\0b,c\n'), [Frame.End, 8, 2], 'a NUL after a quote closes it (csv-parse tests !nextChr)');
  t.same(frame('"a"\rb,c\n'), [Frame.End, 8, 2]);
});

t.test('limits stop a record where they are crossed', async (t) => {
  t.same(frame('abcdef,g\n', 5), [Frame.FieldTooLong, 6, 1], 'an unquoted field');
  t.same(frame('x,"abc\nde\nf', 5), [Frame.FieldTooLong, 9, 2], 'an open quote runs into the limit');
  t.same(frame('"""""""""",x\n', 4), [Frame.End, 13, 2], '4 escaped quotes are 4 bytes');
  t.same(frame('"""""""""""",x\n', 4), [Frame.FieldTooLong, 11, 1], '5 are too many');
  t.same(frame('"ab"c,x\n', 4), [Frame.FieldTooLong, 5, 1], 'a relaxed close keeps both quotes: 5 bytes');
  t.same(frame('a,b,c,d\n', 100, 3), [Frame.TooManyFields, 5, 3], 'stops at the separator of field 4 of 3');
  t.same(frame('a,"b\nc'), [Frame.EofInQuote, 6, 2]);
});

t.test('run resumes where the bytes ran out', async (t) => {
  const text = enc.encode('a,"b\r\n""c",d\r\ne');
  for (let cut = 0; cut <= text.length; cut++) {
    const f = new Framer(100, 10);
    f.begin(0);
    const first = f.run(text, cut, false);
    const second = first === Frame.NeedMore ? f.run(text, text.length, false) : first;
    if (second !== Frame.End || f.end !== 14 || f.field !== 2) {
      t.fail(`cut at ${cut}: ${first} then ${second}, end ${f.end}, field ${f.field}`);
      return;
    }
  }
  t.pass('every cut frames the same record');
});
