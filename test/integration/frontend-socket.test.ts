/**
 * An unmodified saliweb frontend: it inserts the row itself and pings the
 * backend's Unix socket with `INCOMING <name>`; the worker starts the job.
 * Whatever else arrives on the socket costs bounded memory, log and
 * connections.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Client } from '@temporalio/client';
import { execa } from 'execa';
import { defineService, doNothing } from '../../core/index.js';
import { ConfigError } from '../../core/errors.js';
import { listenForFrontends } from '../../worker/frontend-socket.js';
import { createServiceFixture, type ServiceFixture } from '../support/service-fixture.js';
import { temporalClient, withWorker } from '../support/temporal.js';
import { workflowOutcome } from '../support/jobs.js';
import { until } from '../support/until.js';

// Retained memory is what the socket must bound; only a collection tells it from garbage.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const service = defineService({ run: () => doNothing() });

let fixture: ServiceFixture;
before(async () => {
  fixture = await createServiceFixture();
});
after(async () => {
  await fixture.cleanup();
});

function ping(socketPath: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath, () => socket.end(text, () => resolve()));
    socket.on('error', reject);
  });
}

async function connect(socketPath: string): Promise<net.Socket> {
  const socket = net.connect(socketPath);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Writes `chunk` `times` times, waiting whenever the socket's buffer is full. */
async function flood(socket: net.Socket, chunk: Buffer, times: number): Promise<void> {
  for (let i = 0; i < times; i++) if (!socket.write(chunk)) await once(socket, 'drain');
}

/**
 * The kernel's queues at the server end of `socketPath`, from ss: connections
 * it has not accepted yet, bytes its connections have not read yet. What the
 * in-process server has taken in, without a hook in it.
 */
async function serverQueues(socketPath: string): Promise<{ unaccepted: number; unread: number }> {
  const { stdout } = await execa('ss', ['-xaH']);
  const queues = { unaccepted: 0, unread: 0 };
  for (const line of stdout.split('\n')) {
    const [, state, recvQ, , local] = line.trim().split(/\s+/);
    if (local !== socketPath) continue;
    if (state === 'LISTEN') queues.unaccepted += Number(recvQ);
    else queues.unread += Number(recvQ);
  }
  return queues;
}

function retainedBytes(): number {
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** What saliweb's frontend does: directory, row, then the ping. */
async function insertIncomingJob(name: string): Promise<string> {
  const directory = path.join(fixture.root, 'incoming', name);
  await fs.mkdir(directory);
  await fixture.frontendDb.query(
    "INSERT INTO jobs (name, passwd, user, directory, url, submit_time) VALUES (?, 'abcdefghij', 'carol', ?, 'http://x/', UTC_TIMESTAMP())",
    [name, directory],
  );
  return `${fixture.config.general.serviceName}/${name}`;
}

async function waitForStart(client: Client, workflowId: string): Promise<void> {
  await until(
    `the ping to start ${workflowId}`,
    () =>
      client.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          () => true,
          () => undefined,
        ),
    10_000,
  );
}

/** Waits for a condition on what the test has collected so far. */
const collected = (condition: () => boolean, ms: number, what: string) =>
  until(what, async () => (condition() ? true : undefined), ms);

test('INCOMING <name> on the socket starts the job; junk is ignored with a message', async () => {
  await withWorker(fixture, service, async ({ client }) => {
    const messages: string[] = [];
    const socket = await listenForFrontends(fixture.config, fixture.db, client, (message) => messages.push(message));
    try {
      // [general] socket is relative in the fixture's config: it lives next to the config file.
      assert.equal(fixture.config.general.socket, path.join(fixture.root, 'backend.socket'));
      const stat = await fs.stat(fixture.config.general.socket);
      assert.ok(stat.isSocket());
      // The owner and the group may connect, others may not (the default); the ACL adds the web server's user,
      // and widens the mask (the group bits stat shows) to its rwx, while the group's own entry stays rw-.
      assert.equal(stat.mode & 0o707, 0o600, 'owner may connect, others may not (the default)');
      const acl = (await execa('getfacl', ['-c', fixture.config.general.socket])).stdout;
      assert.match(acl, new RegExp(`^user:${fixture.config.general.socketUser}:rwx$`, 'm'));
      assert.match(acl, /^group::rw-$/m);
      assert.match(acl, /^other::---$/m);
      const workflowId = await insertIncomingJob('legacy1');
      await ping(fixture.config.general.socket, 'INCOMING legacy1\n');
      await waitForStart(client, workflowId);
      const outcome = await workflowOutcome(client, workflowId);
      assert.equal(outcome.result, 'COMPLETED', outcome.failure);
      await ping(fixture.config.general.socket, 'DELETE everything\n');
      await ping(fixture.config.general.socket, 'INCOMING no-such-job\n');
      await collected(() => messages.length >= 2, 5000, 'two log messages');
      assert.deepEqual(messages.sort(), [
        'frontend socket: ignoring "DELETE everything" (expected "INCOMING <job name>")',
        'frontend socket: no job no-such-job in the jobs table; ignored',
      ]);
      // A second listener on the same socket is refused, naming who holds it (here: this very process).
      await assert.rejects(
        listenForFrontends(fixture.config, fixture.db, client),
        new RegExp(`the frontend socket \\S+backend\\.socket .* is held by another .*\\(pid ${process.pid}: `),
      );
    } finally {
      await socket.close();
    }
    await assert.rejects(fs.stat(fixture.config.general.socket), { code: 'ENOENT' }, 'close removes the socket file');
  });
});

test(
  '32 MiB of garbage: memory stays bounded, log lines short and few; a ping after it still works',
  { timeout: 120_000 },
  async () => {
    await withWorker(fixture, service, async ({ client }) => {
      const messages: string[] = [];
      const socket = await listenForFrontends(fixture.config, fixture.db, client, (message) => messages.push(message));
      try {
        const socketPath = fixture.config.general.socket;
        const chunk = Buffer.alloc(64 * 1024);

        // One endless line: nothing of it may be held beyond the cap.
        randomFillSync(chunk);
        for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a) chunk[i] = 0x20;
        const endless = await connect(socketPath);
        const before = retainedBytes();
        await flood(endless, chunk, (32 * MiB) / chunk.length);
        await until(
          'the server to read the whole flood',
          async () =>
            endless.writableLength === 0 && (await serverQueues(socketPath)).unread === 0 ? true : undefined,
          {
            lastSeen: async () =>
              JSON.stringify({ unsent: endless.writableLength, ...(await serverQueues(socketPath)) }),
          },
        );
        const grown = retainedBytes() - before;
        assert.ok(grown < 8 * MiB, `the socket holds ${(grown / MiB).toFixed(1)} MiB of a line that never ends`);
        endless.end('\n');
        await once(endless, 'close');

        // Random bytes, newlines included: ~130,000 bad lines, logged once and counted once.
        const noisy = await connect(socketPath);
        for (let i = 0; i < (32 * MiB) / chunk.length; i++) {
          randomFillSync(chunk);
          if (!noisy.write(chunk)) await once(noisy, 'drain');
        }
        noisy.end();
        await once(noisy, 'close');
        await collected(() => messages.length >= 3, 5000, 'the log messages of both connections');

        assert.equal(messages.length, 3, messages.join('\n'));
        for (const message of messages) assert.ok(message.length < 400, `a short log line: ${message.length} chars`);
        assert.match(messages[0]!, /^frontend socket: ignoring a line of 33554432 bytes \(more than 1024\) starting "/);
        assert.match(messages[1]!, /^frontend socket: ignoring /);
        assert.match(messages[2]!, /^frontend socket: ignored \d{4,} more bad line\(s\) on the same connection$/);

        const workflowId = await insertIncomingJob('after-garbage');
        await ping(socketPath, 'INCOMING after-garbage\n');
        await waitForStart(client, workflowId);
        assert.equal((await workflowOutcome(client, workflowId)).result, 'COMPLETED');
      } finally {
        await socket.close();
      }
    });
  },
);

test('socket_mode and socket_group set the mode and group of the socket file; an unknown group is a config error', async () => {
  const groups = (await fs.readFile('/etc/group', 'utf8'))
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 3 && fields[0])
    .map(([name, , gid]) => ({ name: name!, gid: Number(gid) }));
  // Root may give the file any group; anyone else only one they belong to.
  const allowed = process.getuid?.() === 0 ? undefined : new Set(process.getgroups?.());
  const group = groups.find(({ gid }) => gid !== process.getegid?.() && (!allowed || allowed.has(gid)));
  assert.ok(group, 'a group other than the test process own to give the socket');
  const socketPath = path.join(fixture.root, 'grouped.socket');
  // A site that lets the web server in by group: socket_group set, socket_user not, so no ACL.
  const config = (general: Partial<ServiceFixture['config']['general']>) => {
    const byGroup = { ...fixture.config.general, socket: socketPath, ...general };
    delete byGroup.socketUser;
    return { ...fixture.config, general: byGroup };
  };
  const { client, close } = await temporalClient();
  try {
    const socket = await listenForFrontends(config({ socketMode: 0o620, socketGroup: group.name }), fixture.db, client);
    try {
      const stat = await fs.stat(socketPath);
      assert.equal(stat.mode & 0o777, 0o620);
      assert.equal(stat.gid, group.gid);
    } finally {
      await socket.close();
    }
    await assert.rejects(
      listenForFrontends(config({ socketGroup: 'no-such-group-x' }), fixture.db, client),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message.includes(`${fixture.configFile} [general] socket_group`) &&
        error.message.includes('"no-such-group-x" is not known on this host'),
    );
    // The failed start left no listener behind.
    const again = await listenForFrontends(config({}), fixture.db, client);
    await again.close();
  } finally {
    await close();
  }
});

test(
  'connections beyond the cap are closed at once; idle ones are closed after the idle time',
  { timeout: 60_000 },
  async () => {
    const { client, close } = await temporalClient();
    const messages: string[] = [];
    const socket = await listenForFrontends(fixture.config, fixture.db, client, (message) => messages.push(message), {
      idleMs: 1500,
    });
    const clients: net.Socket[] = [];
    try {
      const socketPath = fixture.config.general.socket;
      const closed = new Set<net.Socket>();
      for (let i = 0; i < 64; i++) {
        const connection = await connect(socketPath);
        connection.on('close', () => closed.add(connection));
        clients.push(connection);
      }
      // The server takes them all in before the one too many.
      await until('the server to accept 64 connections', async () =>
        (await serverQueues(socketPath)).unaccepted === 0 ? true : undefined,
      );
      const extra = await connect(socketPath);
      clients.push(extra);
      let extraClosed = false;
      extra.on('close', () => (extraClosed = true));
      await collected(() => extraClosed, 5000, 'the server to close the 65th connection');
      // At once, not after the idle time: the first 64, idle for longer, are all still open.
      assert.equal(closed.size, 0, 'the first 64 stay open');
      assert.deepEqual(messages, ['frontend socket: 64 connections open; closing new ones until some end']);

      // None of them says anything: the server closes them all after the idle time.
      await collected(() => closed.size === 64, 5000, 'the idle connections to be closed');
      await ping(socketPath, 'INCOMING no-such-job\n');
      await collected(() => messages.length === 2, 5000, 'the ping after the idle ones left');
      assert.equal(messages[1], 'frontend socket: no job no-such-job in the jobs table; ignored');
    } finally {
      for (const connection of clients) connection.destroy();
      await socket.close();
      await close();
    }
  },
);

/** A Unix user of the test's own, as `apache` is on a saliweb host; removed by the returned function. */
async function createUnixUser(name: string): Promise<() => Promise<void>> {
  await execa('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  return async () => void (await execa('userdel', [name], { reject: false }));
}

/** What saliweb's frontend does, as `user`: connect, write the ping, close; the exit code says if it connected. */
function pingAs(user: string, socketPath: string, text: string) {
  return execa(
    'runuser',
    [
      '-u',
      user,
      '--',
      'python3',
      '-c',
      'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.sendall(sys.argv[2].encode())\ns.close()',
      socketPath,
      text,
    ],
    { reject: false },
  );
}

test(
  "the web server's user (another Unix user) gets in through saliweb's ACL, and its ping starts the job at once",
  { skip: process.getuid?.() !== 0 && 'needs root to create a user' },
  async () => {
    const web = `sfweb${fixture.config.general.serviceName.slice(-6).toLowerCase()}`;
    const removeUser = await createUnixUser(web);
    // A folder the web server may pass through, as a service's is; the socket itself is 0660 root:root.
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-websock-'));
    await fs.chmod(folder, 0o755);
    const socketPath = path.join(folder, 'backend.socket');
    const withUser = (socketUser: string | undefined) => {
      const general = { ...fixture.config.general, socket: socketPath };
      if (socketUser === undefined) delete general.socketUser;
      else general.socketUser = socketUser;
      return { ...fixture.config, general };
    };
    try {
      await withWorker(fixture, service, async ({ client }) => {
        // Without the ACL the web server's user cannot connect: the check below can fail.
        const closed = await listenForFrontends(withUser(undefined), fixture.db, client);
        try {
          const refused = await pingAs(web, socketPath, 'INCOMING nobody\n');
          assert.notEqual(refused.exitCode, 0, 'the user connected without an ACL');
          assert.match(refused.stderr, /PermissionError|Permission denied/);
        } finally {
          await closed.close();
        }

        const socket = await listenForFrontends(withUser(web), fixture.db, client);
        try {
          const acl = (await execa('getfacl', ['-c', socketPath])).stdout;
          assert.match(acl, new RegExp(`^user:${web}:rwx$`, 'm'));
          const workflowId = await insertIncomingJob('fromweb1');
          const sent = await pingAs(web, socketPath, 'INCOMING fromweb1\n');
          assert.equal(sent.exitCode, 0, sent.stderr);
          // No reconcile runs in this test: only the ping can start the job.
          await waitForStart(client, workflowId);
          const outcome = await workflowOutcome(client, workflowId);
          assert.equal(outcome.result, 'COMPLETED', outcome.failure);
        } finally {
          await socket.close();
        }
      });
    } finally {
      await removeUser();
      await fs.rm(folder, { recursive: true, force: true });
    }
  },
);

test('without setfacl the socket is refused, naming the acl package; a file that is not a socket is never removed', async () => {
  const { client, close } = await temporalClient();
  const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'saliflow-noacl-'));
  const socketPath = path.join(folder, 'backend.socket');
  const config = { ...fixture.config, general: { ...fixture.config.general, socket: socketPath } };
  // A PATH with getent but no setfacl: a host without the acl package.
  const bin = path.join(folder, 'bin');
  await fs.mkdir(bin);
  const getent = (await execa('sh', ['-c', 'command -v getent'])).stdout.trim();
  await fs.symlink(getent, path.join(bin, 'getent'));
  const savedPath = process.env.PATH;
  try {
    process.env.PATH = bin;
    await assert.rejects(
      listenForFrontends(config, fixture.db, client),
      (error: Error) =>
        error.message.includes(`cannot give the web server's user ${fixture.config.general.socketUser} `) &&
        error.message.includes('setfacl is not installed; install the acl package'),
    );
    process.env.PATH = savedPath;
    // Refused with nothing left listening: the same socket binds once setfacl is there.
    const socket = await listenForFrontends(config, fixture.db, client);
    await socket.close();

    await fs.writeFile(socketPath, 'not a socket');
    await assert.rejects(
      listenForFrontends(config, fixture.db, client),
      /holds a file that is not a socket; it is not removed/,
    );
    assert.equal(await fs.readFile(socketPath, 'utf8'), 'not a socket');
  } finally {
    process.env.PATH = savedPath;
    await fs.rm(folder, { recursive: true, force: true });
    await close();
  }
});
