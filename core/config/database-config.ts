/**
 * `[database]`: saliweb keeps the MySQL users and passwords out of the
 * service config, in one INI file per role (`[backend_db]`,
 * `[frontend_db]`), because the frontend's user has fewer rights.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeFsError, parseIni } from './ini.js';
import { envParsed, envString } from './env.js';
import { PORT_EXPECTED, parsePort, SectionReader } from './section-reader.js';

export interface DbCredentials {
  user: string;
  passwd: string;
}

/** saliweb's (MySQLdb's) default with no host in `[database]`: the local server's Unix socket (grants `@'localhost'`). */
export const DEFAULT_MYSQL_SOCKET = '/var/lib/mysql/mysql.sock';

export interface DatabaseConfig {
  db: string;
  /**
   * Unix socket; when set, clients use it instead of host and port.
   * @defaultValue `/var/lib/mysql/mysql.sock` when neither host, port nor socket is given (file or environment)
   */
  socket?: string;
  /** @defaultValue `127.0.0.1` */
  host: string;
  /** @defaultValue 3306 */
  port: number;
  backend: DbCredentials;
  frontend: DbCredentials;
}

export function readDatabaseConfig(section: SectionReader, configDir: string, env: NodeJS.ProcessEnv): DatabaseConfig {
  const db = section.required('db', '<database name>');
  const backend = readCredentials(section, 'backend', configDir);
  const frontend = readCredentials(section, 'frontend', configDir);

  const envHost = envString(env, 'SALIFLOW_MYSQL_HOST');
  const envPort = envParsed(env, 'SALIFLOW_MYSQL_PORT', parsePort, { section, key: 'port', expected: PORT_EXPECTED });
  // A host or port from the environment means "connect over TCP there", so
  // the file's socket (which clients prefer) must not silently win.
  const fileSocket = envHost !== undefined || envPort !== undefined ? undefined : section.optional('socket');
  // Like every path in the file, a relative socket is relative to the file's folder.
  const socket = envString(env, 'SALIFLOW_MYSQL_SOCKET') ?? (fileSocket && resolve(configDir, fileSocket));
  const host = envHost ?? section.optional('host');
  const port = envPort ?? section.port('port');
  // saliweb: with no host (nor socket) in [database], the frontend and backend connect through the local
  // server's Unix socket, /var/lib/mysql/mysql.sock; a host or port asks for TCP.
  const tcp = host !== undefined || port !== undefined;
  const chosenSocket = socket ?? (tcp ? undefined : DEFAULT_MYSQL_SOCKET);

  return {
    db,
    ...(chosenSocket !== undefined ? { socket: chosenSocket } : {}),
    host: host ?? '127.0.0.1',
    port: port ?? 3306,
    backend,
    frontend,
  };
}

function readCredentials(section: SectionReader, role: 'backend' | 'frontend', configDir: string): DbCredentials {
  const key = `${role}_config`;
  const path = resolve(configDir, section.required(key, `${role}.conf`));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw section.error(key, `cannot read the credential file ${path}: ${describeFsError(error)}`);
  }
  const credentials = SectionReader.of(parseIni(text, path), `${role}_db`);
  return {
    user: credentials.required('user', '<MySQL user>'),
    passwd: credentials.required('passwd', '<MySQL password>'),
  };
}
