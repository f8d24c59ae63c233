import { expect } from 'chai';
import { HarnessError } from '../harness/errors.js';

/** Awaits a promise that must reject with a HarnessError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<HarnessError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(HarnessError);
    return e as HarnessError;
  }
  throw new Error('expected a rejection');
}
