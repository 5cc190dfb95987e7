/**
 * Finds where a CSV record ends, byte by byte, by the rules csv-parse 7 applies
 * with `relax_quotes: true` and record delimiters `\n` and `\r\n`, and enforces
 * the parser's limits while it goes. It is the slow path: the fast parser
 * calls it only for records it cannot split itself (quotes spanning lines,
 * odd quoting, limits exceeded), then hands the framed bytes to csv-parse.
 *
 * csv-parse's quoting rules, as implemented in csv-parse/lib/api/index.js:
 * - a `"` opens a quoted field only as the field's first byte; elsewhere it
 *   is an ordinary byte;
 * - inside quotes, `""` is one `"`, and a lone `"` closes the field. When the
 *   byte after it is `,`, `\n`, `\r\n`, a NUL byte (csv-parse tests `!nextChr`)
 *   or the end of input the quotes are dropped; before anything else they are
 *   kept: `"ab"c` reads as the 5 bytes `"ab"c` (2 more than its content);
 * - `\r` not followed by `\n` is an ordinary byte.
 * Field sizes count decoded bytes, as csv-parse returns them.
 *
 * Resumable: {@link Framer.run} returns NeedMore at the end of the available
 * bytes and continues from there on the next call (after {@link Framer.shift}
 * if the buffer was compacted).
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

/** Outcome of {@link Framer.run}. */
export const Frame = {
  /** The available bytes end inside the record. */
  NeedMore: 0,
  /** The record ends at `framer.end` (after its delimiter); `framer.field + 1` fields. */
  End: 1,
  /** A field separator beyond the allowed field count was found at `framer.pos`. */
  TooManyFields: 2,
  /** Field `framer.field` grew past maxFieldBytes at `framer.pos`. */
  FieldTooLong: 3,
  /** The input ended inside the quoted field `framer.field`. */
  EofInQuote: 4,
} as const;
export type Frame = (typeof Frame)[keyof typeof Frame];

/** A resumable record framer. */
export class Framer {
  /** Next byte to examine; where it stopped for TooManyFields/FieldTooLong. */
  pos = 0;
  /** 0-based index of the current field. */
  field = 0;
  /** For End: offset just after the record delimiter (or the end of input). */
  end = 0;
  private fieldBytes = 0;
  private quoting = false;

  /**
   * @param maxFieldBytes a field longer than this (decoded) stops the record
   * @param maxFields a record reaching more fields than this stops (Infinity: no limit)
   */
  constructor(
    private readonly maxFieldBytes: number,
    private readonly maxFields: number,
  ) {}

  /** Starts a record at offset `at`. */
  begin(at: number): void {
    this.pos = at;
    this.field = 0;
    this.fieldBytes = 0;
    this.quoting = false;
  }

  /** Moves the offsets after the caller dropped `delta` bytes from the front of its buffer. */
  shift(delta: number): void {
    this.pos -= delta;
  }

  /** Frames from `pos` through `b[0, limit)`; `eof`: no bytes follow `limit`. */
  run(b: Uint8Array, limit: number, eof: boolean): Frame {
    const cap = this.maxFieldBytes;
    let p = this.pos;
    let len = this.fieldBytes;
    let quoting = this.quoting;
    let result: Frame;
    for (;;) {
      if (p >= limit) {
        if (!eof) {
          result = Frame.NeedMore;
        } else if (quoting) {
          result = Frame.EofInQuote;
        } else {
          this.end = p;
          result = Frame.End;
        }
        break;
      }
      const c = b[p]!;
      if (quoting) {
        if (c === QUOTE) {
          if (p + 1 >= limit) {
            if (!eof) {
              result = Frame.NeedMore;
              break;
            }
            quoting = false; // a quote at the end of input closes
            p++;
            continue;
          }
          const n = b[p + 1]!;
          if (n === QUOTE) {
            p += 2;
            if (++len > cap) {
              result = Frame.FieldTooLong;
              break;
            }
            continue;
          }
          if (n === COMMA || n === LF || n === NUL) {
            quoting = false;
            p++;
            continue;
          }
          if (n === CR) {
            if (p + 2 >= limit && !eof) {
              result = Frame.NeedMore;
              break;
            }
            if (p + 2 < limit && b[p + 2] === LF) {
              quoting = false;
              p++;
              continue;
            }
          }
          // Closed before other bytes: csv-parse keeps both quotes.
          quoting = false;
          p++;
          len += 2;
          if (len > cap) {
            result = Frame.FieldTooLong;
            break;
          }
          continue;
        }
        p++;
        if (++len > cap) {
          result = Frame.FieldTooLong;
          break;
        }
        continue;
      }
      if (c === COMMA) {
        if (this.field + 1 >= this.maxFields) {
          result = Frame.TooManyFields;
          break;
        }
        this.field++;
        len = 0;
        p++;
        continue;
      }
      if (c === LF) {
        this.end = p + 1;
        result = Frame.End;
        break;
      }
      if (c === CR) {
        if (p + 1 >= limit && !eof) {
          result = Frame.NeedMore;
          break;
        }
        if (p + 1 < limit && b[p + 1] === LF) {
          this.end = p + 2;
          result = Frame.End;
          break;
        }
      } else if (c === QUOTE && len === 0) {
        quoting = true;
        p++;
        continue;
      }
      p++;
      if (++len > cap) {
        result = Frame.FieldTooLong;
        break;
      }
    }
    this.pos = p;
    this.fieldBytes = len;
    this.quoting = quoting;
    return result;
  }
}
