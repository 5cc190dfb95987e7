/**
 * Append-only interning dictionaries: each distinct field value is decoded to a
 * string once and then named by its index.
 *
 * A {@link StringDictionary} is keyed by field bytes: open addressing over a
 * hash of the bytes, which are copied into an arena for the equality check,
 * so a value seen before costs one hash and one compare and never a string.
 * The key of a value is its field as written inside the quotes, `""` escapes
 * included (for the fields the fast path accepts, quoted with `""` pairs or
 * unquoted without any `"`, those bytes decode to exactly one string).
 * Strings from the csv-parse fallback are turned back into that form (UTF-8,
 * `"` doubled), so both paths meet at the same index. Invalid UTF-8 decodes
 * lossily: such a key is an alias of the value's re-encoded form.
 *
 * Single-threaded. Memory grows with the number of distinct values.
 */
import { decodeField } from './field-parse.js';
import type { GpuIdentity } from './dcgm-row.js';

/** Initial slots of a hash table; doubles at half full (the real export's 2,470 labels: 8192 slots). */
const INITIAL_SLOTS = 256;
const INITIAL_ARENA_BYTES = 4 * 1024;
const LABELS_ARENA_BYTES = 256 * 1024;
/** Keys at least this long are compared and copied natively (memcmp, memcpy) instead of in a JS loop. */
const NATIVE_COMPARE_BYTES = 24;

/**
 * A 32-bit hash of `b[start, end)`, read 8 bytes at a time through `dv` (a
 * DataView over the same memory as `b`): two multiply-rotate lanes, then
 * MurmurHash3's finalizer. Not collision-resistant; the table compares bytes.
 */
export function hashBytes(dv: DataView, b: Uint8Array, start: number, end: number): number {
  let h1 = 0x9747b28c ^ (end - start);
  let h2 = 0x1b873593;
  let i = start;
  for (const last = end - 7; i < last; i += 8) {
    h1 = Math.imul(h1 ^ dv.getInt32(i, true), 0x9e3779b1);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ dv.getInt32(i + 4, true), 0x85ebca77);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  for (; i < end; i++) h1 = Math.imul(h1 ^ b[i]!, 0x01000193);
  let h = h1 ^ Math.imul(h2, 0xc2b2ae3d);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Interned strings of one column (metric names, labels_raw, hostnames, ...). */
export class StringDictionary {
  /** The values, by index. Append-only; read it, do not modify it. */
  readonly values: string[] = [];

  // slot -> key number + 1 (0 = empty); per key: hash, arena range, value index.
  private slots = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private keyHash = new Int32Array(INITIAL_SLOTS / 2);
  private keyStart = new Int32Array(INITIAL_SLOTS / 2);
  private keyLength = new Int32Array(INITIAL_SLOTS / 2);
  private keyValue = new Int32Array(INITIAL_SLOTS / 2);
  private keys = 0;
  private arena: Buffer;
  private arenaDv: DataView;
  private arenaUsed = 0;
  /** The key matched last, tried first when `repeats`. */
  private lastKey = -1;
  /** Hash of the last lookupBytes. */
  private missHash = 0;

  /**
   * @param repeats try the previous value before hashing: right for columns
   *   that repeat from row to row (metric, hostname), a waste for unique ones.
   * @param initialArenaBytes first size of the key bytes' arena (it doubles as needed)
   */
  constructor(
    private readonly repeats = true,
    initialArenaBytes = INITIAL_ARENA_BYTES,
  ) {
    this.arena = Buffer.allocUnsafe(initialArenaBytes);
    this.arenaDv = new DataView(this.arena.buffer, this.arena.byteOffset, this.arena.byteLength);
  }

  /**
   * Index of the value whose field bytes are `b[start, end)`, adding it when
   * new. `escaped`: the bytes hold `""` pairs that decode as `"`.
   */
  internBytes(dv: DataView, b: Uint8Array, start: number, end: number, escaped: boolean): number {
    const length = end - start;
    if (this.repeats) {
      const last = this.lastKey;
      if (last >= 0 && this.keyLength[last] === length && this.equalsKey(last, b, start, length)) {
        return this.keyValue[last]!;
      }
    }
    const hash = hashBytes(dv, b, start, end);
    const key = this.find(hash, b, start, length);
    if (key >= 0) {
      this.lastKey = key;
      return this.keyValue[key]!;
    }
    return this.insert(hash, b, start, end, decodeField(b, start, end, escaped));
  }

  /**
   * Index of the value whose field bytes are `b[start, end)`, or -1; never
   * adds. After a miss, {@link addLookedUp} may add those bytes.
   */
  lookupBytes(dv: DataView, b: Uint8Array, start: number, end: number): number {
    const hash = hashBytes(dv, b, start, end);
    this.missHash = hash;
    const key = this.find(hash, b, start, end - start);
    return key < 0 ? -1 : this.keyValue[key]!;
  }

  /**
   * Adds the bytes of the last {@link lookupBytes} miss, `b[start, end)`
   * (unchanged since), decoded by the caller as `value`; returns its index.
   */
  addLookedUp(b: Uint8Array, start: number, end: number, value: string): number {
    return this.insert(this.missHash, b, start, end, value);
  }

  /** Index of `s`, adding it when new. */
  internString(s: string): number {
    const field = s.includes('"') ? s.replaceAll('"', '""') : s;
    const length = Buffer.byteLength(field);
    const start = this.reserveArena(length);
    this.arena.write(field, start, 'utf8');
    const end = start + length;
    const hash = hashBytes(this.arenaDv, this.arena, start, end);
    const key = this.find(hash, this.arena, start, length);
    if (key >= 0) return this.keyValue[key]!;
    return this.insert(hash, this.arena, start, end, s);
  }

  /** Adds the key `b[start, end)` (it may lie in the arena's free tail) for `value`. */
  private insert(hash: number, b: Uint8Array, start: number, end: number, value: string): number {
    // A lossy decoding (invalid UTF-8) joins the value's re-encoded form.
    if (value.includes('\uFFFD') && b !== this.arena) {
      const id = this.internString(value);
      this.addKey(hash, b, start, end - start, id);
      return id;
    }
    const id = this.values.length;
    this.values.push(value);
    this.lastKey = this.addKey(hash, b, start, end - start, id);
    return id;
  }

  private find(hash: number, b: Uint8Array, start: number, length: number): number {
    const mask = this.mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return -1;
      const key = entry - 1;
      if (this.keyHash[key] === hash && this.keyLength[key] === length && this.equalsKey(key, b, start, length)) {
        return key;
      }
    }
  }

  private equalsKey(key: number, b: Uint8Array, start: number, length: number): boolean {
    const arena = this.arena;
    const at = this.keyStart[key]!;
    if (length >= NATIVE_COMPARE_BYTES) return arena.compare(b, start, start + length, at, at + length) === 0;
    for (let i = 0; i < length; i++) if (arena[at + i] !== b[start + i]) return false;
    return true;
  }

  /** Start of `length` free arena bytes (contents undefined until written). */
  private reserveArena(length: number): number {
    if (this.arenaUsed + length > this.arena.length) {
      const arena = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + length));
      this.arena.copy(arena, 0, 0, this.arenaUsed);
      this.arena = arena;
      this.arenaDv = new DataView(arena.buffer, arena.byteOffset, arena.byteLength);
    }
    return this.arenaUsed;
  }

  private addKey(hash: number, b: Uint8Array, start: number, length: number, id: number): number {
    if ((this.keys + 1) * 2 > this.slots.length) this.grow();
    let at: number;
    if (b === this.arena && start === this.arenaUsed) {
      at = start; // written in place by internString
    } else {
      at = this.reserveArena(length);
      if (length >= NATIVE_COMPARE_BYTES) Buffer.prototype.copy.call(b, this.arena, at, start, start + length);
      else for (let i = 0; i < length; i++) this.arena[at + i] = b[start + i]!;
    }
    this.arenaUsed = at + length;
    const key = this.keys++;
    this.keyHash[key] = hash;
    this.keyStart[key] = at;
    this.keyLength[key] = length;
    this.keyValue[key] = id;
    const mask = this.mask;
    let slot = hash & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = key + 1;
    return key;
  }

  /** Doubles the table (load factor stays at most 1/2). */
  private grow(): void {
    const size = this.slots.length * 2;
    const widen = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const out = new Int32Array(size / 2);
      out.set(a);
      return out;
    };
    this.keyHash = widen(this.keyHash);
    this.keyStart = widen(this.keyStart);
    this.keyLength = widen(this.keyLength);
    this.keyValue = widen(this.keyValue);
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let key = 0; key < this.keys; key++) {
      let slot = this.keyHash[key]! & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = key + 1;
    }
  }
}

/** Fields of a {@link GpuIdentity}, in the order of the index tuples. */
export const IDENTITY_FIELDS = [
  'uuid',
  'gpuId',
  'device',
  'modelName',
  'hostname',
  'container',
  'pod',
  'namespace',
] as const satisfies ReadonlyArray<keyof GpuIdentity>;
const ARITY = IDENTITY_FIELDS.length;

/**
 * GPU identities, interned by the tuple of their fields' indexes in one
 * {@link StringDictionary} per field.
 */
export class GpuDictionary {
  /** The identities, by index. Append-only. */
  readonly values: GpuIdentity[] = [];
  /** One dictionary per identity field, in {@link IDENTITY_FIELDS} order (uuid changes every row: no repeat check). */
  readonly fields: readonly StringDictionary[] = IDENTITY_FIELDS.map((name) => new StringDictionary(name !== 'uuid'));
  /** The tuple to look up: fill it, then call {@link intern}. */
  readonly tuple = new Int32Array(ARITY);

  private slots = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private tuples = new Int32Array((INITIAL_SLOTS / 2) * ARITY);
  private hashes = new Int32Array(INITIAL_SLOTS / 2);

  /** Index of the identity whose field indexes are in {@link tuple}, adding it when new. */
  intern(): number {
    const t = this.tuple;
    let h = 0x2f0b3c1d;
    for (let i = 0; i < ARITY; i++) h = Math.imul(h ^ t[i]!, 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    const mask = this.mask;
    let slot = h & mask;
    for (; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) break;
      if (this.hashes[entry - 1] === h && this.tupleEquals(entry - 1)) return entry - 1;
    }
    const id = this.values.length;
    if ((id + 1) * 2 > this.slots.length) {
      this.grow();
      return this.intern();
    }
    this.tuples.set(t, id * ARITY);
    this.hashes[id] = h;
    this.slots[slot] = id + 1;
    const f = this.fields;
    this.values.push(
      Object.freeze({
        uuid: f[0]!.values[t[0]!]!,
        gpuId: f[1]!.values[t[1]!]!,
        device: f[2]!.values[t[2]!]!,
        modelName: f[3]!.values[t[3]!]!,
        hostname: f[4]!.values[t[4]!]!,
        container: f[5]!.values[t[5]!]!,
        pod: f[6]!.values[t[6]!]!,
        namespace: f[7]!.values[t[7]!]!,
      }),
    );
    return id;
  }

  private tupleEquals(id: number): boolean {
    const t = this.tuple;
    const at = id * ARITY;
    for (let i = 0; i < ARITY; i++) if (this.tuples[at + i] !== t[i]) return false;
    return true;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const tuples = new Int32Array((size / 2) * ARITY);
    tuples.set(this.tuples);
    const hashes = new Int32Array(size / 2);
    hashes.set(this.hashes);
    this.tuples = tuples;
    this.hashes = hashes;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let id = 0; id < this.values.length; id++) {
      let slot = hashes[id]! & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = id + 1;
    }
  }
}

/** The dictionaries a parser interns into; share them to keep indexes stable across files. */
export interface ParserDictionaries {
  readonly gpus: GpuDictionary;
  readonly metrics: StringDictionary;
  readonly labels: StringDictionary;
}

/** Empty dictionaries for {@link ParserDictionaries}. */
export function createDictionaries(): ParserDictionaries {
  // labels_raw: ~350 bytes per GPU and metric; 256 KiB holds 750 before the arena grows.
  return { gpus: new GpuDictionary(), metrics: new StringDictionary(), labels: new StringDictionary(false, LABELS_ARENA_BYTES) };
}
