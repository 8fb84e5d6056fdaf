/** A job's metadata as a step sees it: only the service's declared columns may be set. */
import { JobStateError } from './errors.js';
import type { Metadata } from './service.js';

/** `metadata` refusing a key not in `declared` (the columns read from the row, or declared by the service). */
export function declaredColumnsOnly<M extends Metadata>(job: string, metadata: M, declared: object): M {
  return new Proxy(metadata, {
    set(target, key, value) {
      if (typeof key !== 'string' || !(key in declared)) {
        throw new JobStateError(job, `metadata has no column "${String(key)}"; declare it in the service's columns`);
      }
      (target as Metadata)[key] = value as Metadata[string];
      return true;
    },
  });
}
