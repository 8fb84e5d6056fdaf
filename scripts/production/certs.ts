/**
 * The cluster's certificates, made once with openssl: a private CA, the
 * frontend's server certificate (for SERVER_NAME and 127.0.0.1) and one
 * client certificate that saliflow's processes and the server's own system
 * worker present for mutual TLS. Kept under the state folder; delete
 * `certs/` to make new ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { StackError } from '../../core/errors.js';
import { SERVER_NAME, type CertificatePaths } from './settings.js';

type Log = (message: string) => void;

const DAYS = '3650';

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await execa('openssl', args, { cwd, reject: false });
  if (result.exitCode !== 0) {
    throw new StackError(`openssl ${args[0]} failed (is openssl installed?): ${result.stderr.trim().split('\n')[0]}`);
  }
}

/** A key and a certificate signed by the CA, with the given extensions. */
async function signed(certs: CertificatePaths, name: string, subject: string, extensions: string): Promise<void> {
  const { dir, ca, caKey } = certs;
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, extensions);
  await openssl(['genrsa', '-out', `${name}.key`, '2048'], dir);
  await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      DAYS,
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
  fs.rmSync(path.join(dir, `${name}.csr`));
  fs.rmSync(extFile);
}

export async function ensureCertificates(certs: CertificatePaths, log: Log): Promise<'made' | 'reused'> {
  const { dir, ca, serverCert, serverKey, clientCert, clientKey } = certs;
  if ([ca, serverCert, serverKey, clientCert, clientKey].every((file) => fs.existsSync(file))) return 'reused';
  log(`making a private CA and the TLS certificates in ${dir}…`);
  // The folder may be a mount point (docker-compose.yml's certs volume): empty it, keep it.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const file of fs.readdirSync(dir)) fs.rmSync(path.join(dir, file), { recursive: true, force: true });
  await openssl(['genrsa', '-out', 'ca.key', '2048'], dir);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      DAYS,
      '-subj',
      '/O=saliflow/CN=saliflow private CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  await signed(
    certs,
    'server',
    `/O=saliflow/CN=${SERVER_NAME}`,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:${SERVER_NAME},DNS:localhost,IP:127.0.0.1\n`,
  );
  await signed(
    certs,
    'client',
    '/O=saliflow/CN=saliflow worker',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  return 'made';
}
