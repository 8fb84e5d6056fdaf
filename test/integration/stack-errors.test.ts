/**
 * Bad set-up gets a message naming what is wrong and how to fix it: no
 * temporal binary, MySQL refusing the password or unreachable, a port taken
 * by something else.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { stackSettings } from '../../scripts/stack/settings.js';
import { findTemporalCli, startTemporal } from '../../scripts/stack/temporal.js';
import { startMysql } from '../../scripts/stack/mysql.js';
import { freePort } from '../support/processes.js';

const quiet = () => undefined;
let impostor: net.Server;
let impostorPort: number;

before(async () => {
  // Something that is neither MySQL nor Temporal: it greets and hangs up.
  impostor = net.createServer((socket) => {
    socket.on('error', () => undefined); // clients hang up rudely; that is the point
    socket.end('HTTP/1.0 418 I am a teapot\r\n\r\n');
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  impostorPort = (impostor.address() as net.AddressInfo).port;
});
after(async () => {
  await new Promise((resolve) => impostor.close(resolve));
});

test('TEMPORAL_CLI_PATH pointing at nothing usable', async () => {
  const settings = stackSettings({ TEMPORAL_CLI_PATH: '/nonexistent/temporal' });
  await assert.rejects(
    findTemporalCli(settings, quiet),
    /TEMPORAL_CLI_PATH=\/nonexistent\/temporal is not an executable file; point it at the temporal CLI or unset it/,
  );
});

test('MySQL refusing the admin password', async () => {
  const settings = stackSettings({ SALIFLOW_MYSQL_ADMIN_PASSWORD: 'certainly-wrong' });
  await assert.rejects(
    startMysql(settings, quiet),
    /refuses user saliflow_admin \(wrong user or password\)\. Set SALIFLOW_MYSQL_ADMIN_USER and SALIFLOW_MYSQL_ADMIN_PASSWORD/,
  );
});

test('the MySQL port taken by something else', async () => {
  const settings = stackSettings({ SALIFLOW_MYSQL_PORT: String(impostorPort) });
  await assert.rejects(
    startMysql(settings, quiet),
    new RegExp(
      `port ${impostorPort} on 127.0.0.1 is taken by something that does not answer as MySQL .*set SALIFLOW_MYSQL_PORT to a free port`,
    ),
  );
});

test('a remote MySQL that does not answer', async () => {
  const settings = stackSettings({ SALIFLOW_MYSQL_HOST: '127.0.0.2', SALIFLOW_MYSQL_PORT: String(await freePort()) });
  await assert.rejects(
    startMysql(settings, quiet),
    /no MySQL server answers at 127\.0\.0\.2:\d+\. Start it, or fix SALIFLOW_MYSQL_HOST/,
  );
});

test('the Temporal port taken by something else', async () => {
  const settings = stackSettings({ TEMPORAL_ADDRESS: `127.0.0.1:${impostorPort}` });
  await assert.rejects(
    startTemporal(settings, quiet),
    new RegExp(
      `port ${impostorPort} on 127.0.0.1 is taken by something that is not a Temporal server.*set TEMPORAL_ADDRESS`,
    ),
  );
});

test('a malformed TEMPORAL_ADDRESS or port variable', () => {
  assert.throws(
    () => stackSettings({ TEMPORAL_ADDRESS: 'localhost:seven' }),
    /TEMPORAL_ADDRESS=localhost:seven is not host:port/,
  );
  assert.throws(() => stackSettings({ SALIFLOW_MYSQL_PORT: '99999' }), /SALIFLOW_MYSQL_PORT=99999 is not a TCP port/);
});
