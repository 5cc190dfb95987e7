/**
 * The Helm chart, checked offline (Helm itself cannot be installed here):
 * Chart.yaml and values.yaml parse; values.yaml is documented and validates
 * against values.schema.json, which rejects bad values; every `.Values` path
 * a template reads exists; the templates render (fixtures/go-template.ts,
 * Go template semantics for what the chart uses) to manifests that pass
 * kubernetes-models' validation and a TypeScript excess-property check; and
 * the environment they give the container is accepted by the engine's own
 * config loader.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import AjvModule from 'ajv';
import { isMap as isYamlMap, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';
import { SETTINGS, type SettingName } from '../../src/config/defaults.js';
import { load } from '../../src/config/load.js';
import { CHART_DIR, REPO, TEMPLATES_DIR, chartYaml, defaultValues, mergeValues, render, templateFiles, type Manifest, type Values } from './fixtures/chart.js';
import { TemplateSet } from './fixtures/go-template.js';
import { typeCheckManifests, validateManifest } from './fixtures/k8s-types.js';

// ajv is CommonJS with the class as `default` too: the form TypeScript types under NodeNext.
const Ajv = AjvModule.default;
const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
const validateValues = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** The schema's verdict on values.yaml with `override` merged in. */
function schemaErrors(override: Values): string[] {
  const ok = validateValues(mergeValues(defaultValues(), override));
  return ok ? [] : (validateValues.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  volumes: ({ name: string } & Record<string, unknown>)[];
  securityContext: Record<string, unknown>;
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  terminationGracePeriodSeconds: number;
}
interface Deployment extends Manifest {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
  };
}
interface Service extends Manifest {
  spec: { type: string; ports: { name: string; port: number; targetPort: string }[]; selector: Record<string, string> };
}
interface Secret extends Manifest {
  data: Record<string, string>;
}
interface ServiceMonitor extends Manifest {
  spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; honorLabels?: boolean }[] };
}

function container(r: ReturnType<typeof render>): Container {
  return r.one<Deployment>('Deployment').spec.template.spec.containers[0]!;
}

/**
 * The container's environment as the engine would see it: plain values, and
 * secretKeyRefs resolved against the rendered Secrets or `existing`.
 */
function containerEnv(r: ReturnType<typeof render>, existing: Record<string, Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container(r).env) {
    if (v.value !== undefined) {
      env[v.name] = v.value;
      continue;
    }
    const ref = v.valueFrom?.secretKeyRef;
    if (!ref) throw new Error(`env ${v.name} has neither value nor secretKeyRef`);
    const rendered = r.byKind('Secret').find((s) => s.metadata.name === ref.name) as Secret | undefined;
    const data = rendered ? Object.fromEntries(Object.entries(rendered.data).map(([k, b]) => [k, Buffer.from(b, 'base64').toString()])) : existing[ref.name];
    const value = data?.[ref.key];
    if (value === undefined) throw new Error(`env ${v.name}: no key ${ref.key} in Secret ${ref.name}`);
    env[v.name] = value;
  }
  return env;
}

/** The checks every rendered install must pass. */
function checkManifests(t: Test, r: ReturnType<typeof render>): void {
  for (const m of r.manifests) {
    t.doesNotThrow(() => validateManifest(m), `${m.kind} ${m.metadata.name} passes kubernetes-models validation`);
    t.match(m.metadata.name, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, `${m.kind} name is a DNS label`);
  }
  t.strictSame(typeCheckManifests(r.manifests, REPO), [], 'every manifest type-checks against its model (no unknown fields)');
}

const ALL_SETTINGS: Values = {
  streamers: 4,
  collectors: 3,
  config: {
    instanceId: 'rack-7',
    logLevel: 'debug',
    csvFile: '/data/dcgm/export.csv',
    streamInterval: 250,
    queueBufferSize: 67_108_864,
    storageType: 'inmemory',
    loop: false,
    timestampMode: 'source',
    retention: '15m',
    maxSamplesPerSeries: 100_000_000,
    apiPort: 9090,
    apiHost: '::',
  },
  adminToken: { value: 'an-admin-token-of-32-characters!' },
};

t.test('Chart.yaml and values.yaml parse, and the chart is a v2 application chart', async (t) => {
  const chart = chartYaml();
  t.equal(chart.apiVersion, 'v2');
  t.equal(chart.name, 'gpu-telemetry');
  t.equal(chart.type, 'application');
  t.match(chart.version, /^\d+\.\d+\.\d+$/, 'version is SemVer');
  t.equal(typeof chart.appVersion, 'string', 'appVersion is a string (the default image tag)');
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  t.equal(chart.appVersion, pkg.version, 'appVersion follows package.json, so the default tag is the one make docker-build tags');
  const values = defaultValues();
  t.equal(values.mode, 'single');
  t.same(values.roles, { streamer: {}, collector: {}, queue: {} }, 'role sections are reserved, empty');
});

t.test('values.yaml validates against values.schema.json', async (t) => {
  t.strictSame(schemaErrors({}), [], 'no schema errors');
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#', 'draft-07, which every Helm 3 validates');
});

t.test('the schema rejects bad values', async (t) => {
  const bad: [string, Values][] = [
    ['streamers 0', { streamers: 0 }],
    ['streamers 11', { streamers: 11 }],
    ['streamers 2.5', { streamers: 2.5 }],
    ['streamers "3"', { streamers: '3' }],
    ['collectors 0', { collectors: 0 }],
    ['collectors 11', { collectors: 11 }],
    ['a negative stream interval', { config: { streamInterval: -1 } }],
    ['a stream interval over an hour', { config: { streamInterval: 3_600_001 } }],
    ['an unknown log level', { config: { logLevel: 'verbose' } }],
    ['a queue buffer that is not a power of two', { config: { queueBufferSize: 5000 } }],
    ['a queue buffer under 4096', { config: { queueBufferSize: 2048 } }],
    ['a queue buffer over 64 MiB', { config: { queueBufferSize: 134_217_728 } }],
    ['an unknown store', { config: { storageType: 'redis' } }],
    ['loop as a string', { config: { loop: 'yes' } }],
    ['an unknown timestamp mode', { config: { timestampMode: 'now' } }],
    ['a retention without a unit', { config: { retention: '3600' } }],
    ['a retention in words', { config: { retention: '1 hour' } }],
    ['too few samples per series', { config: { maxSamplesPerSeries: 1000 } }],
    ['API port 0 (probes need a fixed port)', { config: { apiPort: 0 } }],
    ['API port 70000', { config: { apiPort: 70_000 } }],
    ['a loopback API host (probes could not reach it)', { config: { apiHost: '127.0.0.1' } }],
    ['an unknown config key', { config: { streamIntervalMs: 5 } }],
    ['a misspelt top-level key', { streamer: 2 }],
    ['a mode that does not exist yet', { mode: 'roles' }],
    ['settings in a reserved role section', { roles: { streamer: { replicas: 3 } } }],
    ['a short admin token', { adminToken: { value: 'too-short' } }],
    ['an admin token with a space', { adminToken: { value: 'sixteen chars and more' } }],
    ['both an existing Secret and a token value', { adminToken: { existingSecret: 'mine', value: 'a-token-of-enough-length' } }],
    ['an unknown CSV source', { csv: { source: 'http' } }],
    ['source volume without a volume', { csv: { source: 'volume' } }],
    ['an absolute CSV file name', { csv: { fileName: '/etc/passwd' } }],
    ['a relative mount path', { csv: { mountPath: 'data' } }],
    ['an unknown Service type', { service: { type: 'Ingress' } }],
    ['a grace period shorter than the drain', { terminationGracePeriodSeconds: 5 }],
    ['a scrape interval without a unit', { metrics: { serviceMonitor: { interval: '30' } } }],
    ['an unknown probe field', { livenessProbe: { intialDelaySeconds: 5 } }],
    ['a non-string pod annotation', { podAnnotations: { 'example.com/n': 1 } }],
  ];
  for (const [what, override] of bad) t.not(schemaErrors(override).length, 0, `rejects ${what}`);

  const good: [string, Values][] = [
    ['streamers and collectors 1 and 10', { streamers: 1, collectors: 10 }],
    ['streamers 10', { streamers: 10 }],
    ['every setting set', ALL_SETTINGS],
    ['an existing Secret', { adminToken: { existingSecret: 'gpu-telemetry-admin', secretKey: 'token' } }],
    ['a ConfigMap source', { csv: { source: 'configMap' } }],
    ['a PVC source', { csv: { source: 'volume', volume: { persistentVolumeClaim: { claimName: 'dcgm' } } } }],
    ['a ServiceMonitor', { metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } } }],
  ];
  for (const [what, override] of good) t.strictSame(schemaErrors(override), [], `accepts ${what}`);
});

t.test('every value in values.yaml is documented with a # -- comment', async (t) => {
  const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));
  const undocumented: string[] = [];
  // A key is documented by a `# --` comment just above it, or above an ancestor.
  const walk = (map: YAMLMap, path: string, covered: boolean): void => {
    map.items.forEach((pair: Pair, i) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      const above = `${isScalar(pair.key) ? (pair.key.commentBefore ?? '') : ''}${i === 0 ? (map.commentBefore ?? '') : ''}`;
      const documented = covered || /^\s*--\s/m.test(above);
      const full = path ? `${path}.${key}` : key;
      if (isYamlMap(pair.value) && pair.value.items.length > 0) walk(pair.value, full, documented);
      else if (!documented) undocumented.push(full);
    });
  };
  walk(doc.contents as YAMLMap, '', false);
  t.strictSame(undocumented, [], 'each leaf has # -- on itself or a parent');
});

t.test('the schema describes exactly the keys of values.yaml', async (t) => {
  // Where the schema lists properties, values.yaml must have each of them
  // (so every setting has a documented default) and no other.
  const mismatches: string[] = [];
  const walk = (s: Record<string, unknown>, v: unknown, path: string): void => {
    const resolved = typeof s.$ref === 'string' ? ((schema.definitions as Record<string, unknown>)[s.$ref.split('/').pop()!] as Record<string, unknown>) : s;
    const props = resolved.properties as Record<string, Record<string, unknown>> | undefined;
    if (!props || typeof v !== 'object' || v === null) return;
    const keys = Object.keys(v);
    for (const k of Object.keys(props)) if (k !== 'global' && !keys.includes(k)) mismatches.push(`schema has ${path}${k}, values.yaml does not`);
    for (const k of keys) {
      if (!(k in props)) mismatches.push(`values.yaml has ${path}${k}, the schema does not`);
      else walk(props[k]!, (v as Record<string, unknown>)[k], `${path}${k}.`);
    }
  };
  walk(schema, defaultValues(), '');
  t.strictSame(mismatches, [], 'same keys');
});

t.test('config defaults in values.yaml are the engine defaults, one value per environment variable', async (t) => {
  const values = defaultValues();
  const config = values.config as Record<string, unknown>;
  const camel = (env: string): string => env.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  const mapped = new Set<string>();
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const { env, default: def } = SETTINGS[name];
    let value: unknown;
    if (env === 'STREAMERS' || env === 'COLLECTORS') value = values[camel(env)];
    else if (env === 'ADMIN_TOKEN') value = (values.adminToken as Record<string, unknown>).value;
    else {
      t.ok(camel(env) in config, `config.${camel(env)} sets ${env}`);
      value = config[camel(env)];
      mapped.add(camel(env));
    }
    t.equal(String(value), def, `${env} defaults to ${JSON.stringify(def)} in both`);
  }
  t.strictSame(Object.keys(config).sort(), [...mapped].sort(), 'config holds engine settings only');
});

t.test('every .Values path the templates use exists in values.yaml', async (t) => {
  const values = defaultValues();
  const missing: string[] = [];
  let count = 0;
  for (const file of templateFiles()) {
    const text = readFileSync(join(TEMPLATES_DIR, file), 'utf8');
    for (const m of text.matchAll(/\$?\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
      count++;
      let v: unknown = values;
      for (const key of m[1]!.slice(1).split('.')) {
        v = typeof v === 'object' && v !== null && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
        if (v === undefined) {
          missing.push(`${file}: .Values${m[1]}`);
          break;
        }
      }
    }
  }
  t.ok(count > 40, `found the paths (${count})`);
  t.strictSame(missing, [], 'none missing');
  // The renderer is stricter still: a path read through `with` or a helper
  // that is missing throws while rendering (see the renderer test below).
});

t.test('the default install renders a Deployment, Service and ServiceAccount that pass the Kubernetes models', async (t) => {
  const r = render();
  t.strictSame(r.manifests.map((m) => m.kind).sort(), ['Deployment', 'Service', 'ServiceAccount']);
  checkManifests(t, r);
  t.equal(r.one<Deployment>('Deployment').metadata.name, 'gpu-telemetry', 'release gpu-telemetry: the names are not doubled');
  t.equal(container(r).image, 'gpu-telemetry:0.1.0', 'image tag defaults to appVersion');
});

t.test('the Deployment runs the engine with probes, a hardened security context and a graceful stop', async (t) => {
  const r = render();
  const d = r.one<Deployment>('Deployment');
  const pod = d.spec.template.spec;
  const c = container(r);
  t.equal(d.spec.replicas, 1, 'single mode: one pod, one store');
  t.match(d.spec.template.metadata.labels, d.spec.selector.matchLabels, 'the selector matches the pod');
  t.strictSame(c.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  t.match(c.livenessProbe.httpGet, { path: '/health', port: 'http' });
  t.match(c.readinessProbe.httpGet, { path: '/ready', port: 'http' });
  t.match(pod.securityContext, { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } }, 'the pod runs as non-root 1000 under RuntimeDefault seccomp');
  t.match(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, 'read-only root, no escalation, no capabilities');
  const tmp = pod.volumes.find((v) => v.name === 'tmp');
  t.ok(tmp && 'emptyDir' in tmp, '/tmp is an emptyDir');
  t.ok(c.volumeMounts.some((m) => m.name === 'tmp' && m.mountPath === '/tmp'), 'mounted at /tmp');
  for (const m of c.volumeMounts) t.ok(pod.volumes.some((v) => v.name === m.name), `mount ${m.name} has a volume`);
  t.ok(pod.terminationGracePeriodSeconds > 10, 'the grace period outlasts the 10 s drain');
  t.equal(pod.automountServiceAccountToken, false, 'no API token in the pod');
  t.equal(pod.serviceAccountName, r.one('ServiceAccount').metadata.name, 'the pod runs as the chart\'s ServiceAccount');
  t.match(c.resources, { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '1Gi' } });
  t.match(d.spec.template.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
  t.strictSame(containerEnv(r), {
    LOG_LEVEL: 'info',
    STREAM_INTERVAL: '0',
    QUEUE_BUFFER_SIZE: '262144',
    STORAGE_TYPE: 'inmemory',
    STREAMERS: '1',
    COLLECTORS: '1',
    LOOP: 'true',
    TIMESTAMP_MODE: 'processed',
    RETENTION: '1h',
    MAX_SAMPLES_PER_SERIES: '36000',
    API_PORT: '8080',
    API_HOST: '0.0.0.0',
  }, 'no CSV_FILE: the image default (its baked sample) applies; no ADMIN_TOKEN');
  t.doesNotThrow(() => load(containerEnv(r)), 'the engine accepts that environment');
});

t.test('every engine setting is reachable from values, and the engine accepts what the chart sets', async (t) => {
  const r = render(ALL_SETTINGS);
  checkManifests(t, r);
  const env = containerEnv(r);
  const envNames = (Object.keys(SETTINGS) as SettingName[]).map((n) => SETTINGS[n].env);
  t.strictSame(Object.keys(env).sort(), [...envNames].sort(), 'each setting of src/config/defaults.ts is set');
  t.strictSame(load(env), {
    instanceId: 'rack-7',
    logLevel: 'debug',
    csvFile: '/data/dcgm/export.csv',
    streamIntervalMs: 250,
    queueBufferSize: 67_108_864,
    storageType: 'inmemory',
    streamers: 4,
    collectors: 3,
    loop: false,
    timestampMode: 'source',
    retentionMs: 900_000,
    maxSamplesPerSeries: 100_000_000,
    apiPort: 9090,
    apiHost: '::',
    adminToken: 'an-admin-token-of-32-characters!',
  });
  t.equal(container(r).ports[0]!.containerPort, 9090, 'the container port follows config.apiPort');
  t.equal(r.one<Service>('Service').spec.ports[0]!.targetPort, 'http');
});

t.test('large numbers reach the container as integers, not in exponent form', async (t) => {
  // Helm reads values files through JSON, so numbers are float64, which Go
  // prints as 1e+08 (go-template.test.ts). The templates pipe them through int64.
  const env = containerEnv(render({ config: { maxSamplesPerSeries: 100_000_000, queueBufferSize: 67_108_864 } }));
  t.equal(env.MAX_SAMPLES_PER_SERIES, '100000000');
  t.equal(env.QUEUE_BUFFER_SIZE, '67108864');
  const set = new TemplateSet();
  set.add('x', 'n: {{ .n | quote }}, i: {{ .n | int64 | quote }}');
  t.equal(set.render('x', { n: 100_000_000 }), 'n: "1e+08", i: "100000000"', 'without int64 the engine would get "1e+08"');
  t.throws(() => load({ MAX_SAMPLES_PER_SERIES: '1e+08' }), /MAX_SAMPLES_PER_SERIES must be an integer/, '...and refuse it');
});

t.test('ADMIN_TOKEN comes from a Secret: the chart makes one from a value, or uses an existing one', async (t) => {
  await t.test('from a value', async (t) => {
    const r = render({ adminToken: { value: 'a-token-of-sufficient-length' } });
    checkManifests(t, r);
    const secret = r.one<Secret>('Secret');
    t.equal(secret.metadata.name, 'gpu-telemetry-admin-token');
    t.equal(Buffer.from(secret.data['admin-token']!, 'base64').toString(), 'a-token-of-sufficient-length');
    const ref = container(r).env.find((e) => e.name === 'ADMIN_TOKEN');
    t.strictSame(ref, { name: 'ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'gpu-telemetry-admin-token', key: 'admin-token' } } });
    t.equal(containerEnv(r).ADMIN_TOKEN, 'a-token-of-sufficient-length');
    t.match(r.one<Deployment>('Deployment').spec.template.metadata.annotations?.['checksum/admin-token'], /^[0-9a-f]{64}$/, 'a new token rolls the pod');
    t.notMatch(JSON.stringify(r.one('Deployment')), /a-token-of-sufficient-length/, 'the token is not in the Deployment');
  });
  await t.test('from an existing Secret', async (t) => {
    const r = render({ adminToken: { existingSecret: 'ops-admin', secretKey: 'token' } });
    checkManifests(t, r);
    t.equal(r.byKind('Secret').length, 0, 'the chart makes no Secret');
    t.equal(containerEnv(r, { 'ops-admin': { token: 'the-ops-team-admin-token' } }).ADMIN_TOKEN, 'the-ops-team-admin-token');
  });
  await t.test('none', async (t) => {
    const r = render();
    t.equal(r.byKind('Secret').length, 0, 'no Secret');
    t.notOk(container(r).env.some((e) => e.name === 'ADMIN_TOKEN'), 'admin routes then answer loopback callers only');
  });
});

t.test('the CSV comes from the image, a ConfigMap or an existing volume', async (t) => {
  await t.test('the sample baked into the image', async (t) => {
    const r = render();
    t.notOk('CSV_FILE' in containerEnv(r));
    t.notOk(r.one<Deployment>('Deployment').spec.template.spec.volumes.some((v) => v.name === 'csv-data'));
  });
  await t.test('a ConfigMap made with kubectl create configmap gpu-telemetry-csv-data --from-file=metrics.csv=...', async (t) => {
    const r = render({ csv: { source: 'configMap' } });
    checkManifests(t, r);
    const pod = r.one<Deployment>('Deployment').spec.template.spec;
    t.strictSame(pod.volumes.find((v) => v.name === 'csv-data'), {
      name: 'csv-data',
      configMap: { name: 'gpu-telemetry-csv-data', items: [{ key: 'metrics.csv', path: 'metrics.csv' }] },
    });
    t.strictSame(container(r).volumeMounts.find((m) => m.name === 'csv-data'), { name: 'csv-data', mountPath: '/data', readOnly: true });
    t.equal(containerEnv(r).CSV_FILE, '/data/metrics.csv', 'CSV_FILE is the mounted key');
    t.match(r.notes, /kubectl -n default create configmap gpu-telemetry-csv-data --from-file=metrics\.csv=/, 'NOTES says how to make it');
  });
  await t.test('a PersistentVolumeClaim', async (t) => {
    const r = render({ csv: { source: 'volume', volume: { persistentVolumeClaim: { claimName: 'dcgm', readOnly: true } }, fileName: 'exports/july.csv' } });
    checkManifests(t, r);
    const pod = r.one<Deployment>('Deployment').spec.template.spec;
    t.strictSame(pod.volumes.find((v) => v.name === 'csv-data'), { name: 'csv-data', persistentVolumeClaim: { claimName: 'dcgm', readOnly: true } });
    t.equal(containerEnv(r).CSV_FILE, '/data/exports/july.csv');
  });
  await t.test('config.csvFile wins over the mount', async (t) => {
    const r = render({ csv: { source: 'configMap' }, config: { csvFile: '/data/other.csv' } });
    t.equal(containerEnv(r).CSV_FILE, '/data/other.csv');
  });
});

t.test('the Service, scrape annotations and the optional ServiceMonitor cover /metrics and /metrics/gpus', async (t) => {
  const r = render({ metrics: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } } });
  checkManifests(t, r);
  const d = r.one<Deployment>('Deployment');
  const svc = r.one<Service>('Service');
  t.match(d.spec.template.metadata.labels, svc.spec.selector, 'the Service selects the pod');
  t.ok(container(r).ports.some((p) => p.name === svc.spec.ports[0]!.targetPort), 'its targetPort names a container port');
  t.match(svc.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics/gpus' });
  const sm = r.one<ServiceMonitor>('ServiceMonitor');
  t.match(svc.metadata.labels, sm.spec.selector.matchLabels, 'the ServiceMonitor selects the Service');
  t.match(sm.metadata.labels, { release: 'kube-prometheus-stack' }, 'its extra labels are set');
  t.strictSame(sm.spec.endpoints.map((e) => e.path), ['/metrics', '/metrics/gpus']);
  t.ok(sm.spec.endpoints.every((e) => svc.spec.ports.some((p) => p.name === e.port)), 'its endpoints name a Service port');
  t.equal(sm.spec.endpoints[1]!.honorLabels, true, 'the GPU workload labels of /metrics/gpus are kept');

  const off = render({ metrics: { annotations: { enabled: false } } });
  t.equal(off.one<Deployment>('Deployment').spec.template.metadata.annotations, undefined, 'no scrape annotations when disabled');
  t.equal(off.one<Service>('Service').metadata.annotations, undefined, 'nor on the Service');
  t.equal(off.byKind('ServiceMonitor').length, 0, 'no ServiceMonitor by default');
});

t.test('the optional parts render valid manifests', async (t) => {
  const r = render(
    {
      imagePullSecrets: [{ name: 'regcred' }],
      image: { repository: 'registry.example/gpu-telemetry', tag: '1.2.3' },
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=512' }],
      podAnnotations: { 'example.com/team': 'gpu' },
      podLabels: { team: 'gpu' },
      nodeSelector: { 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'In', values: ['true'] }] }] } } },
      serviceAccount: { create: false, name: 'existing-sa' },
      service: { type: 'NodePort', annotations: { 'example.com/x': 'y' } },
      fullnameOverride: 'telemetry',
    },
    { releaseName: 'prod', namespace: 'gpu' },
  );
  checkManifests(t, r);
  const d = r.one<Deployment>('Deployment');
  t.equal(d.metadata.name, 'telemetry');
  t.equal(container(r).image, 'registry.example/gpu-telemetry:1.2.3');
  t.equal(d.spec.template.spec.serviceAccountName, 'existing-sa');
  t.equal(r.byKind('ServiceAccount').length, 0, 'no ServiceAccount made when create is false');
  t.match(d.spec.template.metadata.labels, { team: 'gpu', 'app.kubernetes.io/instance': 'prod' });
  t.match(d.spec.template.metadata.annotations, { 'example.com/team': 'gpu', 'prometheus.io/path': '/metrics' });
  t.match(container(r).env.at(-1), { name: 'NODE_OPTIONS' }, 'extraEnv comes last');
  t.equal(render({}, { releaseName: 'prod' }).one('Deployment').metadata.name, 'prod-gpu-telemetry', 'release-chart by default');
  const long = render({}, { releaseName: 'a'.repeat(70) }).one('Deployment').metadata.name;
  t.equal(long.length, 63, 'names are cut to 63 characters');
});

t.test('NOTES.txt says how to reach the API', async (t) => {
  const notes = render().notes;
  t.match(notes, /kubectl -n default port-forward service\/gpu-telemetry 8080:8080/, 'port-forward');
  t.match(notes, /http:\/\/127\.0\.0\.1:8080\/docs/, '/docs');
  t.match(notes, /\/api\/v1\/gpus/, 'a first query');
  t.match(notes, /answer loopback callers only/, 'how admin routes answer without a token');
  t.notMatch(notes, /\{\{|\}\}\s*$/m, 'no template left unrendered');
  t.match(render({ adminToken: { value: 'a-token-of-sufficient-length' } }).notes, /get secret gpu-telemetry-admin-token -o jsonpath='\{\.data\.admin-token\}'/, 'and how to read the token when set');
});

t.test('a missing value or a misspelt field fails the checks', async (t) => {
  // The checks above can only fail if they are strict: prove it.
  t.throws(() => render({ config: null }), /\.Values\.config is not set/, 'a values section the templates read is missing');
  const r = render();
  const broken = structuredClone(r.one<Deployment>('Deployment'));
  (broken.spec.template.spec.containers[0]!.env[0] as unknown as Record<string, unknown>).value = 1;
  t.throws(() => validateManifest(broken), /must be string/, 'kubernetes-models rejects an unquoted env value');
  (broken.spec.template.spec.containers[0]!.livenessProbe as unknown as Record<string, unknown>).intialDelaySeconds = 5;
  t.match(typeCheckManifests([broken], REPO).join('\n'), /intialDelaySeconds/, 'the type check names a misspelt field');
});
