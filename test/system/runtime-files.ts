/**
 * Does the npm tarball hold what the image holds? installed.sh installs the
 * engine from `npm pack` (package.json `files`) instead of building the
 * image, so the two lists must agree: every path the Dockerfile's runtime
 * stage copies is in the tarball, and the tarball holds nothing else but
 * what npm always adds (README, LICENSE). Then a file the image forgets is
 * missing from the installed tree too, and the run there fails.
 *
 *   tar -tzf gpu-telemetry-0.1.0.tgz | node dist/test/system/runtime-files.js Dockerfile
 *
 * Run it from the repository root, built: it looks there to tell folders from
 * files. It prints the mismatches on stderr (as TAP comments) and exits 1 if
 * there are any. On stdout it prints the files the image copies that npm never
 * packs (package-lock.json, .npmrc), which the installer copies beside the
 * package as the Dockerfile does.
 */
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCopy, parseDockerfile } from '../chart/fixtures/dockerfile.js';

/** npm pack leaves these out whatever `files` says. */
const NEVER_PACKED = new Set(['package-lock.json', '.npmrc', '.gitignore', '.npmignore']);
/** npm pack adds these whatever `files` says. */
const ALWAYS_PACKED = /^(package\.json|(README|LICEN[CS]E|COPYING)(\.[^/]*)?)$/i;

export interface RuntimeFiles {
  /** Paths (files or folders) the runtime stage copies that a tarball can hold, relative to its WORKDIR. */
  packed: string[];
  /** Files it copies that npm never packs: the installer copies them beside the package. */
  beside: string[];
  /** COPY lines a tarball cannot mirror (a path moved to another place). */
  problems: string[];
}

const clean = (p: string): string => posix.normalize(p).replace(/^\.\/+/, '').replace(/\/+$/, '');

/**
 * What the last stage of the Dockerfile copies into its WORKDIR, by path
 * relative to it. `isDir` says whether a path of the repository (the build
 * context; a build stage's WORKDIR holds the same tree) is a folder: COPY
 * puts a folder's contents at the destination, a file under a
 * destination ending in `/`.
 */
export function runtimeFiles(dockerfile: string, isDir: (path: string) => boolean): RuntimeFiles {
  const stages = parseDockerfile(dockerfile);
  const workdir = (stage: (typeof stages)[number]): string => stage.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
  const runtime = stages.at(-1);
  if (runtime === undefined) throw new Error('the Dockerfile has no FROM');
  const appRoot = `${workdir(runtime).replace(/\/+$/, '')}/`;
  const out: RuntimeFiles = { packed: [], beside: [], problems: [] };
  for (const ins of runtime.instructions.filter((i) => i.keyword === 'COPY')) {
    const copy = parseCopy(ins.args);
    const fromStage = copy.from === undefined ? undefined : stages.find((s) => s.name === copy.from);
    if (copy.from !== undefined && fromStage === undefined) {
      out.problems.push(`Dockerfile:${ins.line}: COPY --from=${copy.from} names no stage of this file`);
      continue;
    }
    for (const source of copy.sources) {
      let rel = source;
      if (fromStage !== undefined) {
        const root = `${workdir(fromStage).replace(/\/+$/, '')}/`;
        if (!source.startsWith(root)) {
          out.problems.push(`Dockerfile:${ins.line}: COPY --from=${copy.from} ${source} is outside that stage's WORKDIR ${root}`);
          continue;
        }
        rel = source.slice(root.length);
      }
      rel = clean(rel);
      // An absolute destination under WORKDIR is the same as a relative one.
      const dest = copy.dest.startsWith(appRoot) ? copy.dest.slice(appRoot.length) || '.' : copy.dest;
      const target = clean(!isDir(rel) && (dest.endsWith('/') || copy.sources.length > 1) ? posix.join(dest, posix.basename(rel)) : dest);
      if (rel === '' || rel === '.') {
        out.problems.push(`Dockerfile:${ins.line}: COPY ${ins.args} copies a whole folder; list what the runtime needs`);
      } else if (target !== rel) {
        out.problems.push(`Dockerfile:${ins.line}: COPY ${ins.args} puts ${rel} at ${target}; the tarball keeps the repository's paths`);
      } else if (NEVER_PACKED.has(rel)) {
        out.beside.push(rel);
      } else {
        out.packed.push(rel);
      }
    }
  }
  return out;
}

/** Mismatches between the image's runtime paths and the tarball's files (`package/…`, as tar lists them). */
export function compare(image: RuntimeFiles, tarEntries: readonly string[]): string[] {
  const files = tarEntries.map((e) => e.replace(/^package\//, '')).filter((f) => f !== '' && !f.endsWith('/'));
  const under = (file: string, path: string): boolean => file === path || file.startsWith(`${path}/`);
  const problems = [...image.problems];
  for (const path of image.packed) {
    if (!files.some((f) => under(f, path))) problems.push(`the image copies ${path}; the tarball has no ${path} (add it to package.json "files")`);
  }
  for (const file of files) {
    if (ALWAYS_PACKED.test(file)) continue;
    if (!image.packed.some((p) => under(file, p))) problems.push(`the tarball holds ${file}; the image's runtime stage copies no such path`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dockerfile = process.argv[2];
  if (dockerfile === undefined) {
    process.stderr.write('usage: tar -tzf PACKAGE.tgz | node dist/test/system/runtime-files.js Dockerfile\n');
    process.exit(2);
  }
  // The build context is the working directory: the repository root, built.
  const image = runtimeFiles(readFileSync(dockerfile, 'utf8'), (path) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true);
  const problems = compare(image, readFileSync(0, 'utf8').split('\n'));
  for (const p of problems) process.stderr.write(`# ${p}\n`);
  process.stderr.write(`# the image's runtime stage copies: ${[...image.packed, ...image.beside].join(', ')}\n`);
  for (const f of image.beside) process.stdout.write(`${f}\n`);
  process.exit(problems.length === 0 ? 0 : 1);
}
