/**
 * saliweb's daemon, once it has bound its socket, runs
 * `setfacl -m u:apache:rwx <socket>` so the web server's user may connect,
 * and refuses to start if that fails: a frontend swallows its connect error,
 * so a socket it cannot reach would only show as every job waiting for the
 * next reconcile. saliflow does the same for `[general] socket_user`
 * (`apache` by default) with `setfacl` from the `acl` package.
 */
import { execa } from 'execa';
import { StartupError } from '../core/errors.js';
import type { ServiceConfig } from '../core/config/index.js';

/** Where the user came from, for the operator: the key they set, or saliweb's default. */
function userSource(config: ServiceConfig): string {
  const set = config.sections.findSection('general')?.values.get('socket_user') !== undefined;
  return set
    ? `[general] socket_user in ${config.configFile}`
    : `saliweb's default; [general] socket_user in ${config.configFile}`;
}

function refusal(config: ServiceConfig, user: string, why: string, fix: string): StartupError {
  const socket = config.general.socket;
  return new StartupError(
    `cannot give the web server's user ${user} (${userSource(config)}) access to the frontend socket ${socket}: ${why}; ` +
      `${fix}, or set [general] socket_user to the user your web server runs as, or let it in by group instead ` +
      '(socket_group: <its group>, with socket_mode) and leave socket_user unset (or socket_user: none)',
  );
}

/** Grants `config.general.socketUser` rwx on the socket by an ACL; nothing to do when there is none. */
export async function grantSocketUser(config: ServiceConfig): Promise<void> {
  const user = config.general.socketUser;
  if (user === undefined) return;
  const socket = config.general.socket;
  if (!/^\d+$/.test(user)) {
    // getent, not /etc/passwd: users from LDAP or SSSD count too. It exits 2 for an unknown user.
    const known = await execa('getent', ['passwd', user], { reject: false });
    if (known.exitCode === 2) {
      throw refusal(config, user, `no user ${user} on this host (getent passwd ${user})`, `create the user`);
    }
  }
  const result = await execa('setfacl', ['-m', `u:${user}:rwx`, socket], { reject: false });
  if ((result as { code?: string }).code === 'ENOENT' || result.exitCode === 127) {
    throw refusal(
      config,
      user,
      'setfacl is not installed',
      'install the acl package (apt-get install acl, dnf install acl)',
    );
  }
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr).trim();
    const unsupported = /not supported/i.test(stderr);
    throw refusal(
      config,
      user,
      `setfacl -m u:${user}:rwx ${socket} failed: ${stderr || result.message}`,
      unsupported
        ? `its file system does not support ACLs: put the socket on one that does (mount with acl)`
        : `fix what setfacl says`,
    );
  }
}
