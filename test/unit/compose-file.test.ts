/**
 * docker-compose.yml describes the deployment test/production/ runs on (no
 * Docker engine here, so it is compared, not run): the same Temporal server
 * and UI versions, PostgreSQL, the same config template fed the same
 * variables per service, mutual TLS with the system worker's certificate,
 * the server-only TLS frontend, the namespace and search attributes, and
 * saliflow workers on two hosts configured as the tests configure them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, SEARCH_ATTRIBUTES } from '../../scripts/stack/settings.js';
import {
  DATABASES,
  NAMESPACE,
  NAMESPACE_RETENTION_DAYS,
  POSTGRES_MAJOR,
  productionSettings,
  saliflowTemporalEnv,
  SERVER_NAME,
  serverEnvironment,
  SERVICES,
  SQL_PLUGIN,
  temporalServiceOf,
  TEMPORAL_SERVER_VERSION,
  UI_SERVER_VERSION,
} from '../../scripts/production/settings.js';

interface ComposeService {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
}

const compose = parse(fs.readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;
const settings = productionSettings({});
const service = (name: string): ComposeService => {
  const found = services[name];
  assert.ok(found, `docker-compose.yml has no service ${name}`);
  return found;
};
const env = (name: string) => service(name).environment ?? {};
const version = (v: string) => v.replace(/^v/, '');

/** Set per container by its entrypoint (its own address), not in `environment`. */
const PER_CONTAINER = ['BIND_ON_IP', 'BROADCAST_ADDRESS'];
/** Where the scripts and compose differ by nature: hosts, ports, file locations. */
const PLACES = /(_SEEDS|_PORT|_ADDRESS|_ENDPOINT|_CERT|_KEY)$/;

test('the same Temporal server, admin tools, UI and PostgreSQL versions as the scripts build and run', () => {
  for (const name of SERVICES)
    assert.equal(service(`temporal-${name}`).image, `temporalio/server:${version(TEMPORAL_SERVER_VERSION)}`);
  assert.equal(service('temporal-schema').image, `temporalio/admin-tools:${version(TEMPORAL_SERVER_VERSION)}`);
  assert.equal(service('temporal-namespace').image, `temporalio/admin-tools:${version(TEMPORAL_SERVER_VERSION)}`);
  assert.equal(service('temporal-ui').image, `temporalio/ui:${version(UI_SERVER_VERSION)}`);
  assert.equal(service('postgresql').image, `postgres:${POSTGRES_MAJOR}`);
});

test('each server process renders the same template from the same variables, with the same values', () => {
  const template = fs.readFileSync(settings.configTemplate, 'utf8');
  const used = new Set([...template.matchAll(/env "([A-Z0-9_]+)"/g)].map((match) => match[1]!));
  for (const name of SERVICES) {
    const container = service(`temporal-${name}`);
    assert.ok(
      container.volumes?.some((volume) => volume.startsWith('./scripts/production/temporal-server.yaml:')),
      `${name} mounts scripts/production/temporal-server.yaml`,
    );
    assert.ok(container.entrypoint?.join(' ').includes('--config-file /etc/saliflow/temporal-server.yaml'));
    assert.deepEqual(container.command, [temporalServiceOf(name)]);
    const ours = serverEnvironment(settings, name);
    const theirs = { ...env(`temporal-${name}`), ...Object.fromEntries(PER_CONTAINER.map((key) => [key, '(set)'])) };
    assert.deepEqual(Object.keys(theirs).sort(), Object.keys(ours).sort(), `${name}: the same variables`);
    for (const key of used) assert.ok(key in ours, `the template reads ${key}, which the scripts do not set`);
    for (const [key, value] of Object.entries(ours)) {
      if (PER_CONTAINER.includes(key)) continue;
      if (/_(CERT|KEY)$/.test(key)) assert.equal(path.basename(theirs[key]!), path.basename(value), `${name} ${key}`);
      else if (!PLACES.test(key)) assert.equal(theirs[key], value, `${name} ${key}`);
    }
  }
  const [mtls, tls] = [env('temporal-frontend'), env('temporal-frontend-tls')];
  assert.equal(mtls.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH, 'true');
  assert.equal(tls.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH, 'false');
  assert.notEqual(mtls.FRONTEND_GRPC_PORT, tls.FRONTEND_GRPC_PORT);
  assert.deepEqual(service('temporal-frontend').ports, [`${mtls.FRONTEND_GRPC_PORT}:${mtls.FRONTEND_GRPC_PORT}`]);
  assert.deepEqual(service('temporal-frontend-tls').ports, [`${tls.FRONTEND_GRPC_PORT}:${tls.FRONTEND_GRPC_PORT}`]);
  assert.equal(mtls.PUBLIC_FRONTEND_ADDRESS, `temporal-frontend:${mtls.FRONTEND_GRPC_PORT}`);
  assert.equal(env('postgresql').POSTGRES_USER, mtls.POSTGRES_USER);
  assert.equal(env('postgresql').POSTGRES_PASSWORD, mtls.POSTGRES_PWD);
});

test('schemas with the same plugin and databases; the namespace and search attributes the scripts register', () => {
  const schema = env('temporal-schema');
  assert.equal(schema.SQL_PLUGIN, SQL_PLUGIN);
  assert.equal(schema.SQL_USER, settings.postgres.user);
  assert.deepEqual(
    schema.DATABASES!.split(' ').sort(),
    Object.entries(DATABASES)
      .map(([name, database]) => `${database}:${name}`)
      .sort(),
  );
  const namespace = env('temporal-namespace');
  assert.equal(namespace.TEMPORAL_NAMESPACE, NAMESPACE);
  assert.equal(namespace.NAMESPACE_RETENTION, `${NAMESPACE_RETENTION_DAYS}d`);
  assert.deepEqual(namespace.SEARCH_ATTRIBUTES!.split(' '), [...SEARCH_ATTRIBUTES]);
  for (const client of [namespace, env('temporal-ui')]) {
    assert.equal(client.TEMPORAL_ADDRESS, `temporal-frontend:${env('temporal-frontend').FRONTEND_GRPC_PORT}`);
    assert.equal(client.TEMPORAL_TLS_SERVER_NAME, SERVER_NAME);
    assert.equal(path.basename(client.TEMPORAL_TLS_CA!), path.basename(settings.certs.ca));
    assert.equal(path.basename(client.TEMPORAL_TLS_CERT!), path.basename(settings.certs.clientCert));
    assert.equal(path.basename(client.TEMPORAL_TLS_KEY!), path.basename(settings.certs.clientKey));
  }
  assert.equal(env('temporal-ui').TEMPORAL_DEFAULT_NAMESPACE, NAMESPACE);
});

test("the workers: two hosts, saliflow's [temporal] settings as the tests' mutual TLS, one job folder", () => {
  const workers = Object.keys(services).filter((name) =>
    service(name).command?.join(' ').includes('saliflow.js worker'),
  );
  assert.ok(workers.length >= 2, `two or more saliflow workers (found ${workers.join(', ')})`);
  const hosts = workers.map((name) => env(name).SALIFLOW_HOST_ID);
  assert.equal(new Set(hosts).size, workers.length, `each worker its own SALIFLOW_HOST_ID (${hosts.join(', ')})`);
  const sockets = workers.map((name) => env(name).SALIFLOW_SOCKET ?? 'the config’s');
  assert.equal(new Set(sockets).size, workers.length, 'each worker host its own frontend socket');
  const expected = saliflowTemporalEnv(settings, 'mtls');
  for (const name of workers) {
    const worker = env(name);
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'SALIFLOW_WEB_UI') continue;
      if (key === 'TEMPORAL_ADDRESS') {
        assert.equal(worker[key], `temporal-frontend:${env('temporal-frontend').FRONTEND_GRPC_PORT}`);
      } else if (key.endsWith('_PATH')) assert.equal(path.basename(worker[key] ?? ''), path.basename(value), key);
      else assert.equal(worker[key], value, `${name} ${key}`);
    }
    assert.ok(service(name).volumes?.includes('job-data:/app/.state/modfoo'), `${name} mounts the shared job folder`);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, worker.SALIFLOW_CONFIG!.replace(/^\/app\//, ''))));
  }
});
