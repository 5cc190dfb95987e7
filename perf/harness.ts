/**
 * What every perf scenario shares: the measurement record, the machine it
 * ran on, progress bars on stderr, and running a script in a child process
 * whose stdout is JSON lines.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
}

export function machine(): Machine {
  return { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
}

/** One measurement: a scenario, a case within it, and its numbers (units in the field names). */
export interface Measurement {
  scenario: string;
  case: string;
  [field: string]: unknown;
}

export interface ScenarioOptions {
  quick: boolean;
  /** Runs per case (median, min and max are reported). */
  runs: number;
  /** Measured seconds per run, where a scenario has runs of a duration. */
  seconds: number;
  /** (streamers, collectors) mixes for ingest, e.g. ['1x1', '10x10']. */
  mixes: string[];
  /** The CSV to loop. */
  file: string;
  progress: Progress;
}

export interface Scenario {
  name: string;
  /** One line for --help. */
  about: string;
  run(options: ScenarioOptions): Promise<Measurement[]>;
}

/**
 * A progress bar per scenario on stderr: redrawn in place on a terminal,
 * one line per step otherwise (CI logs).
 */
export class Progress {
  private scenario = '';
  private total = 1;
  private done = 0;
  private readonly tty = process.stderr.isTTY === true;
  private startedMs = 0;

  start(scenario: string, total: number): void {
    this.startedMs = performance.now();
    this.scenario = scenario;
    this.total = Math.max(1, total);
    this.done = 0;
    this.draw('starting');
  }

  step(label: string): void {
    this.done = Math.min(this.total, this.done + 1);
    this.draw(label);
  }

  /** Shows what runs now without counting a step. */
  note(label: string): void {
    this.draw(label);
  }

  finish(): void {
    this.done = this.total;
    this.draw(`done in ${((performance.now() - this.startedMs) / 1000).toFixed(1)} s`);
    if (this.tty) process.stderr.write('\n');
  }

  private draw(label: string): void {
    const width = 24;
    const filled = Math.round((this.done / this.total) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${this.scenario.padEnd(8)} ${bar} ${String(this.done).padStart(3)}/${this.total} ${label}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  }
}

/** Runs `node script args`, calls `onLine` for each JSON object it prints, and rejects on a non-zero exit. */
export function runJsonLines(script: string | URL, args: string[], onLine: (value: Record<string, unknown>) => void): Promise<void> {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl).trim();
        out = out.slice(nl + 1);
        if (line.startsWith('{')) onLine(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      err = (err + text).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (out.trim().startsWith('{')) onLine(JSON.parse(out.trim()) as Record<string, unknown>);
      if (code === 0) resolve();
      else reject(new Error(`${path} ${args.join(' ')} exited with ${code}: ${err.trim()}`));
    });
  });
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median, min and max of a field over runs, rounded to `digits`. */
export function spread(xs: readonly number[], digits = 0): { median: number; min: number; max: number } {
  const r = (x: number): number => Number(x.toFixed(digits));
  return { median: r(median(xs)), min: r(Math.min(...xs)), max: r(Math.max(...xs)) };
}
