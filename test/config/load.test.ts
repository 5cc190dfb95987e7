import os from 'node:os';
import t from 'tap';
import { SETTINGS, type SettingName } from '../../src/config/defaults.js';
import { ConfigError, flagFor, helpText, load, parseDurationMs } from '../../src/config/load.js';

const names = Object.keys(SETTINGS) as SettingName[];

t.test('load({}, []) returns the documented defaults', async (t) => {
  t.strictSame(load({}, []), {
    instanceId: os.hostname(),
    logLevel: 'info',
    csvFile: '',
    streamIntervalMs: 0,
    queueBufferSize: 262_144,
    storageType: 'inmemory',
    streamers: 1,
    collectors: 1,
    loop: true,
    timestampMode: 'processed',
    retentionMs: 3_600_000,
    maxSamplesPerSeries: 36_000,
    apiPort: 8080,
    apiHost: '0.0.0.0',
    adminToken: '',
  });
  t.strictSame(load(), load({}, []), 'both arguments default to empty');
});

t.test('every default in SETTINGS passes its own validation', async (t) => {
  const env = Object.fromEntries(names.map((n) => [SETTINGS[n].env, SETTINGS[n].default]));
  t.strictSame(load(env, []), load({}, []));
});

t.test('environment variables override the defaults', async (t) => {
  const c = load(
    {
      INSTANCE_ID: 'node-7',
      LOG_LEVEL: 'debug',
      CSV_FILE: '/data/dcgm.csv',
      STREAM_INTERVAL: '250',
      QUEUE_BUFFER_SIZE: '4096',
      STORAGE_TYPE: 'inmemory',
      STREAMERS: '4',
      COLLECTORS: '3',
      LOOP: 'false',
      TIMESTAMP_MODE: 'source',
      RETENTION: '15m',
      MAX_SAMPLES_PER_SERIES: '1024',
      API_PORT: '9090',
      API_HOST: '127.0.0.1',
      ADMIN_TOKEN: 'sixteen-chars-ok',
    },
    [],
  );
  t.strictSame(c, {
    instanceId: 'node-7',
    logLevel: 'debug',
    csvFile: '/data/dcgm.csv',
    streamIntervalMs: 250,
    queueBufferSize: 4096,
    storageType: 'inmemory',
    streamers: 4,
    collectors: 3,
    loop: false,
    timestampMode: 'source',
    retentionMs: 900_000,
    maxSamplesPerSeries: 1024,
    apiPort: 9090,
    apiHost: '127.0.0.1',
    adminToken: 'sixteen-chars-ok',
  });
});

t.test('environment variables that are not settings are ignored', async (t) => {
  t.strictSame(load({ PATH: '/usr/bin', HOME: '/root', streamers: '99' }, []), load({}, []));
});

t.test('a flag overrides the environment, as --flag value and as --flag=value', async (t) => {
  t.equal(load({ STREAMERS: '5' }, ['--streamers', '3']).streamers, 3);
  t.equal(load({ STREAMERS: '5' }, ['--streamers=3']).streamers, 3);
  t.equal(load({ STREAMERS: '5' }, []).streamers, 5);
  t.equal(load({}, ['--queue-buffer-size', '8192']).queueBufferSize, 8192);
  t.equal(load({}, ['--max-samples-per-series=2048']).maxSamplesPerSeries, 2048);
  t.equal(load({ API_PORT: '1' }, ['--api-port', '443']).apiPort, 443);
});

t.test('--flag=value keeps everything after the first =', async (t) => {
  t.equal(load({}, ['--csv-file=/tmp/a=b.csv']).csvFile, '/tmp/a=b.csv');
});

t.test('the last of two equal flags wins', async (t) => {
  t.equal(load({}, ['--collectors', '2', '--collectors=7']).collectors, 7);
});

t.test('every setting has a --kebab-case flag that load accepts', async (t) => {
  const good: Record<SettingName, string> = {
    instanceId: 'flagged',
    logLevel: 'warn',
    csvFile: 'x.csv',
    streamIntervalMs: '5',
    queueBufferSize: '65536',
    storageType: 'inmemory',
    streamers: '2',
    collectors: '2',
    loop: 'false',
    timestampMode: 'source',
    retention: '2h',
    maxSamplesPerSeries: '4096',
    apiPort: '3000',
    apiHost: '::1',
    adminToken: 'a-flag-token-0123456789',
  };
  t.equal(flagFor('queueBufferSize'), '--queue-buffer-size');
  t.equal(flagFor('streamIntervalMs'), '--stream-interval');
  for (const n of names) {
    t.match(flagFor(n), /^--[a-z]+(-[a-z]+)*$/, `${n} flag is kebab-case`);
    const env = { [SETTINGS[n].env]: SETTINGS[n].default };
    t.not(load(env, [flagFor(n), good[n]]), undefined, `${flagFor(n)} is accepted`);
  }
  const c = load({}, names.flatMap((n) => [flagFor(n), good[n]]));
  t.equal(c.instanceId, 'flagged');
  t.equal(c.retentionMs, 7_200_000);
  t.equal(c.loop, false);
});

t.test('--once sets loop to false, even when LOOP=true', async (t) => {
  t.equal(load({}, ['--once']).loop, false);
  t.equal(load({ LOOP: 'true' }, ['--once']).loop, false);
  t.equal(load({}, []).loop, true);
});

t.test('LOOP accepts true and false in any case', async (t) => {
  t.equal(load({ LOOP: 'TRUE' }, []).loop, true);
  t.equal(load({ LOOP: 'False' }, []).loop, false);
});

t.test('the run command and --help are accepted anywhere among the flags', async (t) => {
  t.equal(load({}, ['run']).streamers, 1);
  t.equal(load({}, ['run', '--streamers', '2', '--once']).streamers, 2);
  t.equal(load({}, ['--streamers', '2', 'run']).streamers, 2);
  t.strictSame(load({}, ['--help']), load({}, []));
  t.strictSame(load({}, ['-h']), load({}, []));
});

t.test('an unknown flag or argument is a ConfigError that names it', async (t) => {
  t.throws(() => load({}, ['--nope', '1']), /unknown argument "--nope"/);
  t.throws(() => load({}, ['--streamers=2', '--frobnicate=yes']), /unknown argument "--frobnicate=yes"/);
  t.throws(() => load({}, ['start']), /unknown argument "start"/);
  t.throws(() => load({}, ['--STREAMERS', '2']), /unknown argument "--STREAMERS"/);
  t.throws(() => load({}, ['--nope']), ConfigError);
});

t.test('a flag without a value is a ConfigError that names the flag', async (t) => {
  t.throws(() => load({}, ['--streamers']), /--streamers needs a value/);
  t.throws(() => load({}, ['--once', '--api-port']), /--api-port needs a value/);
  t.throws(() => load({}, ['--csv-file']), ConfigError);
});

t.test('a flag followed by another flag is a flag without a value', async (t) => {
  // BUG (src/config/load.ts parseArgs): `argv[++i]` takes the next flag as the value,
  // so `--csv-file --once` streams a file named "--once" in a loop instead of failing.
  t.throws(() => load({}, ['--csv-file', '--once']), /--csv-file needs a value/);
  t.throws(() => load({}, ['--streamers', '--collectors', '2']), /--streamers needs a value/);
});

t.test('--flag= with an empty value counts as the empty string', async (t) => {
  t.equal(load({ CSV_FILE: 'a.csv' }, ['--csv-file=']).csvFile, '');
  t.throws(() => load({}, ['--streamers=']), /STREAMERS must be an integer from 1 to 10, got ""/);
});

t.test('STREAMERS and COLLECTORS must be integers from 1 to 10', async (t) => {
  for (const name of ['STREAMERS', 'COLLECTORS']) {
    for (const bad of ['0', '11', 'abc', '', ' ', '2.5', '-1']) {
      t.throws(
        () => load({ [name]: bad }, []),
        { name: 'ConfigError', message: `${name} must be an integer from 1 to 10, got "${bad}"` },
        `${name}=${JSON.stringify(bad)}`,
      );
    }
    t.equal(load({ [name]: '1' }, [])[name === 'STREAMERS' ? 'streamers' : 'collectors'], 1);
    t.equal(load({ [name]: '10' }, [])[name === 'STREAMERS' ? 'streamers' : 'collectors'], 10);
  }
  t.throws(() => load({}, ['--streamers', '11']), /STREAMERS must be an integer from 1 to 10, got "11"/);
  t.throws(() => load({}, ['--collectors=0']), /COLLECTORS must be an integer from 1 to 10, got "0"/);
});

t.test('QUEUE_BUFFER_SIZE must be a power of two from 4096', async (t) => {
  t.throws(() => load({ QUEUE_BUFFER_SIZE: '5000' }, []), /QUEUE_BUFFER_SIZE must be a power of two, got "5000"/);
  t.throws(() => load({ QUEUE_BUFFER_SIZE: '12288' }, []), /QUEUE_BUFFER_SIZE must be a power of two, got "12288"/);
  t.throws(() => load({ QUEUE_BUFFER_SIZE: '2048' }, []), /QUEUE_BUFFER_SIZE must be an integer from 4096 to \d+, got "2048"/);
  t.throws(() => load({ QUEUE_BUFFER_SIZE: '0' }, []), /QUEUE_BUFFER_SIZE must be an integer from 4096 .*got "0"/);
  t.throws(() => load({ QUEUE_BUFFER_SIZE: 'big' }, []), /QUEUE_BUFFER_SIZE must be an integer .*got "big"/);
  t.throws(() => load({ QUEUE_BUFFER_SIZE: String(2 ** 27) }, []), /QUEUE_BUFFER_SIZE must be an integer .*got "134217728"/);
  t.throws(() => load({}, ['--queue-buffer-size=6000']), ConfigError);
  t.equal(load({ QUEUE_BUFFER_SIZE: '4096' }, []).queueBufferSize, 4096);
  t.equal(load({ QUEUE_BUFFER_SIZE: String(2 ** 26) }, []).queueBufferSize, 2 ** 26);
});

t.test('LOOP must be true or false', async (t) => {
  t.throws(() => load({ LOOP: 'maybe' }, []), { name: 'ConfigError', message: 'LOOP must be true or false, got "maybe"' });
  t.throws(() => load({ LOOP: '1' }, []), /LOOP must be true or false, got "1"/);
  t.throws(() => load({}, ['--loop', 'yes']), /LOOP must be true or false, got "yes"/);
});

t.test('TIMESTAMP_MODE must be processed or source', async (t) => {
  t.throws(() => load({ TIMESTAMP_MODE: 'x' }, []), {
    name: 'ConfigError',
    message: 'TIMESTAMP_MODE must be one of processed, source, got "x"',
  });
  t.throws(() => load({ TIMESTAMP_MODE: 'Source' }, []), /TIMESTAMP_MODE must be one of processed, source, got "Source"/);
  t.equal(load({ TIMESTAMP_MODE: 'source' }, []).timestampMode, 'source');
});

t.test('RETENTION takes a number with ms, s, m, h or d', async (t) => {
  const cases: Array<[string, number]> = [
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1s', 1000],
    ['1000ms', 1000],
    ['1.5h', 5_400_000],
  ];
  for (const [text, ms] of cases) t.equal(load({ RETENTION: text }, []).retentionMs, ms, text);
  t.equal(load({}, ['--retention', '2d']).retentionMs, 172_800_000);
  t.equal(parseDurationMs('X', '30s'), 30_000);
});

t.test('RETENTION under 1s is rejected with the setting and the value', async (t) => {
  t.throws(() => load({ RETENTION: '500ms' }, []), { name: 'ConfigError', message: 'RETENTION must be at least 1s, got "500ms"' });
  t.throws(() => load({ RETENTION: '0s' }, []), /RETENTION must be at least 1s, got "0s"/);
  t.throws(() => load({ RETENTION: '999ms' }, []), /RETENTION must be at least 1s, got "999ms"/);
  t.throws(() => load({ RETENTION: '0.5s' }, []), /RETENTION must be at least 1s, got "0.5s"/);
});

t.test('RETENTION without a known unit is rejected with the setting and the value', async (t) => {
  for (const bad of ['1x', '90', 'h', '', '-5m', '1 h', '1H', 'forever']) {
    t.throws(
      () => load({ RETENTION: bad }, []),
      { name: 'ConfigError', message: `RETENTION must be a duration such as 90s, 15m, 1h or 7d, got "${bad}"` },
      `RETENTION=${JSON.stringify(bad)}`,
    );
  }
});

t.test('MAX_SAMPLES_PER_SERIES must be at least 1024', async (t) => {
  t.throws(
    () => load({ MAX_SAMPLES_PER_SERIES: '1023' }, []),
    /MAX_SAMPLES_PER_SERIES must be an integer from 1024 to \d+, got "1023"/,
  );
  t.throws(() => load({ MAX_SAMPLES_PER_SERIES: '0' }, []), /MAX_SAMPLES_PER_SERIES must be .*got "0"/);
  t.throws(() => load({ MAX_SAMPLES_PER_SERIES: 'lots' }, []), /MAX_SAMPLES_PER_SERIES must be .*got "lots"/);
  t.equal(load({ MAX_SAMPLES_PER_SERIES: '1024' }, []).maxSamplesPerSeries, 1024);
});

t.test('API_PORT must be from 0 (a free port) to 65535', async (t) => {
  t.throws(() => load({ API_PORT: '-1' }, []), { name: 'ConfigError', message: 'API_PORT must be an integer from 0 to 65535, got "-1"' });
  t.throws(() => load({ API_PORT: '65536' }, []), /API_PORT must be an integer from 0 to 65535, got "65536"/);
  t.throws(() => load({ API_PORT: 'http' }, []), /API_PORT must be an integer from 0 to 65535, got "http"/);
  t.equal(load({ API_PORT: '0' }, []).apiPort, 0);
  t.equal(load({ API_PORT: '1' }, []).apiPort, 1);
  t.equal(load({ API_PORT: '65535' }, []).apiPort, 65535);
});

t.test('API_HOST must be an IPv4 or IPv6 address', async (t) => {
  for (const good of ['0.0.0.0', '127.0.0.1', '::', '::1', '10.1.2.3']) t.equal(load({ API_HOST: good }, []).apiHost, good);
  for (const bad of ['localhost', '', '256.0.0.1', '0.0.0.0:8080', 'http://x']) {
    t.throws(
      () => load({ API_HOST: bad }, []),
      { name: 'ConfigError', message: `API_HOST must be an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1 or ::, got "${bad}"` },
      JSON.stringify(bad),
    );
  }
});

t.test('ADMIN_TOKEN is unset, or at least 16 visible ASCII characters, and is never echoed', async (t) => {
  t.equal(load({ ADMIN_TOKEN: '' }, []).adminToken, '');
  t.equal(load({ ADMIN_TOKEN: 'x'.repeat(16) }, []).adminToken, 'x'.repeat(16));
  t.equal(load({}, ['--admin-token', 'from-the-flag-0123']).adminToken, 'from-the-flag-0123');
  for (const bad of ['short-secret', 'has a space in it ok', 'tab\there-0123456789', 'ünïcödé-0123456789']) {
    let message = '';
    try {
      load({ ADMIN_TOKEN: bad }, []);
    } catch (err) {
      t.type(err, ConfigError);
      message = (err as Error).message;
    }
    t.match(message, /^ADMIN_TOKEN must be at least 16 visible ASCII characters without spaces; the value set \(\d+ characters, not shown\) is not$/, JSON.stringify(bad));
    t.notMatch(message, bad, 'the secret is not in the message');
  }
});

t.test('STREAM_INTERVAL must be an integer number of ms from 0', async (t) => {
  t.throws(() => load({ STREAM_INTERVAL: '-1' }, []), /STREAM_INTERVAL must be an integer from 0 to \d+, got "-1"/);
  t.throws(() => load({ STREAM_INTERVAL: '10ms' }, []), /STREAM_INTERVAL must be an integer .*got "10ms"/);
});

t.test('LOG_LEVEL must be a pino level', async (t) => {
  t.throws(() => load({ LOG_LEVEL: 'verbose' }, []), {
    name: 'ConfigError',
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, got "verbose"',
  });
  t.throws(() => load({ LOG_LEVEL: 'INFO' }, []), /LOG_LEVEL must be one of .*got "INFO"/);
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) t.equal(load({ LOG_LEVEL: level }, []).logLevel, level);
});

t.test('STORAGE_TYPE other than inmemory is rejected', async (t) => {
  t.throws(() => load({ STORAGE_TYPE: 'postgres' }, []), {
    name: 'ConfigError',
    message: 'STORAGE_TYPE must be one of inmemory, got "postgres"',
  });
  t.throws(() => load({}, ['--storage-type=disk']), /STORAGE_TYPE must be one of inmemory, got "disk"/);
});

t.test('a bad flag value is reported even when the environment value is good', async (t) => {
  t.throws(() => load({ API_PORT: '8080' }, ['--api-port', '70000']), /API_PORT must be an integer from 0 to 65535, got "70000"/);
});

t.test('INSTANCE_ID defaults to the host name and can be overridden', async (t) => {
  t.equal(load({}, []).instanceId, os.hostname());
  t.equal(load({ INSTANCE_ID: '' }, []).instanceId, os.hostname());
  t.equal(load({ INSTANCE_ID: 'edge-1' }, []).instanceId, 'edge-1');
  t.equal(load({}, ['--instance-id', 'edge-2']).instanceId, 'edge-2');
});

t.test('the result is frozen', async (t) => {
  const c = load({}, []);
  t.ok(Object.isFrozen(c));
  t.throws(() => {
    (c as { streamers: number }).streamers = 9;
  }, TypeError);
  t.equal(c.streamers, 1);
});

t.test('SETTINGS is frozen', async (t) => {
  t.ok(Object.isFrozen(SETTINGS));
});

t.test('helpText lists every environment variable and flag with its default', async (t) => {
  const text = helpText();
  t.match(text, /^usage: gpu-telemetry \[run\]/);
  t.match(text, /--once/);
  const lines = text.split('\n');
  for (const n of names) {
    const s = SETTINGS[n];
    const line = lines.find((l) => l.trimStart().startsWith(`${s.env} / ${flagFor(n)} `));
    if (line === undefined) {
      t.fail(`helpText has no line for ${s.env}`);
      continue;
    }
    t.ok(line.includes(s.help), `${s.env} line carries its help`);
    if (s.default !== '') t.ok(line.includes(`(default ${s.default})`), `${s.env} line shows default ${s.default}`);
    else t.match(line, /\(default: /, `${s.env} line explains its computed default`);
  }
});

t.test('integer settings take plain decimal digits only', async (t) => {
  for (const text of ['0x5', '1e1', ' 3 ', '3.0', '']) {
    t.throws(() => load({ STREAMERS: text }), /STREAMERS must be an integer from 1 to 10/, JSON.stringify(text));
  }
  t.equal(load({ STREAMERS: '7' }).streamers, 7);
});
