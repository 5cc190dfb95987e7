/**
 * Every setting, its environment variable (each is also a `--kebab-case`
 * flag), its default and why. `load()` is the only reader of the
 * environment; modules get the typed, frozen result.
 */

export interface Setting {
  /** Environment variable; the flag is `--` + its lower-kebab-case form. */
  readonly env: string;
  readonly default: string;
  readonly help: string;
}

export const SETTINGS = Object.freeze({
  instanceId: { env: 'INSTANCE_ID', default: '', help: 'name carried by every log line (default: the host name)' },
  logLevel: { env: 'LOG_LEVEL', default: 'info', help: 'fatal, error, warn, info, debug or trace' },
  csvFile: { env: 'CSV_FILE', default: '', help: 'DCGM exporter CSV to stream (default: the embedded sample, data/sample.csv)' },
  streamIntervalMs: { env: 'STREAM_INTERVAL', default: '0', help: 'ms each streamer waits between rows; 0 = as fast as the pipeline takes them' },
  queueBufferSize: {
    env: 'QUEUE_BUFFER_SIZE',
    // 256 KiB per lane: room for 9,000 samples in flight per streamer-collector pair.
    default: '262144',
    help: 'ring capacity per (streamer, collector) lane, bytes; a power of two from 4096',
  },
  storageType: { env: 'STORAGE_TYPE', default: 'inmemory', help: 'where samples are stored: inmemory' },
  streamers: { env: 'STREAMERS', default: '1', help: 'streamer threads, 1 to 10' },
  collectors: { env: 'COLLECTORS', default: '1', help: 'collector threads, 1 to 10' },
  loop: { env: 'LOOP', default: 'true', help: 'stream the file in a loop (true) or once (false; also --once)' },
  timestampMode: {
    env: 'TIMESTAMP_MODE',
    default: 'processed',
    help: 'processed: a row is stamped when it is processed; source: keep the CSV timestamps (backfills)',
  },
  retention: { env: 'RETENTION', default: '1h', help: 'how long samples are kept: a number with ms, s, m, h or d' },
  maxSamplesPerSeries: {
    env: 'MAX_SAMPLES_PER_SERIES',
    // 1 h at 10 samples/s; with retention this bounds memory for any input rate.
    default: '36000',
    help: 'samples kept per (GPU, metric) series, at least 1024',
  },
  apiPort: { env: 'API_PORT', default: '8080', help: 'HTTP port of the API; 0 picks a free one (logged)' },
  // All IPv4 interfaces: the API is meant to be scraped and queried from other hosts.
  apiHost: { env: 'API_HOST', default: '0.0.0.0', help: 'address the API listens on: 0.0.0.0 (all IPv4), 127.0.0.1, :: (all IPv6)' },
  adminToken: {
    env: 'ADMIN_TOKEN',
    default: '',
    help: 'bearer token for the /api/v1/admin routes, at least 16 visible ASCII characters (default: unset, and admin routes answer loopback callers only)',
  },
} satisfies Record<string, Setting>);

export type SettingName = keyof typeof SETTINGS;
