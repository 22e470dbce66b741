/**
 * The container and the manifests (Dockerfile, deploy/): parsed (test/yaml-subset.ts), and held to each other and
 * to the code: every flag they pass to `chatterbox ranges serve` is one its --help lists, the ports they probe and
 * publish are the ones the node listens on, the data dir is the mounted volume, the probes ask /readyz and /healthz,
 * the headless Service's port name makes the SRV name `--join` looks up, and nothing runs as root. Building the
 * image needs a Docker daemon: test/process/docker-image.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineServeCommand } from '../src/cli/ranges-command.js';
import { opsEndpointOf } from '../src/runtime/ops-http.js';
import { parseYamlSubset, type YamlValue } from './yaml-subset.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(`${ROOT}${path}`, 'utf8');

type Map_ = { readonly [key: string]: YamlValue };

function map(value: YamlValue | undefined, what: string): Map_ {
  assert.ok(value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value), `${what}: expected a mapping`);
  return value;
}

function list(value: YamlValue | undefined, what: string): YamlValue[] {
  assert.ok(Array.isArray(value), `${what}: expected a sequence`);
  return value;
}

function str(value: YamlValue | undefined, what: string): string {
  assert.equal(typeof value, 'string', `${what}: expected a scalar`);
  return value as string;
}

/** `--name=value` and `--name value` flags of an argument list after `ranges serve`, by name. */
function flagsOf(args: readonly string[]): Map<string, string> {
  assert.deepEqual(args.slice(0, 2), ['ranges', 'serve'], 'the container runs `chatterbox ranges serve`');
  const flags = new Map<string, string>();
  for (let i = 2; i < args.length; i++) {
    const arg = args[i]!;
    assert.match(arg, /^--[a-z-]+/, `an argument that is not a long flag: ${arg}`);
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    else flags.set(arg, args[++i] ?? '');
  }
  return flags;
}

/** The long flags `chatterbox ranges serve --help` lists. */
function serveHelpFlags(): Set<string> {
  return new Set([...defineServeCommand().helpInformation().matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
}

function checkFlagsAgainstHelp(flags: Map<string, string>, where: string): void {
  const known = serveHelpFlags();
  for (const flag of flags.keys()) assert.ok(known.has(flag), `${where} passes ${flag}, which \`chatterbox ranges serve --help\` does not list`);
  for (const needed of ['--data-dir', '--api-host', '--api-port', '--port', '--host', '--cluster-id']) assert.ok(flags.has(needed), `${where} does not pass ${needed}`);
  // The API must be reachable from outside the container for probes and clients.
  assert.equal(flags.get('--api-host'), '0.0.0.0', `${where}: the API listens on every interface`);
}

describe('the YAML reader', () => {
  test('reads the subset the manifests use, and refuses what it does not read', () => {
    const value = parseYamlSubset(
      [
        'x-base: &base',
        '  image: app',
        '  env: [A, "b, c", \'it\'\'s\']',
        'svc:',
        '  <<: *base',
        '  image: mine # a comment',
        '  items:',
        '  - name: one',
        '    port: 1',
        '  - two',
        '  empty: {}',
        '  nothing:',
      ].join('\n'),
    );
    assert.deepEqual(value, {
      'x-base': { image: 'app', env: ['A', 'b, c', "it's"] },
      svc: { image: 'mine', items: [{ name: 'one', port: '1' }, 'two'], empty: {}, nothing: null, env: ['A', 'b, c', "it's"] },
    });
    assert.throws(() => parseYamlSubset('a: 1\na: 2'), /duplicate key/);
    assert.throws(() => parseYamlSubset('a: |\n  text'), /block scalars/);
    assert.throws(() => parseYamlSubset('a:\n\t- b'), /tabs/);
    assert.throws(() => parseYamlSubset('a: 1\n---\nb: 2'), /one document/);
    assert.throws(() => parseYamlSubset('a: *nowhere'), /unknown alias/);
    assert.throws(() => parseYamlSubset('a:\n    b: 1\n  c: 2'), /indentation/);
  });
});

describe('deploy/compose.yaml', () => {
  const compose = map(parseYamlSubset(read('deploy/compose.yaml')), 'compose file');
  const services = map(compose['services'], 'services');
  const volumes = map(compose['volumes'], 'volumes');

  test('three key-range nodes: node1 starts the cluster, node2 and node3 join it once it is ready', () => {
    assert.deepEqual(Object.keys(services).sort(), ['node1', 'node2', 'node3']);
    for (const [name, raw] of Object.entries(services)) {
      const service = map(raw, name);
      const flags = flagsOf(list(service['command'], `${name}.command`).map((a) => str(a, `${name}.command`)));
      checkFlagsAgainstHelp(flags, `compose ${name}`);
      assert.equal(flags.get('--join'), 'node1:7100', `${name} joins through node1's peer port`);
      assert.equal(flags.get('--advertise'), `${name}:${flags.get('--port')}`, `${name} advertises its own service name and peer port`);
      assert.equal(flags.get('--cluster-id'), 'chatterbox-compose');
      assert.equal(flags.get('--node-id'), name, 'each node keeps one id, the one its data dir belongs to');
      // Its data dir is a named volume of its own.
      const mounts = list(service['volumes'], `${name}.volumes`).map((v) => str(v, 'volume'));
      assert.deepEqual(mounts, [`${name}-data:${flags.get('--data-dir')}`]);
      assert.ok(Object.hasOwn(volumes, `${name}-data`), `volume ${name}-data is declared`);
      // The API is published on loopback only, from the port the node listens on.
      const ports = list(service['ports'], `${name}.ports`).map((p) => str(p, 'port'));
      assert.equal(ports.length, 1);
      assert.match(ports[0]!, new RegExp(`^127\\.0\\.0\\.1:\\d+:${flags.get('--api-port')}$`));
      // Healthy means ready: the readiness endpoint on the API port.
      const check = list(map(service['healthcheck'], `${name}.healthcheck`)['test'], 'healthcheck.test').map((a) => str(a, 'test')).join(' ');
      assert.ok(check.includes(`http://127.0.0.1:${flags.get('--api-port')}/readyz`), `${name}'s health check asks /readyz on its API port`);
      assert.equal(opsEndpointOf('/readyz'), 'readyz');
      if (name !== 'node1') assert.deepEqual(service['depends_on'], { node1: { condition: 'service_healthy' } });
    }
    const published = Object.values(services).flatMap((s) => list(map(s, 's')['ports'], 'ports').map((p) => str(p, 'p').split(':')[1]));
    assert.equal(new Set(published).size, 3, 'each node on its own host port');
  });
});

describe('deploy/kubernetes', () => {
  const dir = 'deploy/kubernetes/';
  const docs = new Map(readdirSync(`${ROOT}${dir}`).filter((f) => f.endsWith('.yaml')).map((f) => [f, map(parseYamlSubset(read(`${dir}${f}`)), f)]));
  const byKind = (kind: string): Map_[] => [...docs.values()].filter((d) => d['kind'] === kind);

  test('kustomization lists every manifest, Services before the StatefulSet', () => {
    const resources = list(map(docs.get('kustomization.yaml'), 'kustomization')['resources'], 'resources').map((r) => str(r, 'resource'));
    assert.deepEqual([...resources].sort(), [...docs.keys()].filter((f) => f !== 'kustomization.yaml').sort());
    assert.ok(resources.indexOf('statefulset.yaml') > resources.indexOf('service-headless.yaml'));
  });

  test('a StatefulSet of three behind a headless Service that --join finds by SRV; probes on /readyz and /healthz; non-root', () => {
    const [set] = byKind('StatefulSet');
    assert.ok(set !== undefined);
    const spec = map(set['spec'], 'spec');
    assert.equal(spec['replicas'], '3');
    const headless = byKind('Service').find((s) => map(s['spec'], 'spec')['clusterIP'] === 'None');
    assert.ok(headless !== undefined, 'a headless Service');
    const headlessName = str(map(headless['metadata'], 'metadata')['name'], 'name');
    assert.equal(spec['serviceName'], headlessName);
    assert.equal(map(headless['spec'], 'spec')['publishNotReadyAddresses'], 'true', 'seeds are found before they are ready');

    const template = map(spec['template'], 'template');
    const labels = map(map(template['metadata'], 'metadata')['labels'], 'labels');
    for (const service of byKind('Service')) {
      for (const [key, value] of Object.entries(map(map(service['spec'], 'spec')['selector'], 'selector'))) assert.equal(labels[key], value, 'Services select the pods');
    }
    const podSpec = map(template['spec'], 'pod spec');
    assert.equal(map(podSpec['securityContext'], 'securityContext')['runAsNonRoot'], 'true');
    const [container] = list(podSpec['containers'], 'containers').map((c) => map(c, 'container'));
    assert.ok(container !== undefined);
    const args = list(container['args'], 'args').map((a) => str(a, 'arg'));
    const flags = flagsOf(args);
    checkFlagsAgainstHelp(flags, 'the StatefulSet');

    // Ports by name: the peer port is the one whose name is the SRV service `--join` looks up.
    const ports = new Map(list(container['ports'], 'ports').map((p) => [str(map(p, 'port')['name'], 'name'), str(map(p, 'port')['containerPort'], 'containerPort')]));
    assert.equal(ports.get('chatterbox'), flags.get('--port'));
    assert.equal(ports.get('http'), flags.get('--api-port'));
    const headlessPort = map(list(map(headless['spec'], 'spec')['ports'], 'ports')[0], 'port');
    assert.equal(headlessPort['name'], 'chatterbox', 'SRV records are _chatterbox._tcp.<service>');
    assert.equal(flags.get('--join'), `${headlessName}.$(POD_NAMESPACE).svc.cluster.local`, '--join names the headless Service (its SRV records)');
    assert.equal(flags.get('--advertise'), `$(POD_IP):${flags.get('--port')}`, "the pod's IP is what peers dial");

    // Every $(VAR) in the arguments comes from the downward API.
    const env = new Map(list(container['env'], 'env').map((e) => [str(map(e, 'env')['name'], 'name'), map(map(map(e, 'env')['valueFrom'], 'valueFrom')['fieldRef'], 'fieldRef')['fieldPath']]));
    assert.equal(env.get('POD_IP'), 'status.podIP');
    // A restarted pod keeps its name and volume but not its IP: its node id must be the name, or its data dir refuses it.
    assert.equal(flags.get('--node-id'), '$(POD_NAME)');
    assert.equal(env.get('POD_NAME'), 'metadata.name');
    for (const m of args.join(' ').matchAll(/\$\(([A-Z_]+)\)/g)) assert.ok(env.has(m[1]!), `$(${m[1]}) is defined`);

    const probe = (name: string): { path: string; port: string } => {
      const get = map(map(container[name], name)['httpGet'], `${name}.httpGet`);
      return { path: str(get['path'], 'path'), port: str(get['port'], 'port') };
    };
    assert.deepEqual(probe('readinessProbe'), { path: '/readyz', port: 'http' });
    assert.deepEqual(probe('livenessProbe'), { path: '/healthz', port: 'http' });
    assert.equal(map(container['securityContext'], 'securityContext')['allowPrivilegeEscalation'], 'false');
    assert.ok(map(map(container['resources'], 'resources')['requests'], 'requests')['memory'] !== undefined);

    // The data dir is the claimed volume.
    const mounts = list(container['volumeMounts'], 'volumeMounts').map((m) => map(m, 'mount'));
    const claims = list(spec['volumeClaimTemplates'], 'volumeClaimTemplates').map((c) => str(map(map(c, 'claim')['metadata'], 'metadata')['name'], 'name'));
    const dataMount = mounts.find((m) => m['mountPath'] === flags.get('--data-dir'));
    assert.ok(dataMount !== undefined && claims.includes(str(dataMount['name'], 'name')), 'the data dir is a persistent volume claim');

    // Clients reach the API through a Service of their own.
    const api = byKind('Service').find((s) => s !== headless);
    assert.ok(api !== undefined);
    assert.equal(map(list(map(api['spec'], 'spec')['ports'], 'ports')[0], 'port')['targetPort'], 'http');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  test('multi-stage, production dependencies only, non-root, a volume for /data, a health check on /healthz', () => {
    assert.ok(instructions.filter((l) => l.startsWith('FROM ')).length >= 2, 'multi-stage');
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /npm run build/);
    const last = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.doesNotMatch(last, /g\+\+|build-essential|npm ci\b/, 'no toolchain and no install in the image that runs');
    assert.match(last, /^USER node$/m);
    assert.match(last, /^VOLUME \/data$/m);
    assert.match(last, /^HEALTHCHECK [\s\S]*http:\/\/127\.0\.0\.1:7000\/healthz/m);
    assert.match(last, /^ENTRYPOINT \["chatterbox"\]$/m);
    const exposed = (/^EXPOSE (.*)$/m.exec(last)?.[1] ?? '').split(/\s+/);
    assert.deepEqual(exposed.sort(), ['7000', '7100'], 'the API and peer ports the manifests use');
    // What the build copies exists, and .dockerignore keeps none of it out.
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of m[1]!.split(/\s+/)) {
        assert.ok(readdirSync(ROOT).includes(source.split('/')[0]!), `COPY ${source} exists`);
        assert.ok(!ignored.includes(source.split('/')[0]!), `COPY ${source} is not in .dockerignore`);
      }
    }
  });
});
