// A tap reporter for CI: prints the raw TAP stream on stdout, as
// `--reporter=tap` does, and also copies it to the file named by $CI_TAP_FILE
// for .ci/tap-summary.mjs to count. (tap's own --output-file cannot be used
// here: combined with the raw `tap` reporter it prints every line twice.)
//
// Usage: CI_TAP_FILE=out.tap TAP_REPORTER="$PWD/.ci/tap-tee-reporter.mjs" npm test
// tap instantiates the default export with no arguments and pipes TAP into it.
import { closeSync, openSync, writeSync } from 'node:fs';
import { Transform } from 'node:stream';

export default class TapTee extends Transform {
  #fd;

  constructor() {
    super();
    const file = process.env.CI_TAP_FILE;
    if (!file) throw new Error('tap-tee-reporter: set CI_TAP_FILE to the file to copy TAP into');
    this.#fd = openSync(file, 'w');
  }

  // Synchronous writes, so that nothing is lost if the runner exits abruptly.
  _transform(chunk, _encoding, callback) {
    writeSync(this.#fd, chunk);
    callback(null, chunk);
  }

  _flush(callback) {
    closeSync(this.#fd);
    callback();
  }
}
