/**
 * A group name to its numeric id, for `[general] socket_group`. Asks
 * `getent` rather than reading /etc/group, so groups from LDAP or SSSD (as
 * on cluster sites) resolve too.
 */
import { execa } from 'execa';

import { GroupNotFoundError } from '../core/errors.js';

export { GroupNotFoundError };

export async function groupId(group: string | number): Promise<number> {
  if (typeof group === 'number') return group;
  const found = await execa('getent', ['group', group], { reject: false });
  // getent prints name:password:gid:members and exits 2 for an unknown group.
  const gid = found.exitCode === 0 ? Number(String(found.stdout).split(':')[2]) : NaN;
  if (!Number.isInteger(gid)) {
    throw new GroupNotFoundError(
      `group "${group}" is not known on this host (getent group ${group}: ${found.exitCode === 2 ? 'no such group' : found.stderr || found.message}); ` +
        'set [general] socket_group to an existing group name or a numeric gid',
    );
  }
  return gid;
}
