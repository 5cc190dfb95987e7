/**
 * Loads the configuration once: defaults, then environment variables, then
 * command-line flags; validates everything and freezes the result. Errors
 * name the setting and the bad value.
 */
import { isIP } from 'node:net';
import os from 'node:os';
import { SETTINGS, type SettingName } from './defaults.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type TimestampMode = 'processed' | 'source';

export interface Config {
  readonly instanceId: string;
  readonly logLevel: LogLevel;
  /** Absolute or cwd-relative path; '' = the embedded sample. */
  readonly csvFile: string;
  readonly streamIntervalMs: number;
  readonly queueBufferSize: number;
  readonly storageType: 'inmemory';
  readonly streamers: number;
  readonly collectors: number;
  readonly loop: boolean;
  readonly timestampMode: TimestampMode;
  readonly retentionMs: number;
  readonly maxSamplesPerSeries: number;
  readonly apiPort: number;
  readonly apiHost: string;
  /** '' = unset: admin routes answer loopback callers only. */
  readonly adminToken: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** `--queue-buffer-size` for QUEUE_BUFFER_SIZE. */
export function flagFor(name: SettingName): string {
  return `--${SETTINGS[name].env.toLowerCase().replaceAll('_', '-')}`;
}

export function helpText(): string {
  const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const s = SETTINGS[name];
    return `  ${`${s.env} / ${flagFor(name)}`.padEnd(44)} ${s.help}${s.default ? ` (default ${s.default})` : ''}`;
  });
  return [
    'usage: gpu-telemetry [run] [--flag value ...] [--once] [--help]',
    '',
    'Streams DCGM telemetry from CSV through native-free-ring into per-GPU time series.',
    'Every setting is an environment variable or the equal flag (the flag wins):',
    '',
    ...rows,
    '',
  ].join('\n');
}

/** Parses `--flag value`, `--flag=value`, `--once` and `--help` into setting values. */
export function parseArgs(argv: readonly string[]): { values: Partial<Record<SettingName, string>>; help: boolean } {
  const byFlag = new Map((Object.keys(SETTINGS) as SettingName[]).map((name) => [flagFor(name), name]));
  const values: Partial<Record<SettingName, string>> = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === 'run') continue;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--once') {
      values.loop = 'false';
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = byFlag.get(flag);
    if (name === undefined) throw new ConfigError(`unknown argument "${arg}" (see --help)`);
    const next = argv[i + 1];
    const value = eq > 0 ? arg.slice(eq + 1) : next !== undefined && !next.startsWith('--') ? argv[++i] : undefined;
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    values[name] = value;
  }
  return { values, help };
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `1h`, `2d`, `500ms` → milliseconds. */
export function parseDurationMs(setting: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new ConfigError(`${setting} must be a duration such as 90s, 15m, 1h or 7d, got "${text}"`);
  const ms = Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  if (!(ms >= 1000)) throw new ConfigError(`${setting} must be at least 1s, got "${text}"`);
  return ms;
}

function int(setting: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || n < min || n > max) {
    throw new ConfigError(`${setting} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function oneOf<T extends string>(setting: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new ConfigError(`${setting} must be one of ${allowed.join(', ')}, got "${text}"`);
  }
  return text as T;
}

/** An IPv4 or IPv6 address to listen on (names are not resolved). */
function host(setting: string, text: string): string {
  if (isIP(text) === 0) throw new ConfigError(`${setting} must be an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::, got "${text}"`);
  return text;
}

/** 16 characters at least (a guessable token is no lock), and only ones a header carries as they are. */
function token(setting: string, text: string): string {
  if (text === '') return text;
  if (!/^[\x21-\x7e]{16,}$/.test(text)) {
    // The value is a secret: say what is wrong, never echo it.
    throw new ConfigError(`${setting} must be at least 16 visible ASCII characters without spaces; the value set (${text.length} characters, not shown) is not`);
  }
  return text;
}

/** Merges defaults, `env` and `argv` flags; throws ConfigError naming the first bad setting. */
export function load(env: Readonly<Record<string, string | undefined>> = {}, argv: readonly string[] = []): Config {
  const { values: flags } = parseArgs(argv);
  const raw = (name: SettingName): string => flags[name] ?? env[SETTINGS[name].env] ?? SETTINGS[name].default;
  const name = (n: SettingName): string => SETTINGS[n].env;
  const queueBufferSize = int(name('queueBufferSize'), raw('queueBufferSize'), 4096, 2 ** 26);
  if ((queueBufferSize & (queueBufferSize - 1)) !== 0) {
    throw new ConfigError(`QUEUE_BUFFER_SIZE must be a power of two, got "${raw('queueBufferSize')}"`);
  }
  const loopText = raw('loop').toLowerCase();
  if (loopText !== 'true' && loopText !== 'false') throw new ConfigError(`LOOP must be true or false, got "${raw('loop')}"`);
  return Object.freeze({
    instanceId: raw('instanceId') || os.hostname(),
    logLevel: oneOf(name('logLevel'), raw('logLevel'), LOG_LEVELS),
    csvFile: raw('csvFile'),
    streamIntervalMs: int(name('streamIntervalMs'), raw('streamIntervalMs'), 0, 3_600_000),
    queueBufferSize,
    storageType: oneOf(name('storageType'), raw('storageType'), ['inmemory'] as const),
    streamers: int(name('streamers'), raw('streamers'), 1, 10),
    collectors: int(name('collectors'), raw('collectors'), 1, 10),
    loop: loopText === 'true',
    timestampMode: oneOf(name('timestampMode'), raw('timestampMode'), ['processed', 'source'] as const),
    retentionMs: parseDurationMs(name('retention'), raw('retention')),
    maxSamplesPerSeries: int(name('maxSamplesPerSeries'), raw('maxSamplesPerSeries'), 1024, 100_000_000),
    apiPort: int(name('apiPort'), raw('apiPort'), 0, 65535),
    apiHost: host(name('apiHost'), raw('apiHost')),
    adminToken: token(name('adminToken'), raw('adminToken')),
  });
}
