#!/usr/bin/env node
/**
 * gpu-telemetry: `gpu-telemetry [run] [flags]` runs the whole pipeline in
 * one process. The only reader of process.env and the only caller of
 * process.exit.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { engineDeps } from './api/deps.js';
import { ApiListenError, startApi, type ApiServer } from './api/server.js';
import { nativeUws, UwsFallbackError } from './api/uws.js';
import { ConfigError, helpText, load, parseArgs } from './config/load.js';
import { Engine } from './engine/engine.js';
import { CsvFileError, CsvHeaderError } from './ingest/errors.js';
import { QueryPool } from './query/query-pool.js';

/** The sample shipped in data/, streamed when CSV_FILE is not set. */
export const SAMPLE_CSV = fileURLToPath(new URL('../../data/sample.csv', import.meta.url));
/** SIGTERM/SIGINT: drain and exit within this, or exit 1. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let config;
  try {
    if (parseArgs(argv).help) {
      process.stdout.write(helpText());
      return 0;
    }
    config = load(process.env, argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gpu-telemetry: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  try {
    nativeUws(); // before any thread starts: the API cannot run on the fallback
  } catch (err) {
    if (err instanceof UwsFallbackError) {
      process.stderr.write(`gpu-telemetry: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { instance: config.instanceId } });
  const engine = new Engine({ ...config, csvFile: config.csvFile || SAMPLE_CSV }, log);
  try {
    await engine.start();
  } catch (err) {
    if (err instanceof CsvFileError || err instanceof CsvHeaderError) {
      log.fatal({ err: err.message }, 'cannot start');
      return 2;
    }
    throw err;
  }
  const queries = new QueryPool();
  let api: ApiServer;
  try {
    api = await startApi(
      engineDeps(engine, queries, log),
      { host: config.apiHost, port: config.apiPort, adminToken: config.adminToken || undefined },
    );
  } catch (err) {
    if (err instanceof ApiListenError) {
      log.fatal({ err: err.message }, 'cannot start');
      await engine.stop();
      await queries.close();
      return 2;
    }
    throw err;
  }
  const host = config.apiHost.includes(':') ? `[${config.apiHost}]` : config.apiHost;
  log.info({ url: `http://${host}:${api.port}/`, docs: `http://${host}:${api.port}/docs`, admin: config.adminToken ? 'bearer token' : 'loopback only' }, 'API listening');
  const report = setInterval(() => log.info({ counters: engine.counters.snapshot(), ring: engine.ring.stats().depthMessages }, 'progress'), 10_000);
  report.unref();
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    if (!config.loop) void engine.finished().then(() => log.info({ counters: engine.counters.snapshot() }, 'pass complete; serving until stopped'));
  });
  log.info({ signal }, 'draining');
  api.setReady(false);
  const timer = setTimeout(() => {
    log.error({}, `shutdown took over ${SHUTDOWN_TIMEOUT_MS} ms`);
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  await engine.stop();
  await api.close();
  await queries.close();
  clearTimeout(timer);
  log.info({ counters: engine.counters.snapshot() }, 'stopped');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gpu-telemetry: FATAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
