import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as errors from '../../core/errors.js';

type ErrorClass = new (...args: unknown[]) => Error;
const errorClasses = new Map<string, ErrorClass>();
for (const value of Object.values(errors) as unknown[]) {
  if (typeof value === 'function' && value.prototype instanceof Error)
    errorClasses.set(value.name, value as ErrorClass);
}

test('every name in NON_RETRYABLE_ERRORS is an exported error class of core/errors.ts', () => {
  assert.ok(errors.NON_RETRYABLE_ERRORS.length > 0);
  for (const name of errors.NON_RETRYABLE_ERRORS) {
    assert.ok(errorClasses.has(name), `${name} is not an error class exported by core/errors.ts`);
  }
});

test('each error class reports its own class name as the failure type Temporal shows', () => {
  // Temporal's failure converter uses the instance's `name`; a class whose `name` field differs from
  // the class name would be retried despite being listed.
  for (const [className, errorClass] of errorClasses) {
    // The names are instance fields, so build one with placeholder arguments every constructor accepts.
    const instance = new errorClass([], {}, 'x', 'x');
    assert.equal(instance.name, className, `new ${className}().name is ${instance.name}`);
  }
});
