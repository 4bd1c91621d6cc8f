/** Errors of the control plane that the CLI maps to exit codes. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
  constructor(readonly problems: string[]) {
    super(`cannot change the kernel here: ${problems.join('; ')}`);
  }
}

/** The input names something that does not exist (an interface, a topology, a network): exit 2. */
export class InputError extends Error {
  override name = 'InputError';
}

/** The topology changed between reading it and applying (another vnf-ctl): the same command again works. */
export class ConcurrentChangeError extends InputError {
  override name = 'ConcurrentChangeError';
}

/** The record of a topology does not describe what the kernel runs (an apply is under way, or did not finish). */
export class RecordMismatchError extends InputError {
  override name = 'RecordMismatchError';
}
